/**
 * docs/type-mapping.md's tables of declared types come from the mapping data (nodes/shared/type-mapping.ts)
 * through the sinks' DDL functions: the committed file must hold what the generator writes today.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spliceTypeTables, TYPE_DOCS_COMMAND, typeTables } from '../../nodes/type-mapping-docs.js';
import { SOURCE_TYPES } from '../../nodes/shared/type-mapping.js';

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
  });

  it('refuses a document without the markers rather than writing the tables somewhere', () => {
    expect(() => spliceTypeTables('# no markers\n')).toThrow(/markers/);
  });
});
