import { describe, expect, it } from 'vitest';
import type { ColumnMeta } from '../../nodes/postgres/catalog.js';
import { copyChunks } from '../../nodes/postgres/copy-text.js';
import { copyField, kindOf, toPgText } from '../../nodes/postgres/types.js';
import { encodeBinary } from '../../nodes/shared/binary.js';

const col = (name: string, typname: string, array = false): ColumnMeta => ({
  name,
  sqlType: array ? `${typname}[]` : typname,
  kind: kindOf(typname),
  array,
  elemKind: kindOf(typname),
  typeOid: 0,
  typeMod: -1,
  typname,
  category: 'X',
  notNull: false,
  hasDefault: false,
});

/** what the COPY text of these rows is by definition: copyField(toPgText(v, col)) per field, as one string */
const expected = (rows: Record<string, unknown>[], cols: ColumnMeta[]) => rows.map((r) => `${cols.map((c) => copyField(toPgText(r[c.name], c))).join('\t')}\n`).join('');
const written = (rows: Record<string, unknown>[], cols: ColumnMeta[]) => [...copyChunks(rows, cols)];
/** the bytes as text, beside the expected text's UTF-8 as text (a lone surrogate is U+FFFD in both) */
const same = (chunks: Buffer[], text: string) => {
  expect(Buffer.concat(chunks).toString('utf8')).toBe(Buffer.from(text, 'utf8').toString('utf8'));
  expect(Buffer.concat(chunks).equals(Buffer.from(text, 'utf8'))).toBe(true);
};

describe('postgres.sink: COPY text written as bytes', () => {
  const cols = [col('id', 'int8'), col('t', 'text'), col('n', 'numeric'), col('j', 'jsonb'), col('b', 'bool'), col('y', 'bytea'), col('a', 'int4', true), col('ts', 'timestamptz')];
  const shared = { name: 'customer ü', note: 'back\\slash\ttab' };
  const values: Record<string, unknown[]> = {
    id: [0, -0, 7, -42, 123456789, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1e21, 1.5, -0.1, NaN, Infinity, -Infinity, 12345678901234567890n, '17', null, undefined],
    t: ['', 'plain', 'tab\there', 'line\nbreak', 'cr\rlf', 'back\\slash', '\\N', 'ünïcödé', 'a\tü\\b\nc', 'emoji 😀 tab\t', '\ud800 lone', 'ctl \u0001\u007f', true, 3.25, { o: 1 }, [1, 'x'], null],
    n: ['12.34', '-0.00', 5, 2.5, null],
    j: [shared, shared, { s: 'quote " and \\ and \n' }, 'a string', 42, [1, { a: 'ü' }], null, true],
    b: [true, false, 0, 1, 't', null],
    y: [encodeBinary(Buffer.from([0, 1, 2, 255])), null],
    a: [[1, 2, null], [], [[1], [2]], null],
    ts: ['2026-01-02T03:04:05.123456Z', new Date(Date.UTC(2026, 0, 2)), null],
  };
  const rows = Array.from({ length: 40 }, (_, i) => Object.fromEntries(cols.map((c) => [c.name, values[c.name][i % values[c.name].length]])));

  it('writes each field as copyField(toPgText(value, column)), in UTF-8: escapes, NULLs, integers, non-ASCII, JSON, arrays, bytea', () => {
    same(written(rows, cols), expected(rows, cols));
  });

  it('cuts the text into chunks of at most 64 kB, a row across two chunks as needed; a long field is a chunk of its own', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ id: i * 7919, t: i % 97 === 0 ? 'ü\t'.repeat(500) : `row ${i} with a tab\t`, j: { i } }));
    const three = [cols[0], cols[1], cols[3]];
    const chunks = written(many, three);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(64 * 1024);
    same(chunks, expected(many, three));

    const big = { big: 'z\\'.repeat(30_000) };
    const long = [{ id: 1, t: 'x\t'.repeat(40_000), j: null }, { id: 2, t: `😀${'y'.repeat(70_000)}`, j: big }, { id: 3, t: 'short', j: big }, { id: 4, t: 'again', j: big }];
    const longChunks = written(long, three);
    expect(longChunks.some((c) => c.length > 64 * 1024)).toBe(true);
    same(longChunks, expected(long, three));
  });

  it('no rows: no chunk', () => {
    expect(written([], cols)).toEqual([]);
  });
});
