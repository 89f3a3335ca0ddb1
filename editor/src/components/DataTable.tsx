/**
 * The one table of the editor's pages and panels (Home, Cluster, Users, Audit, Schedule, Dead letters,
 * Positions, Tests): columns (a header and a cell per row), rows, the text shown when there are none,
 * and an optional selection (a checkbox per row and one for all). Rows may carry their own attributes
 * (test hooks, a class, the row index of a virtualized list with `padTop`/`padBottom` spacer rows).
 */
import type { HTMLAttributes, ReactNode, TableHTMLAttributes, TdHTMLAttributes } from 'react';

export interface Column<R> {
  /** the header; a string that should not show (an actions column) goes in `hiddenHeader` */
  header: ReactNode;
  /** the header is for screen readers only */
  hiddenHeader?: boolean;
  cell: (row: R, index: number) => ReactNode;
  /** class of the header and each cell (`right`, `mono`, `nowrap`, `ellipsis`) */
  className?: string;
  /** more attributes of each cell (a title, a test hook, a class beside the column's) */
  cellProps?: (row: R) => TdHTMLAttributes<HTMLTableCellElement> & { 'data-testid'?: string };
}

export interface Selection<R, K> {
  selected: ReadonlySet<K>;
  onChange(next: Set<K>): void;
  /** the accessible name of a row's checkbox */
  label: (row: R) => string;
  /** the accessible name of the checkbox that selects every row */
  allLabel: string;
  testId?: (row: R) => string;
  allTestId?: string;
}

type RowAttributes = HTMLAttributes<HTMLTableRowElement> & { 'data-testid'?: string; 'aria-rowindex'?: number };

export interface DataTableProps<R, K extends string | number> {
  columns: Column<R>[];
  rows: readonly R[];
  rowKey: (row: R) => K;
  /** shown under the header when there are no rows (nothing when absent) */
  empty?: ReactNode;
  /** no table at all when there are no rows, only `empty` */
  hideWhenEmpty?: boolean;
  emptyClassName?: string;
  className?: string;
  testId?: string;
  rowProps?: (row: R, index: number) => RowAttributes;
  selection?: Selection<R, K>;
  tableProps?: TableHTMLAttributes<HTMLTableElement>;
  /** heights of the spacer rows before and after the rows (a virtualized list) */
  padTop?: number;
  padBottom?: number;
}

export function DataTable<R, K extends string | number>(p: DataTableProps<R, K>) {
  const { columns, rows, rowKey, selection: sel } = p;
  const emptyText = rows.length === 0 && p.empty !== undefined ? <p className={p.emptyClassName ?? 'muted small pad'}>{p.empty}</p> : null;
  if (rows.length === 0 && p.hideWhenEmpty) return emptyText;
  const allPicked = sel !== undefined && rows.length > 0 && rows.every((r) => sel.selected.has(rowKey(r)));
  const toggle = (k: K) => {
    const next = new Set(sel!.selected);
    if (next.has(k)) next.delete(k);
    else next.add(k);
    sel!.onChange(next);
  };
  return (
    <>
      <table className={`admin-table${p.className ? ` ${p.className}` : ''}`} data-testid={p.testId} {...p.tableProps}>
        <thead>
          <tr>
            {sel && (
              <th scope="col">
                <input type="checkbox" aria-label={sel.allLabel} checked={allPicked} onChange={() => sel.onChange(allPicked ? new Set() : new Set(rows.map(rowKey)))} data-testid={sel.allTestId} />
              </th>
            )}
            {columns.map((c, i) => (
              <th key={i} scope="col" className={c.className}>
                {c.hiddenHeader ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {(p.padTop ?? 0) > 0 && <tr style={{ height: p.padTop }} aria-hidden />}
          {rows.map((r, i) => {
            const k = rowKey(r);
            return (
              <tr key={k} {...p.rowProps?.(r, i)}>
                {sel && (
                  <td>
                    <input type="checkbox" aria-label={sel.label(r)} checked={sel.selected.has(k)} onChange={() => toggle(k)} data-testid={sel.testId?.(r)} />
                  </td>
                )}
                {columns.map((c, j) => {
                  const extra = c.cellProps?.(r);
                  const className = [c.className, extra?.className].filter(Boolean).join(' ') || undefined;
                  return (
                    <td key={j} {...extra} className={className}>
                      {c.cell(r, i)}
                    </td>
                  );
                })}
              </tr>
            );
          })}
          {(p.padBottom ?? 0) > 0 && <tr style={{ height: p.padBottom }} aria-hidden />}
        </tbody>
      </table>
      {emptyText}
    </>
  );
}
