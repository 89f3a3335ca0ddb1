import { describe, expect, it } from 'vitest';
import { TableCounter } from '../../nodes/shared/table-counter.js';
import { progressSummary, tableLines } from '../../runtime/cli/progress.js';
import type { SluiceRecord } from '../../runtime/index.js';

const rec = (table: string): SluiceRecord => ({ key: {}, value: {}, op: 'r', meta: { table } });

describe('TableCounter', () => {
  it('counts rows per table from batches, keeps counts restored from a position, and gives rows/s per table and overall on an injected clock', () => {
    let now = 1000;
    const c = new TableCounter(() => now);
    c.restore({ 'shop.done': 700, 'shop.a': 10, bad: -1, worse: 'x' });
    c.reading();
    now = 1500;
    c.count({ records: [rec('shop.a'), rec('shop.a'), rec('shop.b')], position: {} });
    now = 2000;
    c.reading();
    now = 3000;
    c.count({ records: Array.from({ length: 1000 }, () => rec('shop.a')), position: {} });
    expect(c.counts()).toEqual({ 'shop.done': 700, 'shop.a': 1012, 'shop.b': 1 });
    // shop.a: 1002 rows this run, from the read that began at 1000 to its last rows at 3000
    expect(c.rate('shop.a')).toBe(501);
    expect(c.rate('shop.done')).toBeUndefined(); // finished in an earlier run: count kept, no rate
    expect(c.overall()).toBe(Math.round((1003 * 1000) / 2000));
    expect(c.table('shop.done', 'done', 700)).toEqual({ name: 'shop.done', phase: 'done', done: 700, estimated: 700 });
    expect(c.table('shop.a', 'snapshot')).toEqual({ name: 'shop.a', phase: 'snapshot', done: 1012, rowsPerSec: 501 });
  });

  it('the CLI lines show rows/s', () => {
    const p = { tables: [{ name: 'shop.a', phase: 'done' as const, done: 5000, rowsPerSec: 2500 }], rowsPerSec: 2500 };
    expect(progressSummary(p)).toBe('1/1 tables done, 5,000 rows, 2,500 rows/s');
    expect(tableLines('src', p)[0]).toContain('2,500 rows/s');
  });
});
