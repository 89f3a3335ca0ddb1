/**
 * Schedule: for a flow deployed with `settings.schedule`, its cron and time zone, the next start times
 * and the newest runs (start, end, state, records written, errors), from GET /api/flows/:id/schedule,
 * refreshed every 2 s. Test hooks: schedule-panel, schedule-next, schedule-runs, schedule-none.
 */
import { useEffect, useState } from 'react';
import type { ScheduleView } from '../api.js';
import { useApi, useEditor } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

const REFRESH_MS = 2000;

export function SchedulePanel() {
  const api = useApi();
  const flowId = useEditor((s) => s.flowId);
  const [view, setView] = useState<ScheduleView | null>(null);
  const [missing, setMissing] = useState<string | null>(null);

  useEffect(() => {
    if (!flowId) return;
    let live = true;
    const load = () =>
      api.schedule(flowId).then(
        (v) => {
          if (!live) return;
          setView(v);
          setMissing(null);
        },
        (e: Error) => {
          if (!live) return;
          setView(null);
          setMissing(e.message);
        },
      );
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, flowId]);

  if (!view) {
    return (
      <p className="muted schedule" data-testid="schedule-none">
        {missing ?? 'Loading…'} A flow whose sources end runs on a schedule once its document has{' '}
        <code>settings.schedule: {'{ cron: "0 * * * *", timezone: "Europe/Paris" }'}</code> and it is deployed.
      </p>
    );
  }
  return (
    <div className="schedule" data-testid="schedule-panel">
      <p>
        <code>{view.cron}</code>
        {view.timezone ? ` in ${view.timezone}` : ''}, each run reading {view.from === 'start' ? 'every source from its beginning' : 'on from where the last ended'}
        {view.paused ? ' · paused' : ''}
        {view.skipped > 0 ? ` · ${view.skipped} due time${view.skipped === 1 ? '' : 's'} skipped while a run was still going` : ''}
      </p>
      <p data-testid="schedule-next">Next: {view.next.length ? view.next.map((t) => fmtTime(t)).join(' · ') : '—'}</p>
      <DataTable
        testId="schedule-runs"
        rows={view.runs}
        rowKey={(r) => r.startedAt}
        hideWhenEmpty
        empty="No run yet."
        emptyClassName="muted"
        columns={[
          { header: 'Started', className: 'nowrap', cell: (r) => fmtTime(r.startedAt) },
          { header: 'Ended', className: 'nowrap', cell: (r) => (r.endedAt ? fmtTime(r.endedAt) : '—') },
          { header: 'State', cell: (r) => r.status, cellProps: (r) => ({ title: r.error }) },
          { header: 'Records written', cell: (r) => r.records.toLocaleString('en-US') },
          { header: 'Errors', cell: (r) => r.errors.toLocaleString('en-US') },
        ]}
      />
    </div>
  );
}
