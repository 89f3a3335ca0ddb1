/** A save refused with 409: someone saved in between. Reload theirs, or save ours on top. */
import { useEditor } from '../store.js';
import { Modal } from './Modal.js';

export function ConflictDialog() {
  const { conflict, base, reload, save, close } = useEditor((s) => ({ conflict: s.conflict, base: s.baseVersion, reload: s.reload, save: s.save, close: s.resolveConflict }));
  if (!conflict) return null;
  return (
    <Modal title="Someone else saved this flow" onClose={close} testId="conflict-dialog">
      <p>
        You started from version {base}, but version {conflict.current ?? 'newer'} has been saved since. Your changes are not saved yet.
      </p>
      <div className="row gap end">
        <button className="btn" onClick={close}>
          Keep editing
        </button>
        <button className="btn" data-testid="btn-conflict-overwrite" onClick={() => void save({ overwrite: true })} title="Save your canvas as the next version, on top of theirs">
          Save mine on top
        </button>
        <button className="btn primary" data-testid="btn-conflict-reload" onClick={() => void reload()}>
          Reload theirs
        </button>
      </div>
    </Modal>
  );
}
