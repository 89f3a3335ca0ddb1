/**
 * A sink's conversion report in the inspector (`schema: full` at the source): per table it created, what
 * was created, what was mapped lossy and why, what was left out and why. A table with lossy or left-out
 * items is open and marked, so what did not arrive as it was stands out; the others stay folded.
 *
 * A test run's report is planned (the sink wrote nothing) and says so.
 *
 * Test hooks: conversion-report, report-planned, report-total, report-table (data-table = the target table),
 * report-left-out, report-lossy, report-created.
 */
import type { TableReport } from '../api.js';
import { sinkReport } from '../selectors.js';
import { useEditor } from '../store.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function ConversionReportView({ id }: { id: string }) {
  const report = useEditor((s) => sinkReport(s, id));
  if (!report) return null;
  const { tables, planned } = report;
  const lossy = tables.reduce((n, t) => n + t.lossy.length, 0);
  const leftOut = tables.reduce((n, t) => n + t.leftOut.length, 0);
  return (
    <section className="insp-section" data-testid="conversion-report">
      <h3 className="insp-h">Conversion report</h3>
      {planned && (
        <p className="hint" data-testid="report-planned">
          From the test run: what the copy would create, map lossy and leave out. The target may still refuse a step when the copy runs.
        </p>
      )}
      <p className="small" data-testid="report-total">
        {plural(tables.length, 'table')} {planned ? 'to create' : 'created'} · <span className={lossy > 0 ? 'report-mark lossy' : undefined}>{lossy} lossy</span> ·{' '}
        <span className={leftOut > 0 ? 'report-mark left-out' : undefined}>{leftOut} left out</span>
      </p>
      {tables.map((t) => (
        <TableItem key={t.table} t={t} planned={planned} />
      ))}
    </section>
  );
}

function TableItem({ t, planned }: { t: TableReport; planned: boolean }) {
  const attention = t.lossy.length + t.leftOut.length > 0;
  return (
    <details className={`report-table${attention ? ' attention' : ''}`} data-testid="report-table" data-table={t.table} open={attention}>
      <summary>
        <span className="mono">{t.table}</span>
        {t.source && t.source !== t.table && <span className="muted"> from {t.source}</span>}
        <span className="report-counts">
          {' '}
          {t.created.length} {planned ? 'to create' : 'created'}
          {t.lossy.length > 0 && <span className="report-mark lossy"> · {t.lossy.length} lossy</span>}
          {t.leftOut.length > 0 && <span className="report-mark left-out"> · {t.leftOut.length} left out</span>}
        </span>
      </summary>
      <ul className="report-items">
        {t.leftOut.map((text, i) => (
          <li key={`o${i}`} className="report-left-out" data-testid="report-left-out">
            <b>left out</b> {text}
          </li>
        ))}
        {t.lossy.map((text, i) => (
          <li key={`l${i}`} className="report-lossy" data-testid="report-lossy">
            <b>lossy</b> {text}
          </li>
        ))}
        {t.created.map((text, i) => (
          <li key={`c${i}`} className="report-created" data-testid="report-created">
            {text}
          </li>
        ))}
      </ul>
    </details>
  );
}
