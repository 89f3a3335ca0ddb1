/**
 * Records as a virtualized table (only the rows in view are in the DOM) or as JSON. Columns: op, key,
 * then the value's fields in order of first appearance; an error column when records carry one.
 */
import { useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { SluiceRecord } from '../api.js';

const ROW = 26;
const MAX_COLUMNS = 40;
const OP_LABEL: Record<string, string> = { c: 'create', u: 'update', d: 'delete', r: 'read' };

function cell(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function columnsOf(records: readonly SluiceRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records.slice(0, 300)) {
    const row = r.value ?? r.before;
    if (row && typeof row === 'object') for (const k of Object.keys(row)) if (seen.size < MAX_COLUMNS) seen.add(k);
  }
  return [...seen];
}

function widthOf(col: string, records: readonly SluiceRecord[], get: (r: SluiceRecord) => unknown): number {
  let chars = col.length;
  for (const r of records.slice(0, 100)) chars = Math.max(chars, cell(get(r)).length);
  return Math.min(Math.max(chars * 7 + 18, 56), 280);
}

export function RecordTable({ records, total, label = 'Records' }: { records: readonly SluiceRecord[]; total?: number; label?: string }) {
  const [mode, setMode] = useState<'table' | 'json'>('table');
  const scroller = useRef<HTMLDivElement>(null);
  const hasError = records.some((r) => r.meta?.error);
  const cols = useMemo(() => {
    const fields = columnsOf(records).map((name) => ({ name, get: (r: SluiceRecord) => (r.value ?? r.before ?? {})[name], cls: '' }));
    const all = [
      { name: 'op', get: (r: SluiceRecord) => OP_LABEL[r.op] ?? r.op, cls: 'op' },
      { name: 'key', get: (r: SluiceRecord) => r.key, cls: 'key' },
      ...(hasError ? [{ name: 'error', get: (r: SluiceRecord) => (r.meta?.error as { message?: string } | undefined)?.message, cls: 'err' }] : []),
      ...fields,
    ];
    return all.map((c) => ({ ...c, width: widthOf(c.name, records, c.get) }));
  }, [records, hasError]);
  const template = `44px ${cols.map((c) => `${c.width}px`).join(' ')}`;
  const virtual = useVirtualizer({ count: records.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 12 });

  return (
    <div className="records">
      <div className="records-bar">
        <span className="muted small">
          {records.length.toLocaleString('en-US')} record{records.length === 1 ? '' : 's'}
          {total !== undefined && total > records.length ? ` shown of ${total.toLocaleString('en-US')}` : ''}
        </span>
        <div className="seg">
          <button className={mode === 'table' ? 'on' : ''} onClick={() => setMode('table')} data-testid="view-table">
            Table
          </button>
          <button className={mode === 'json' ? 'on' : ''} onClick={() => setMode('json')} data-testid="view-json">
            JSON
          </button>
        </div>
      </div>
      {mode === 'json' ? (
        <pre className="json records-json" data-testid="preview-json">
          {JSON.stringify(records.slice(0, 200), null, 2)}
          {records.length > 200 ? `\n… ${records.length - 200} more (the table shows them all)` : ''}
        </pre>
      ) : (
        <div className="table-scroll" ref={scroller} data-testid="preview-table" tabIndex={0} role="region" aria-label={label}>
          <div className="t-head" style={{ gridTemplateColumns: template }}>
            <div className="t-cell num">#</div>
            {cols.map((c) => (
              <div key={c.name} className={`t-cell ${c.cls}`} title={c.name}>
                {c.name}
              </div>
            ))}
          </div>
          <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
            {virtual.getVirtualItems().map((v) => {
              const r = records[v.index];
              return (
                <div
                  key={v.key}
                  className={`t-row op-${r.op}${r.meta?.error ? ' has-error' : ''}`}
                  data-testid="preview-row"
                  style={{ gridTemplateColumns: template, transform: `translateY(${v.start}px)`, height: ROW }}
                >
                  <div className="t-cell num">{v.index + 1}</div>
                  {cols.map((c) => {
                    const text = cell(c.get(r));
                    return (
                      <div key={c.name} className={`t-cell ${c.cls}`} title={text.length > 30 ? text : undefined}>
                        {text}
                      </div>
                    );
                  })}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}
