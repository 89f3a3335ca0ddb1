/**
 * What crosses between the host and a sandbox worker stays in strings under 128 KB (V8 puts longer
 * ones in its large-object space, which only a full GC frees): a batch's calls go in chunks, its
 * results come back in replies of about REPLY_CHARS characters, and nothing is lost or reordered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxPool } from '../../runtime/sandbox/pool.js';
import { REPLY_CHARS, decodeCalls, decodeReply, encodeCalls, joinCalls } from '../../runtime/sandbox/runner.js';

const LARGE_OBJECT = 128 * 1024;
const order = (i: number) => ({ id: i, customer: `customer ${i}`, note: 'x'.repeat(100 + (i % 50)), amount: i / 100 });
const calls = Array.from({ length: 3000 }, (_, i) => [order(i)]);

const pool = new SandboxPool({ size: 1 });
afterAll(() => pool.close());

describe('sandbox messages', () => {
  it('encodes a batch in chunks of about REPLY_CHARS characters that join and decode to the same calls', () => {
    const chunks = encodeCalls(calls);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThan(REPLY_CHARS * 1.5);
    expect(decodeCalls(chunks)).toEqual(calls);
    expect(JSON.parse(joinCalls(chunks))).toEqual(calls);
    expect(encodeCalls([[order(1)]])).toEqual([JSON.stringify([[order(1)]])]);
  });

  it('a record longer than a chunk travels alone', () => {
    const big = [[{ s: 'y'.repeat(3 * REPLY_CHARS) }], [{ s: 'z' }]];
    const chunks = encodeCalls(big);
    expect(decodeCalls(chunks)).toEqual(big);
  });

  it('returns a big batch in replies under 128 KB each, every result in order', async () => {
    const { id } = await pool.compile('(o) => ({ ...o, tax: Math.round(o.amount * 20) / 100 })', { memoryLimitMb: 64, timeoutMs: 5000, maxOutputMb: 64, label: 'messages' });
    const segments = await pool.call(id, encodeCalls(calls), calls.length);
    const texts = segments.filter((s): s is string => typeof s === 'string');
    expect(texts.length).toBe(segments.length);
    expect(texts.length).toBeGreaterThan(5);
    for (const t of texts) expect(t.length).toBeLessThan(LARGE_OBJECT / 2);
    const values = texts.flatMap((t) => decodeReply(t)).map((r) => (r.ok ? r.value : r.error));
    expect(values).toEqual(calls.map(([o]) => ({ ...o, tax: Math.round(o.amount * 20) / 100 })));
  });
});
