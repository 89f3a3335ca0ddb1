/**
 * Over the canvas of a deployed flow: it is deployed, which version, where it runs (the agent in
 * cluster mode, from the deployment status), and that the canvas is read-only until you choose to
 * edit: what you then save is a new version, which runs once deployed again.
 */
import { deployedLock } from '../selectors.js';
import { useEditor } from '../store.js';

export function DeployedBanner() {
  const { locked, editing, status, version, agent, edit } = useEditor((s) => ({
    locked: deployedLock(s),
    editing: s.editDeployed && !s.readOnly && ['running', 'paused', 'starting'].includes(s.live?.status ?? ''),
    status: s.live?.status,
    version: s.live?.version,
    agent: s.live?.agent,
    edit: s.editDeployedFlow,
  }));
  if (!locked && !editing) return null;
  const where = agent ? `on agent ${agent}` : 'on this server';
  return (
    <div className="deployed-banner" role="status" data-testid="deployed-banner">
      <span>
        Deployed{version !== undefined ? ` v${version}` : ''}, {status}{' '}
        <b data-testid="runs-on">{where}</b>
        {locked ? ' · read-only' : ' · editing: save, then deploy again to run your changes'}
      </span>
      {locked && (
        <button className="btn small" onClick={edit} data-testid="btn-edit-deployed" title="Unlock the canvas; saving makes a new version, which runs once you deploy it">
          Edit
        </button>
      )}
    </div>
  );
}
