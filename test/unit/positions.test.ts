/**
 * Positions in words and back (each source type's PositionText), and a change of positions planned
 * before it is made: what it replays or skips, what it refuses, and the warnings it gives.
 */
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import type { NodeType } from '../../runtime/node-api.js';
import { planPositionChange, positionsView, type PositionNode } from '../../runtime/state/position-change.js';

const registry = createRegistry();
const type = (t: string): NodeType => registry.get(t)!;
const text = (t: string) => type(t).position!;

describe('positions in words', () => {
  it('postgres.source: an LSN while streaming, the snapshot before; LSNs compare as numbers, not as text', () => {
    const pg = text('postgres.source');
    expect(pg.describe({ phase: 'cdc', lsn: '16/B374D848' })).toBe('LSN 16/B374D848');
    expect(pg.describe({ phase: 'snapshot', done: ['public.a'], table: 'public.b', after: [42] })).toBe('snapshot: 1 table done, reading public.b after key [42]');
    expect(pg.parse!('LSN 16/b374d848')).toEqual({ phase: 'cdc', lsn: '16/B374D848' });
    expect(pg.parse!('0/0000FF')).toEqual({ phase: 'cdc', lsn: '0/FF' });
    expect(() => pg.parse!('LSN 16-B3')).toThrow(/not an LSN/);
    // 0/FF0 > 0/FFF as text would say otherwise
    expect(pg.compare!({ phase: 'cdc', lsn: '0/1000' }, { phase: 'cdc', lsn: '0/FFF' })).toBeGreaterThan(0);
    expect(pg.compare!({ phase: 'snapshot', done: [] }, { phase: 'cdc', lsn: '0/1' })).toBeLessThan(0);
    expect(pg.compare!({ phase: 'snapshot', done: ['a'] }, { phase: 'snapshot', done: ['a'], table: 'b' })).toBeUndefined();
  });

  it('mysql.source: binlog FILE:POS, compared by file then position', () => {
    const my = text('mysql.source');
    expect(my.describe({ phase: 'cdc', binlog: { file: 'mysql-bin.000003', pos: 1234, skip: 2 } })).toBe('binlog mysql-bin.000003:1234 (+2 rows of its transaction)');
    // parallelTables: every table begun, each with its own key
    expect(my.describe({ phase: 'snapshot', done: ['s.a'], open: { 's.b': [42], 's.c': [7, 'x'] } })).toBe('snapshot: 1 table done, reading s.b after key [42], s.c after key [7,"x"]');
    expect(my.parse!('binlog mysql-bin.000003:1234')).toEqual({ phase: 'cdc', binlog: { file: 'mysql-bin.000003', pos: 1234 } });
    expect(() => my.parse!('mysql-bin.000003:2')).toThrow(/4 or more/);
    expect(() => my.parse!('mysql-bin.000003')).toThrow(/FILE:POSITION/);
    const at = (file: string, pos: number) => ({ phase: 'cdc', binlog: { file, pos } });
    expect(my.compare!(at('mysql-bin.000004', 4), at('mysql-bin.000003', 99999))).toBe(1);
    expect(my.compare!(at('mysql-bin.000003', 100), at('mysql-bin.000003', 200))).toBe(-1);
  });

  it('kafka.source: the next offset per partition; ordered only when every partition moved the same way', () => {
    const k = text('kafka.source');
    const p = k.parse!('orders[0]=120 orders[1]=98');
    expect(p).toEqual({ offsets: { orders: { 0: '120', 1: '98' } } });
    expect(k.describe(p)).toBe('orders[0]=120 orders[1]=98');
    expect(k.compare!(k.parse!('orders[0]=100 orders[1]=98'), p)).toBe(-1);
    expect(k.compare!(k.parse!('orders[0]=121 orders[1]=98'), p)).toBe(1);
    expect(k.compare!(k.parse!('orders[0]=100 orders[1]=99'), p)).toBeUndefined();
    expect(() => k.parse!('orders:0=1')).toThrow(/TOPIC\[PARTITION\]=NEXT_OFFSET/);
  });

  it('file.source and core.generate', () => {
    expect(text('file.source').describe({ offset: 4096, line: 80 })).toBe('byte 4096 after line 80');
    expect(text('file.source').parse!('byte 10 after line 2')).toEqual({ offset: 10, line: 2 });
    expect(() => text('file.source').parse!('line 2')).toThrow(/byte OFFSET after line LINES/);
    expect(text('core.generate').parse!('after record 7')).toBe(7);
    expect(text('core.generate').parse!('7')).toBe(7);
  });
});

