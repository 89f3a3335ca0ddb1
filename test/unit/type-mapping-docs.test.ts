/**
 * Every table of docs/type-mapping.md comes from data: sections A and B from nodes/shared/record-values.ts,
 * the tables of declared types from nodes/shared/type-mapping.ts through the sinks' DDL functions (which
 * read nodes/shared/type-targets.ts). The committed file must hold what the generator writes today.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spliceTypeTables, TYPE_DOCS_COMMAND, typeTables } from '../../nodes/type-mapping-docs.js';
import { SOURCE_TYPES } from '../../nodes/shared/type-mapping.js';
import { SOURCE_VALUES, VALUE_COLUMNS } from '../../nodes/shared/record-values.js';
import { TYPE_TARGETS } from '../../nodes/shared/type-targets.js';
import { columnTypeFor } from '../../nodes/mysql/types.js';
import { pgTypeOf } from '../../nodes/postgres/types.js';
import { sqlTypeOf } from '../../nodes/sqlite/sql.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('the type mapping document (docs/type-mapping.md)', () => {
  it('holds the tables the mapping data and the DDL functions give today', () => {
    const committed = readFileSync(resolve(ROOT, 'docs/type-mapping.md'), 'utf8');
    expect(committed === spliceTypeTables(committed), `docs/type-mapping.md is stale (the type mapping changed): run \`${TYPE_DOCS_COMMAND}\` and commit it`).toBe(true);
  });

  it('lists every source type, and every lossy mapping with its reason', () => {
    const md = typeTables();
    for (const t of SOURCE_TYPES) {
      expect(md, t.declare).toContain(`| ${t.declare.replaceAll('|', '\\|')}`);
      for (const why of Object.values(t.lossy ?? {})) expect(md).toContain(why.replaceAll('|', '\\|'));
    }
    const doc = spliceTypeTables(readFileSync(resolve(ROOT, 'docs/type-mapping.md'), 'utf8'));
    for (const r of SOURCE_VALUES) expect(doc, r.family).toContain(`| ${r.family} | ${r.values.postgres.replaceAll('|', '\\|')} |`);
    for (const r of VALUE_COLUMNS) expect(doc, r.value).toContain(`| ${r.value} | ${r.postgres.type} |`);
  });

  it('goes stale when any of its data changes: sections A and B, the declared-type table', () => {
    const committed = readFileSync(resolve(ROOT, 'docs/type-mapping.md'), 'utf8');
    const changes: [string, () => () => void][] = [
      ['section A', () => { const r = SOURCE_VALUES[0]!.values; const was = r.sqlite; r.sqlite = `${was}!`; return () => { r.sqlite = was; }; }],
      ['section B', () => { const r = VALUE_COLUMNS[0]!; const was = r.mongodb; r.mongodb = `${was}!`; return () => { r.mongodb = was; }; }],
      ['the declared-type table', () => { const c = TYPE_TARGETS.postgres.json[0]!; const was = c.type; c.type = 'json'; return () => { c.type = was; }; }],
    ];
    for (const [what, change] of changes) {
      const restore = change();
      try {
        expect(spliceTypeTables(committed) === committed, what).toBe(false);
      } finally {
        restore();
      }
    }
    expect(spliceTypeTables(committed) === committed).toBe(true);
  });

  it("section B's types are what pgTypeOf, columnTypeFor and sqlTypeOf give for the row's example value", () => {
    for (const r of VALUE_COLUMNS) {
      if (!('example' in r)) continue;
      expect(pgTypeOf(r.example), r.value).toBe(r.postgres.type);
      expect(columnTypeFor(r.example, false), r.value).toBe(r.mysql.type);
      if (r.mysql.key) expect(columnTypeFor(r.example, true), `${r.value} (key)`).toBe(r.mysql.key);
      expect(sqlTypeOf(r.example), r.value).toBe(r.sqlite.type);
    }
  });

  it('refuses a document without the markers rather than writing the tables somewhere', () => {
    expect(() => spliceTypeTables('# no markers\n')).toThrow(/markers/);
  });
});
