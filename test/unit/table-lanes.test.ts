/**
 * The shared scheduling of `parallelTables` (nodes/shared/table-lanes.ts) with in-memory table readers:
 * every chunk of every table handed out once, several tables at once, tables begun in an earlier run
 * first, and positions that never change once handed out (they are kept by reference until committed).
 */
import { describe, expect, it } from 'vitest';
import type { SourceBatch } from '../../runtime/index.js';
import { TableLanes, type LanesState, type TableLaneReader, type TableReadState } from '../../nodes/shared/table-lanes.js';

/** a table of `rows` keys 1…rows read `chunk` at a time after `after` */
function reader(table: string, rows: number, chunk: number, after: unknown[] | undefined, position: (s: TableReadState) => unknown, log: string[]): TableLaneReader {
  let state: TableReadState = { done: [], after };
  let ended = false;
  return {
    current: () => state,
    next: async () => {
      if (ended) return null;
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      const from = Number(state.after?.[0] ?? 0);
      const keys = Array.from({ length: Math.max(0, Math.min(chunk, rows - from)) }, (_, i) => from + i + 1);
      log.push(`${table}:${keys.join(',')}`);
      ended = keys.length < chunk;
      state = ended ? { done: [table] } : { done: [], after: [keys.at(-1)] };
      return { records: keys.map((k) => ({ key: { id: k }, value: { id: k }, op: 'r' as const, meta: { table, position: position({ done: [], after: [k] }) } })), position: undefined } satisfies SourceBatch;
    },
  };
}

const SIZES: Record<string, number> = { a: 7, b: 3, c: 10, d: 0, e: 5 };

function lanes(n: number, state: LanesState & { table?: string; after?: unknown[] }, log: string[] = []) {
  return new TableLanes<number>({
    tables: Object.keys(SIZES),
    state,
    lanes: Array.from({ length: n }, (_, i) => i),
    position: (s) => ({ done: s.done, ...(s.open ? { open: s.open } : {}) }),
    reader: (_, id, after, position) => reader(id, SIZES[id], 2, after, position, log),
  });
}

async function drain(l: TableLanes<number>): Promise<{ keys: Map<string, number[]>; positions: { at: string; position: unknown }[]; most: number }> {
  const keys = new Map<string, number[]>();
  const positions: { at: string; position: unknown }[] = [];
  let most = 0;
  for (;;) {
    most = Math.max(most, l.reading().length);
    const b = await l.next();
    if (!b) break;
    for (const r of b.records) keys.set(String(r.meta.table), [...(keys.get(String(r.meta.table)) ?? []), (r.key as { id: number }).id]);
    positions.push({ at: JSON.stringify(b.position), position: b.position });
  }
  return { keys, positions, most };
}

describe('TableLanes', () => {
  it('hands out every key of every table once, three tables at a time; the last position names every table done', async () => {
    const l = lanes(3, { done: [] });
    const { keys, positions, most } = await drain(l);
    for (const [t, n] of Object.entries(SIZES)) expect(keys.get(t) ?? [], t).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(most).toBe(3);
    expect(l.current()).toEqual({ done: expect.arrayContaining(Object.keys(SIZES)) });
    expect((positions.at(-1)!.position as LanesState).done.sort()).toEqual(Object.keys(SIZES));
  });

  it('a position handed out never changes afterwards, though later tables finish', async () => {
    const { positions } = await drain(lanes(3, { done: [] }));
    expect(positions.length).toBeGreaterThan(5);
    for (const p of positions) expect(JSON.stringify(p.position)).toBe(p.at);
  });

  it('goes on from a position: tables done are not read, tables begun go on after their key and come first', async () => {
    const log: string[] = [];
    const l = lanes(2, { done: ['b'], open: { c: [6], a: [4] } }, log);
    const { keys } = await drain(l);
    expect(keys.has('b')).toBe(false);
    expect(keys.get('c')).toEqual([7, 8, 9, 10]);
    expect(keys.get('a')).toEqual([5, 6, 7]);
    expect(keys.get('e')).toEqual([1, 2, 3, 4, 5]);
    // the two begun tables took the two lanes before any new table started
    expect(log.slice(0, 2).map((x) => x.split(':')[0]).sort()).toEqual(['a', 'c']);
  });

  it('a position taken by one reader (table, after) goes on in that table', async () => {
    const { keys } = await drain(lanes(1, { done: ['a', 'b'], table: 'c', after: [8] }));
    expect(keys.get('c')).toEqual([9, 10]);
    expect(keys.get('e')).toEqual([1, 2, 3, 4, 5]);
  });
});
