/**
 * `schema: full` into PostgreSQL (nodes/shared/schema-full.ts): what postgres.sink adds to a table it
 * creates when the records' declared schema carries the source's catalog facts. Enum value sets become
 * enum types (`<table>_<column>`, in the table's schema) before the CREATE TABLE; NOT NULL goes into it;
 * defaults, unique constraints, indexes, checks and comments follow it one statement each, so one that
 * PostgreSQL refuses is left out and reported rather than failing the table; foreign keys wait for the
 * end of the run (`foreignKeys`, called on close), when the tables they reference hold their rows. A
 * foreign key references the table of the same name in the target table's schema (`copy.{table}`).
 */
import type pg from 'pg';
import type { TableSchema } from '../shared/columns.js';
import type { FullSchema } from '../shared/schema-full.js';
import {
  applyFact,
  commentText,
  defaultText,
  foreignKeyRules,
  foreignKeyText,
  indexText,
  noteLossy,
  notNullColumns,
  plannedChecks,
  plannedComments,
  plannedDefaults,
  plannedIndexes,
  sqlLiteral as literal,
} from '../shared/schema-apply.js';
import type { TableReport } from '../../runtime/index.js';
import { qualified, quoteIdent, type TableName } from './connection.js';

/** the enum type a column's value set becomes */
export const enumTypeName = (t: TableName, column: string): TableName => ({ schema: t.schema, name: `${t.name}_${column}` });

/**
 * Before the CREATE TABLE: creates the enum types and answers the column types to use instead of the
 * mapped ones, and which columns are NOT NULL. Notes the lossy type mappings of the other columns.
 */
export async function prepareFull(pool: pg.Pool, t: TableName, schema: TableSchema, full: FullSchema, report: TableReport): Promise<{ types: Map<string, string>; notNull: Set<string> }> {
  const types = new Map<string, string>();
  for (const c of full.columns) {
    if (!c.enumValues) continue;
    const type = enumTypeName(t, c.name);
    const values = c.enumValues.map(literal).join(', ');
    try {
      await pool.query(`DO $$ BEGIN CREATE TYPE ${qualified(type)} AS ENUM (${values}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      types.set(c.name, qualified(type));
      report.created.push(`enum type ${type.name} (${values}) for column ${c.name}`);
    } catch (err) {
      report.leftOut.push(`enum type for column ${c.name}: ${(err as Error).message} (the column is text)`);
    }
  }
  noteLossy(report, schema, full, 'postgres', new Set(types.keys()));
  const notNull = notNullColumns(full, new Set(schema.columns.map((c) => c.name)), report);
  return { types, notNull };
}

/** After the CREATE TABLE: defaults, unique constraints, indexes, checks, comments (each on its own) */
export async function afterCreate(pool: pg.Pool, t: TableName, full: FullSchema, columns: ReadonlySet<string>, report: TableReport): Promise<void> {
  const table = qualified(t);
  const step = (what: string, sql: string) => applyFact(report, 'postgres', what, () => pool.query(sql));
  for (const { column, default: d } of plannedDefaults(full, columns, 'postgres', report)) {
    await step(`default ${defaultText(d)} on ${column}`, `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column)} SET DEFAULT ${defaultText(d)}`);
  }
  for (const i of plannedIndexes(full, columns, report)) {
    const list = i.columns.map(quoteIdent).join(', ');
    const name = quoteIdent(`${t.name}_${i.name}`);
    const sql = i.unique ? `ALTER TABLE ${table} ADD CONSTRAINT ${name} UNIQUE (${list})` : `CREATE INDEX IF NOT EXISTS ${name} ON ${table} (${list})`;
    await step(indexText(i), sql);
  }
  for (const c of plannedChecks(full, 'postgres', quoteIdent, report)) {
    await step(`check ${c.name} (${c.sql})`, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(`${t.name}_${c.name}`)} CHECK (${c.sql})`);
  }
  for (const c of plannedComments(full, columns)) {
    const on = c.column === undefined ? `TABLE ${table}` : `COLUMN ${table}.${quoteIdent(c.column)}`;
    await step(commentText(c), `COMMENT ON ${on} IS ${literal(c.text)}`);
  }
}

/** At the end of the run, when every table holds its rows: the foreign keys */
export async function foreignKeys(pool: pg.Pool, t: TableName, full: FullSchema, report: TableReport): Promise<void> {
  for (const f of full.foreignKeys) {
    const ref: TableName = { schema: t.schema, name: f.refTable };
    const what = foreignKeyText(f);
    const exists = await pool
      .query('SELECT to_regclass($1) IS NOT NULL AS ok', [qualified(ref)])
      .then((r) => r.rows[0].ok as boolean)
      .catch(() => true); // the ALTER below then says what is wrong
    if (!exists) {
      report.leftOut.push(`${what}: the target has no table ${t.schema}.${f.refTable}`);
      continue;
    }
    await applyFact(report, 'postgres', what, () =>
      pool.query(
        `ALTER TABLE ${qualified(t)} ADD CONSTRAINT ${quoteIdent(`${t.name}_${f.name}`)} FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(ref)} (${f.refColumns.map(quoteIdent).join(', ')})${foreignKeyRules(f)}`,
      ),
    );
  }
}
