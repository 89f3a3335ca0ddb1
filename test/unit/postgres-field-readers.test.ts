import { describe, expect, it } from 'vitest';
import { parseCopyText } from '../../nodes/postgres/snapshot.js';
import { fieldReader, TypeMapper } from '../../nodes/postgres/types.js';
import { valueMaker } from '../../runtime/index.js';
import { retainedBytes } from '../helpers/retained-heap.js';

const mapper = new TypeMapper();

/** every value read in place, inside a longer text, is what the column's parser makes of its slice */
function expectSameAsParser(oid: number, values: string[]): void {
  const parser = mapper.parser(oid);
  const read = fieldReader(parser);
  for (const v of values) {
    const text = `x\t${v}\ty`;
    const got = read(text, 2, 2 + v.length);
    expect({ v, got }).toEqual({ v, got: parser(v) });
    expect(Object.is(got, parser(v))).toBe(true);
  }
}

describe('postgres snapshot: COPY fields read in place', () => {
  it('integers: the same numbers as Number(), bigints past 2^53 stay exact strings', () => {
    const ints = ['0', '7', '-7', '007', '2147483647', '-2147483648', '-0', '', '1e3', '12a', '-'];
    expectSameAsParser(23, ints);
    expectSameAsParser(21, ints);
    expectSameAsParser(20, [...ints, '999999999999999', '9007199254740991', '9007199254740993', '-9223372036854775808', '123456789012345678']);
    expect(fieldReader(mapper.parser(20))('9007199254740993', 0, 16)).toBe('9007199254740993');
  });

  it('timestamps: the same ISO strings as the RegExp parsers, every other form as printed', () => {
    const forms = [
      '2026-01-02 03:04:05+00',
      '2026-01-02 03:04:05.123456+00',
      '2026-01-02 03:04:05.5+00',
      '2026-01-02 03:04:05+05:30',
      '2026-01-02 03:04:05-08',
      '2026-01-02 03:04:05+01',
      '2026-01-02 03:04:05+10',
      '2026-01-02 03:04:05.5-00',
      '2026-01-02 03:04:05+00:00:10',
      '2026-01-02 03:04:05.+00',
      '2026-01-02 03:04:05.1x+00',
      '12026-01-02 03:04:05+00',
      '0044-03-15 12:00:00+00 BC',
      'infinity',
      '-infinity',
      '2026-01-02 03:04:05',
      '2026-01-02 03:04:05.25',
      '2026-01-02T03:04:05+00',
      '2026-01-02 03:04:0a+00',
      '+00',
    ];
    expectSameAsParser(1184, forms);
    expectSameAsParser(1114, forms);
  });

  it('timestamptz: consecutive rows on another day get their own date', () => {
    const read = fieldReader(mapper.parser(1184));
    const a = '2026-01-02 23:59:59+00';
    const b = '2026-01-03 00:00:00+00';
    expect([read(a, 0, a.length), read(b, 0, b.length), read(a, 0, a.length)]).toEqual(['2026-01-02T23:59:59Z', '2026-01-03T00:00:00Z', '2026-01-02T23:59:59Z']);
  });

  it('strings: repeated values come back equal, and the cache never answers for a different value', () => {
    const read = fieldReader(mapper.parser(25));
    const values = ['DE', 'FR', 'NL', 'D', 'DEU', '', 'FR', 'de', 'a much longer value', 'DE'];
    const seen: unknown[] = [];
    const unique: unknown[] = [];
    for (let round = 0; round < 1000; round++) {
      for (const v of values) seen.push(read(`\t${v}\t`, 1, 1 + v.length));
      // values that do not repeat (the cache turns itself off, and on again later)
      for (let k = 0; k < 10; k++) unique.push(read(`u${round}_${k}\n`, 0, `u${round}_${k}`.length));
    }
    expect(seen).toEqual(Array.from({ length: 1000 }, () => values).flat());
    expect(unique).toEqual(Array.from({ length: 10_000 }, (_, i) => `u${Math.floor(i / 10)}_${i % 10}`));
  });

  it('parseCopyText: fields before and after escapes and NULLs read the same as through the parsers', () => {
    const names = ['id', 'ts', 'note', 'code'];
    const parsers = [mapper.parser(20), mapper.parser(1184), mapper.parser(25), mapper.parser(25)];
    const text = [
      '1\t2026-01-02 03:04:05+00\tplain\tDE',
      '2\t\\N\ttab\\there\tFR',
      '3\t2026-01-02 03:04:06.5+00\t\\\\\t\\N',
      '4\t2026-01-02 03:04:07+00\tlast\tDE',
      '',
    ].join('\n');
    expect(parseCopyText(text, parsers, valueMaker(names))).toEqual([
      { id: 1, ts: '2026-01-02T03:04:05Z', note: 'plain', code: 'DE' },
      { id: 2, ts: null, note: 'tab\there', code: 'FR' },
      { id: 3, ts: '2026-01-02T03:04:06.5Z', note: '\\', code: null },
      { id: 4, ts: '2026-01-02T03:04:07Z', note: 'last', code: 'DE' },
    ]);
  });
});

