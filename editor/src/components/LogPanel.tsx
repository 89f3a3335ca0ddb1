/** The deployed flow's log, tailed from socket.io `log` events; follows the end unless scrolled up. */
import { useEffect, useRef, useState } from 'react';
import { useEditor } from '../store.js';

const time = (at: string | number) => {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleTimeString('en-GB', { hour12: false });
};

export function LogPanel() {
  const { logs, clearLogs, flowId } = useEditor((s) => ({ logs: s.logs, clearLogs: s.clearLogs, flowId: s.flowId }));
  const [level, setLevel] = useState<'all' | 'warn' | 'error'>('all');
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const shown = level === 'all' ? logs : logs.filter((l) => (level === 'error' ? l.level === 'error' : l.level === 'warn' || l.level === 'error'));

  useEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [shown.length]);

  return (
    <div className="logs" data-testid="log-panel">
      <div className="records-bar">
        <div className="seg">
          {(['all', 'warn', 'error'] as const).map((l) => (
            <button key={l} className={level === l ? 'on' : ''} onClick={() => setLevel(l)}>
              {l === 'all' ? 'All' : l === 'warn' ? 'Warnings' : 'Errors'}
            </button>
          ))}
        </div>
        <button className="btn small ghost" onClick={clearLogs} disabled={logs.length === 0}>
          Clear
        </button>
      </div>
      <div
        className="log-lines"
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.length === 0 && <div className="panel-empty small">{flowId ? 'No log lines yet. Deploy the flow to see what it logs here, live.' : 'Save and deploy the flow to see its log here.'}</div>}
        {shown.map((l) => (
          <div key={l.seq} className={`log-line ${l.level}`} data-testid="log-line">
            <span className="log-time">{time(l.at)}</span>
            <span className="log-level">{l.level}</span>
            <span className="log-msg">{l.message}</span>
          </div>
        ))}
      </div>
    </div>
  );
}
