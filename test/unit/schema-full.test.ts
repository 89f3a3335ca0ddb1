import { describe, expect, it } from 'vitest';
import { portableCheck } from '../../nodes/shared/schema-full.js';
import { enumValues, portableDefault } from '../../nodes/mysql/schema-ddl.js';
import { plannedChecks, plannedDefaults, plannedIndexes } from '../../nodes/shared/schema-apply.js';
import { newReport, type FullSchema } from '../../nodes/shared/schema-full.js';
import type { TableSchema } from '../../nodes/shared/columns.js';
import { createFacts as mysqlFacts } from '../../nodes/mysql/schema-apply.js';
import { createFacts as sqliteFacts } from '../../nodes/sqlite/schema-apply.js';

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
    expect(plannedChecks(full, 'mysql', q, cols, same).map((c) => c.sql)).toEqual(['`b` > 0', 'upper(`a`) = `a`']);
    expect(same.leftOut).toEqual([]);
    const other = newReport('t');
    expect(plannedDefaults(full, cols, 'sqlite', other).map((d) => d.column)).toEqual(['b']);
    expect(plannedChecks(full, 'sqlite', q, cols, other).map((c) => c.sql)).toEqual(['"b" > 0']);
    expect(plannedIndexes(full, cols, 'sqlite', other).map((i) => i.name)).toEqual(['i_b']);
    expect(other.leftOut).toEqual([
      'default of a: the expression uuid() has no known SQLite equivalent',
      'check fn (upper(`a`) = `a`): it uses functions or operators that differ on SQLite',
      'index i_expr: it is over an expression',
      'index i_gone: the table has no column z',
    ]);
  });

  it("a PostgreSQL CHECK in the other targets' SQL: casts to text and numbers dropped, = ANY (ARRAY[...]) as IN; functions, other casts and unknown words left out", () => {
    const cols = new Set(['qty', 'status', 'price', 'Mixed']);
    const pg = (clause: string) => portableCheck(clause, q, 'postgres', cols);
    expect(pg('(qty > 0)')).toBe('("qty" > 0)');
    expect(pg('((qty > 0) AND (price >= (0)::numeric))')).toBe('(("qty" > 0) AND ("price" >= (0)))');
    expect(pg("(status = ANY (ARRAY['a'::text, 'it''s'::text]))")).toBe(`("status" IN ('a', 'it''s'))`);
    expect(pg("((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))")).toBe(`(("status") IN ('a', 'b'))`);
    expect(pg('(qty <> ALL (ARRAY[1, -2]))')).toBe('("qty" NOT IN (1, -2))');
    expect(pg('("Mixed" IS NOT NULL)')).toBe('("Mixed" IS NOT NULL)');
    expect(pg("(status <> 'sad'::mood)")).toBeUndefined();
    expect(pg('(length(status) > 0)')).toBeUndefined();
    expect(pg('(other > 0)')).toBeUndefined();
    expect(pg("(status ~~ 'a%'::text)")).toBeUndefined();
    expect(portableCheck('(qty > 0)', q)).toBeUndefined();
  });

  it('from PostgreSQL: an auto-increment column gets no default; a gin index is left out of another family, a hash one is a plain index there', () => {
    const full: FullSchema = {
      family: 'postgres',
      columns: [{ name: 'id', notNull: true, autoIncrement: true, default: { kind: 'literal', text: '1' } }, { name: 'doc', notNull: false }],
      indexes: [
        { name: 'doc_gin', columns: ['doc'], unique: false, method: 'gin' },
        { name: 'doc_hash', columns: ['doc'], unique: false, method: 'hash' },
        { name: 'doc_part', columns: ['doc'], unique: false, where: '(id > 0)', definition: 'CREATE INDEX doc_part ON t USING btree (doc) WHERE (id > 0)' },
      ],
      foreignKeys: [],
      checks: [],
    };
    const cols = new Set(['id', 'doc']);
    const r = newReport('t');
    expect(plannedDefaults(full, cols, 'mysql', r)).toEqual([]);
    expect(plannedIndexes(full, cols, 'mysql', r)).toEqual([{ name: 'doc_hash', columns: ['doc'], unique: false, method: undefined }]);
    expect(r.leftOut).toEqual([
      'index doc_gin using gin (doc): MariaDB/MySQL has no gin index',
      'index doc_part: it is partial (WHERE (id > 0)) (at the source: CREATE INDEX doc_part ON t USING btree (doc) WHERE (id > 0))',
    ]);
    expect(r.lossy).toEqual(["index doc_hash: hash at the source, MariaDB/MySQL's default index here"]);
    const same = newReport('t');
    expect(plannedIndexes(full, cols, 'postgres', same).map((i) => i.method)).toEqual(['gin', 'hash']);
  });

  it('auto-increment into MariaDB is AUTO_INCREMENT on the integer first key column only, into SQLite the rowid of a lone INTEGER key only', () => {
    const full: FullSchema = { family: 'postgres', columns: [{ name: 'id', notNull: true, autoIncrement: true }, { name: 'n', notNull: false, autoIncrement: true }], indexes: [], foreignKeys: [], checks: [] };
    const schema: TableSchema = {
      table: 'public.t',
      key: ['id'],
      columns: [
        { name: 'id', kind: 'integer', bits: 32, source: 'integer', nullable: false },
        { name: 'n', kind: 'integer', bits: 32, source: 'integer', nullable: true },
      ],
    };
    const cols = new Set(['id', 'n']);
    const my = newReport('t');
    const facts = mysqlFacts(schema, full, cols, ['id'], my);
    expect([facts.column('id', 'INT'), facts.column('n', 'INT')]).toEqual(['INT AUTO_INCREMENT', 'INT']);
    facts.created(my);
    expect(my.created).toContain('AUTO_INCREMENT on id');
    expect(my.leftOut).toEqual(['auto-increment of n: MariaDB/MySQL number only one column, the first of the primary key']);
    const text = newReport('t');
    const textKey = mysqlFacts(schema, full, cols, ['id'], text);
    expect(textKey.column('id', 'VARCHAR(10)')).toBe('VARCHAR(10)');
    textKey.created(text);
    expect(text.created).not.toContain('AUTO_INCREMENT on id');
    expect(text.leftOut).toContain('auto-increment of id: the column is VARCHAR(10), MariaDB/MySQL number only integer columns');

    const lite = newReport('t');
    sqliteFacts(schema, full, cols, ['id'], () => 'INTEGER', lite).created(lite);
    expect(lite.created).toContain('INTEGER PRIMARY KEY on id (the rowid, numbered after the copied rows)');
    expect(lite.leftOut).toEqual(['auto-increment of n: SQLite numbers only a primary key of one INTEGER column (its rowid)']);
    const pair = newReport('t');
    sqliteFacts(schema, full, cols, ['id', 'n'], () => 'INTEGER', pair).created(pair);
    expect(pair.created.filter((c) => c.startsWith('INTEGER PRIMARY KEY'))).toEqual([]);
    expect(pair.leftOut).toHaveLength(2);
  });
});
