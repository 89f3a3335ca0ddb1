/**
 * The column type a sink creates for a declared column is the table in nodes/shared/type-targets.ts:
 * each DDL function must answer what the table gives, for every declared type of the mapping data and
 * for sizes at and beyond each target's limits.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnSpec } from '../../nodes/shared/columns.js';
import { SOURCE_TYPES } from '../../nodes/shared/type-mapping.js';
import { columnType, SQL_TARGETS, TYPE_TARGETS } from '../../nodes/shared/type-targets.js';
import { mysqlTypeFor } from '../../nodes/mysql/types.js';
import { pgTypeForSpec } from '../../nodes/postgres/types.js';
import { sqlTypeForSpec } from '../../nodes/sqlite/sql.js';

const declared: ColumnSpec[] = SOURCE_TYPES.map((t) => ({ name: 'c', source: t.declare, nullable: true, ...t.spec }));
const base = { name: 'c', source: 'test', nullable: true } as const;
// sizes around the bounds of the table's rules
const edges: ColumnSpec[] = [
  ...[0, 1, 65, 66, 1000, 1001, 2.5].flatMap((precision) => [undefined, 0, 2, 30, 31, 1001].map((scale) => ({ ...base, kind: 'decimal' as const, precision, scale }))),
  ...[0, 1, 255, 256, 768, 769, 3072, 3073, 16_383, 16_384, 65_535, 65_536, 10_485_760, 10_485_761].flatMap((length) =>
    (['string', 'binary'] as const).flatMap((kind) => [true, false].map((fixed) => ({ ...base, kind, length, fixed }))),
  ),
  ...[undefined, 0, 5, 6, 7].flatMap((fraction) => (['datetime', 'timestamp', 'time'] as const).map((kind) => ({ ...base, kind, fraction }))),
  ...[undefined, 8, 16, 24, 32, 64, 65].flatMap((bits) => [true, false].map((unsigned) => ({ ...base, kind: 'integer' as const, bits, unsigned }))),
  { ...base, kind: 'geometry', geometryType: 'geomcollection' },
  { ...base, kind: 'geometry', geography: true },
];

describe('the declared-type table (nodes/shared/type-targets.ts)', () => {
  it('is what pgTypeForSpec, mysqlTypeFor and sqlTypeForSpec answer, for every declared type of the mapping data', () => {
    for (const spec of [...declared, ...edges]) {
      const what = `${spec.source} ${JSON.stringify(spec)}`;
      for (const postgis of [false, true]) expect(pgTypeForSpec(spec, { postgis }), `postgres ${what} postgis ${postgis}`).toBe(columnType('postgres', spec, { postgis }));
      for (const uuidType of [false, true]) {
        expect(mysqlTypeFor(spec, false, uuidType), `mysql ${what}`).toBe(columnType('mysql', spec, { key: false, uuidType }));
        // a key column: the table's type, then NOT NULL (a TIMESTAMP key also gets a default)
        expect(mysqlTypeFor(spec, true, uuidType), `mysql key ${what}`).toMatch(new RegExp(`^${columnType('mysql', spec, { key: true, uuidType }).replace(/[()]/g, '\\$&')} NOT NULL`));
      }
      expect(sqlTypeForSpec(spec), `sqlite ${what}`).toBe(columnType('sqlite', spec));
    }
  });

  it('has, for every target and kind, a last case that always applies, so that every spec gets a type', () => {
    for (const target of SQL_TARGETS) {
      for (const [kind, cases] of Object.entries(TYPE_TARGETS[target])) {
        const last = cases.at(-1);
        // sizes in it must always be had: a default, and clamped rather than skipped
        const always = (last?.sizes ?? []).every((r) => r.default !== undefined && r.outside === 'clamp');
        expect(last !== undefined && last.when === undefined && always, `${target}.${kind}`).toBe(true);
      }
    }
  });

  it('reads sizes by its rules: skipped outside the bounds, clamped where the target clamps', () => {
    expect(columnType('postgres', { ...base, kind: 'decimal', precision: 20, scale: 6 })).toBe('numeric(20,6)');
    expect(columnType('postgres', { ...base, kind: 'decimal', precision: 1001, scale: 6 })).toBe('numeric');
    expect(columnType('mysql', { ...base, kind: 'decimal', precision: 80, scale: 40 })).toBe('DECIMAL(65,30)');
    expect(columnType('mysql', { ...base, kind: 'decimal' })).toBe('DECIMAL(65,30)');
    expect(columnType('mysql', { ...base, kind: 'string', length: 300, fixed: true })).toBe('VARCHAR(300)');
    expect(columnType('mysql', { ...base, kind: 'string', length: 800 }, { key: true })).toBe('VARCHAR(255)');
    expect(columnType('postgres', { ...base, kind: 'datetime', fraction: 3 })).toBe('timestamp(3) without time zone');
    expect(columnType('postgres', { ...base, kind: 'datetime', fraction: 6 })).toBe('timestamp without time zone');
    expect(columnType('mysql', { ...base, kind: 'time', fraction: 9 })).toBe('TIME(6)');
    expect(columnType('sqlite', { ...base, kind: 'integer', bits: 64, unsigned: true })).toBe('');
    // a kind no table knows (meta is written by anything) is `other`
    expect(columnType('postgres', { ...base, kind: 'nonsense' as ColumnSpec['kind'] })).toBe('text');
  });
});