describe('postgres snapshot: values read keep nothing of the chunk alive', () => {
  it.each([
    ['copied from the text', false],
    ['copied from the ASCII bytes', true],
  ])('long strings, uuids, timestamps with fractions, big bigints, intervals, arrays: 30 chunks of 1 MB, one row of each kept, hold under 2 MB (%s)', async (_, withBytes) => {
    const names = ['id', 'grp', 'uid', 'ts', 'at', 'big', 'span', 'tags', 'doc', 'pad'];
    const parsers = [20, 25, 2950, 1184, 1114, 20, 1186, 1009, 3802, 25].map((oid) => mapper.parser(oid));
    const readers = parsers.map(fieldReader);
    const make = valueMaker(names);
    // each chunk its own groups (the string cache misses on their first row, and answers the rest)
    const groups = ['a group name of 20 ch', 'another group name, thirty-one', 'a third group name, forty characters'];
    const chunk = (c: number) => {
      const rows: string[] = [];
      for (let r = 0; r < 1000; r++) {
        const id = c * 1000 + r;
        rows.push(
          [id, `${groups[id % 3]} ${c}`, `0b0b0b0b-${String(id).padStart(4, '0')}-4000-8000-000000000000`, `2026-01-02 03:04:05.${String(id).padStart(6, '0')}+00`,
            `2026-01-02 03:04:05.${String(id).padStart(6, '0')}`, `92233720368547758${String(id % 100).padStart(2, '0')}`, `1 year 2 mons ${id} days 04:05:06`, `{"a tag longer than 13 characters","tag ${id} of the row"}`,
            `{"k":"a value of thirty characters"}`, 'p'.repeat(900)].join('\t'),
        );
      }
      return `${rows.join('\n')}\n`;
    };
    // what an aggregate grouped by grp keeps: the first row of each group, from a new chunk each time
    const { bytes, kept } = await retainedBytes(() => Array.from({ length: 30 }, (_, c) => {
      const text = chunk(c);
      return parseCopyText(text, parsers, make, readers, withBytes ? Buffer.from(text, 'latin1') : undefined)[c % 3];
    }));
    expect(kept[4]).toEqual({
      id: 4001, grp: `${groups[4001 % 3]} 4`, uid: '0b0b0b0b-4001-4000-8000-000000000000', ts: '2026-01-02T03:04:05.004001Z', at: '2026-01-02T03:04:05.004001',
      big: '9223372036854775801', span: '1 year 2 mons 4001 days 04:05:06', tags: ['a tag longer than 13 characters', 'tag 4001 of the row'], doc: { k: 'a value of thirty characters' }, pad: 'p'.repeat(900),
    });
    expect(bytes).toBeLessThan(2_000_000);
  });
});
