/**
 * Words shared by the database sources' PositionText: a snapshot position (the tables finished, the one
 * being read and the last key read in it) and the order between a snapshot and a change-stream position.
 */
export interface SnapshotWords {
  phase: 'snapshot';
  done: string[];
  table?: string;
  after?: unknown[];
  /** parallelTables: the tables begun and not finished, each with its last key (nodes/shared/table-lanes.ts) */
  open?: Record<string, unknown[]>;
}

export function snapshotWords(p: SnapshotWords): string {
  const done = `${p.done.length} table${p.done.length === 1 ? '' : 's'} done`;
  const open = Object.entries(p.open ?? {});
  if (open.length > 0) return `snapshot: ${done}, reading ${open.map(([t, k]) => `${t} after key ${JSON.stringify(k)}`).join(', ')}`;
  if (!p.table) return `snapshot: ${done}`;
  return `snapshot: ${done}, reading ${p.table}${p.after ? ` after key ${JSON.stringify(p.after)}` : ''}`;
}

/**
 * The order of two positions of a source that snapshots and then streams changes: any snapshot position
 * comes before any change position; two change positions by `changes`; two snapshot positions by how
 * many tables are done, when that differs (otherwise they cannot be ordered by the words alone).
 */
export function compareSnapshotThenChanges<C>(a: { phase: string }, b: { phase: string }, changes: (a: C, b: C) => number): number | undefined {
  if (a.phase !== b.phase) return a.phase === 'snapshot' ? -1 : 1;
  if (a.phase === 'snapshot') {
    const da = (a as unknown as SnapshotWords).done.length;
    const db = (b as unknown as SnapshotWords).done.length;
    return da === db ? undefined : Math.sign(da - db);
  }
  return changes(a as C, b as C);
}

/** the part of `text` after `word ` (case-insensitive), or the whole text without it */
export function after(word: string, text: string): string {
  const t = text.trim();
  return t.toLowerCase().startsWith(`${word.toLowerCase()} `) ? t.slice(word.length + 1).trim() : t;
}
