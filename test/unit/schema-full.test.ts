import { describe, expect, it } from 'vitest';
import { portableCheck } from '../../nodes/shared/schema-full.js';
import { enumValues, portableDefault } from '../../nodes/mysql/schema-ddl.js';
import { plannedChecks, plannedDefaults, plannedIndexes } from '../../nodes/shared/schema-apply.js';
import { newReport, type FullSchema } from '../../nodes/shared/schema-full.js';

const q = (s: string) => `"${s}"`;

describe('schema: full, the portable forms', () => {
  it('a CHECK of comparisons, AND/OR/NOT, IS NULL is kept (backquotes become the target quoting); one with a function is not', () => {
    expect(portableCheck('`qty` > 0 and `qty` <= 1000', q)).toBe('"qty" > 0 AND "qty" <= 1000');
    expect(portableCheck("`s` in ('a','b') or `s` is null", q)).toBe(`"s" IN ('a','b') OR "s" IS NULL`);
    expect(portableCheck('`a` != 1', q)).toBe('"a" <> 1');
    expect(portableCheck('upper(`note`) = `note`', q)).toBeUndefined();
    expect(portableCheck('`a` regexp \'x\'', q)).toBeUndefined();
  });

  it("MariaDB's and MySQL's column defaults read alike", () => {
    expect(portableDefault("'anon'", '', true)).toEqual({ kind: 'literal', text: 'anon' });
    expect(portableDefault("'it''s'", '', true)).toEqual({ kind: 'literal', text: "it's" });
    expect(portableDefault('0', '', true)).toEqual({ kind: 'literal', text: '0' });
    expect(portableDefault('NULL', '', true)).toEqual({ kind: 'null' });
    expect(portableDefault('current_timestamp()', '', true)).toEqual({ kind: 'now' });
    expect(portableDefault('uuid()', '', true)).toEqual({ kind: 'expression', text: 'uuid()' });
    expect(portableDefault('anon', '', false)).toEqual({ kind: 'literal', text: 'anon' });
    expect(portableDefault('CURRENT_TIMESTAMP', 'DEFAULT_GENERATED', false)).toEqual({ kind: 'now' });
    expect(portableDefault('uuid()', 'DEFAULT_GENERATED', false)).toEqual({ kind: 'expression', text: 'uuid()' });
    expect(portableDefault(null, '', true)).toBeUndefined();
  });

  it('ENUM values in order, quotes undone', () => {
    expect(enumValues("enum('bronze','silver','it''s')")).toEqual(['bronze', 'silver', "it's"]);
  });

  it('what a sink applies: an expression default and a check as printed only into the source family, the portable form elsewhere; indexes over plain columns', () => {
    const full: FullSchema = {
      family: 'mysql',
      columns: [
        { name: 'a', notNull: true, default: { kind: 'expression', text: 'uuid()' } },
        { name: 'b', notNull: false, default: { kind: 'now' } },
        { name: 'c', notNull: false, default: { kind: 'null' } },
      ],
      indexes: [
        { name: 'i_b', columns: ['b'], unique: false },
        { name: 'i_expr', columns: [''], unique: false },
        { name: 'i_gone', columns: ['z'], unique: true },
      ],
      foreignKeys: [],
      checks: [
        { name: 'pos', clause: '`b` > 0' },
        { name: 'fn', clause: 'upper(`a`) = `a`' },
      ],
    };
    const cols = new Set(['a', 'b', 'c']);
    const same = newReport('t');
    expect(plannedDefaults(full, cols, 'mysql', same).map((d) => d.column)).toEqual(['a', 'b']);
    expect(plannedChecks(full, 'mysql', q, same).map((c) => c.sql)).toEqual(['`b` > 0', 'upper(`a`) = `a`']);
    expect(same.leftOut).toEqual([]);
    const other = newReport('t');
    expect(plannedDefaults(full, cols, 'sqlite', other).map((d) => d.column)).toEqual(['b']);
    expect(plannedChecks(full, 'sqlite', q, other).map((c) => c.sql)).toEqual(['"b" > 0']);
    expect(plannedIndexes(full, cols, other).map((i) => i.name)).toEqual(['i_b']);
    expect(other.leftOut).toEqual([
      'default of a: the expression uuid() has no known SQLite equivalent',
      'check fn (upper(`a`) = `a`): it uses functions or operators that differ on SQLite',
      'index i_expr: it is over an expression or a column the table does not have',
      'index i_gone: it is over an expression or a column the table does not have',
    ]);
  });
});
