/** One message at a time at the bottom of the screen; successes fade, errors stay until dismissed. */
import { useEffect } from 'react';
import { useEditor } from '../store.js';

export function Notice() {
  const { notice, dismiss } = useEditor((s) => ({ notice: s.notice, dismiss: s.dismissNotice }));
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(dismiss, notice.kind === 'error' ? 12_000 : 4_000);
    return () => clearTimeout(t);
  }, [notice, dismiss]);
  if (!notice) return null;
  return (
    <div className={`notice ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid="notice">
      <div className="notice-text">
        {notice.text}
        {notice.details && notice.details.length > 0 && (
          <ul>
            {notice.details.slice(0, 6).map((d, i) => (
              <li key={i} className="mono">
                {d}
              </li>
            ))}
            {notice.details.length > 6 && <li>… and {notice.details.length - 6} more</li>}
          </ul>
        )}
      </div>
      {notice.action && (
        <button
          className="btn small"
          onClick={() => {
            notice.action!.run();
            dismiss();
          }}
        >
          {notice.action.label}
        </button>
      )}
      <button className="icon-btn" onClick={dismiss} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}