describe('a change of positions', () => {
  const nodes: PositionNode[] = [
    { id: 'orders', type: type('postgres.source') },
    { id: 'gen', type: type('core.generate') },
    { id: 'agg', type: type('core.aggregate') },
    { id: 'out', type: type('file.sink') },
  ];
  const checkpoint = { positions: { orders: { phase: 'cdc', lsn: '0/5000' }, gen: 100 }, state: { agg: { DE: 3 } }, updatedAt: 1 };

  it('says what each source will replay or skip, keeps the other positions, and warns about state taken at the old ones', () => {
    const plan = planPositionChange(nodes, checkpoint, { positions: { orders: 'LSN 0/4000', gen: 150 } });
    expect(plan.changes).toEqual([
      { node: 'orders', from: 'LSN 0/5000', to: 'LSN 0/4000', effect: expect.stringMatching(/^rewind: the records after the new position/) },
      { node: 'gen', from: 'after record 100', to: 'after record 150', effect: expect.stringMatching(/^skip ahead/) },
    ]);
    expect(plan.checkpoint).toEqual({ positions: { orders: { phase: 'cdc', lsn: '0/4000' }, gen: 150 }, state: { agg: { DE: 3 } } });
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^orders: PostgreSQL keeps changes only from the replication slot's confirmed position/),
      expect.stringMatching(/^agg keeps its state, taken at the old positions: records replayed are counted in it again/),
    ]);
    const reset = planPositionChange(nodes, checkpoint, { positions: { gen: null }, resetState: true });
    expect(reset.checkpoint).toEqual({ positions: { orders: { phase: 'cdc', lsn: '0/5000' } }, state: {} });
    expect(reset.changes[0].effect).toBe('everything is read again from the beginning');
    expect(reset.warnings).toEqual([]);
  });

  it('refuses a node that is not there or not a source, and words the source cannot read, naming the node', () => {
    expect(() => planPositionChange(nodes, checkpoint, { positions: { nope: 1 } })).toThrow(/positions\.nope: the flow has no node "nope"; its sources are orders, gen/);
    expect(() => planPositionChange(nodes, checkpoint, { positions: { agg: 1 } })).toThrow(/positions\.agg: node agg \(core\.aggregate\) is not a source/);
    expect(() => planPositionChange(nodes, checkpoint, { positions: { orders: 'yesterday' } })).toThrow(/positions\.orders: "yesterday" is not a postgres\.source position: not an LSN.*\(e\.g\. LSN 16\/B374D848\)/);
    expect(() => planPositionChange(nodes, checkpoint, { positions: {} })).toThrow(/name at least one source node/);
  });

  it('a Kafka rewind says that the group keeps its own offsets', () => {
    const k = [{ id: 'in', type: type('kafka.source') }];
    const plan = planPositionChange(k, { positions: { in: { offsets: { t: { 0: '9' } } } }, state: {}, updatedAt: 1 }, { positions: { in: 't[0]=3' } });
    expect(plan.changes[0].effect).toMatch(/^rewind/);
    expect(plan.warnings).toEqual([expect.stringMatching(/^in: kafka\.source resumes each partition from the larger of this and the group's committed offset/)]);
  });

  it('the view: every source in words (nothing committed: from the beginning), stateful nodes, the history in words', () => {
    const view = positionsView('f', nodes, checkpoint, [{ at: 2000, positions: { gen: 50 }, note: 'set by ann' }]);
    expect(view.sources).toEqual([
      { node: 'orders', type: 'postgres.source', position: { phase: 'cdc', lsn: '0/5000' }, text: 'LSN 0/5000', example: 'LSN 16/B374D848' },
      { node: 'gen', type: 'core.generate', position: 100, text: 'after record 100', example: 'after record 0' },
    ]);
    expect(view.stateful).toEqual(['agg']);
    expect(view.history).toEqual([{ at: new Date(2000).toISOString(), note: 'set by ann', positions: { orders: 'nothing committed: from the beginning', gen: 'after record 50' } }]);
    expect(positionsView('f', nodes, undefined, []).sources[0]).toMatchObject({ position: null, text: 'nothing committed: from the beginning' });
  });
});
