/**
 * `schema: full` into PostgreSQL (nodes/shared/schema-full.ts): what postgres.sink adds to a table it
 * creates when the records' declared schema carries the source's catalog facts. Enum value sets become
 * enum types (`<table>_<column>`, in the table's schema) before the CREATE TABLE; NOT NULL goes into it;
 * defaults, unique constraints, indexes, checks and comments follow it one statement each, so one that
 * PostgreSQL refuses is left out and reported rather than failing the table; foreign keys wait for the
 * end of the run (`foreignKeys`, called on close), when the tables they reference hold their rows. A
 * foreign key references the table of the same name in the target table's schema (`copy.{table}`).
 */
import type { TableSchema } from '../shared/columns.js';
import { lossyNote, portableCheck, type FullSchema } from '../shared/schema-full.js';
import type { TableReport } from '../../runtime/index.js';
import { qualified, quoteIdent, type TableName } from './connection.js';

/** what the steps below send statements to: the sink's pool, or a test run's `dryRun` */
export interface Statements {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/**
 * A test run's stand-in for the pool: runs nothing, and answers that each statement would succeed and
 * that a referenced table is there (it is, when the copy creates it): the report then says what the
 * steps would create.
 */
export const dryRun: Statements = { query: async () => ({ rows: [{ ok: true }] }) };

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** the enum type a column's value set becomes */
export const enumTypeName = (t: TableName, column: string): TableName => ({ schema: t.schema, name: `${t.name}_${column}` });

/**
 * Before the CREATE TABLE: creates the enum types and answers the column types to use instead of the
 * mapped ones, and which columns are NOT NULL. Notes the lossy type mappings of the other columns.
 */
export async function prepareFull(pool: Statements, t: TableName, schema: TableSchema, full: FullSchema, report: TableReport): Promise<{ types: Map<string, string>; notNull: Set<string> }> {
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
  for (const spec of schema.columns) {
    if (types.has(spec.name)) continue;
    const note = lossyNote(full.family, spec, 'postgres');
    if (note) report.lossy.push(`column ${spec.name} (${spec.source}): ${note}`);
  }
  const notNull = new Set(full.columns.filter((c) => c.notNull).map((c) => c.name));
  for (const name of notNull) report.created.push(`NOT NULL on ${name}`);
  return { types, notNull };
}

/** After the CREATE TABLE: defaults, unique constraints, indexes, checks, comments (each on its own) */
export async function afterCreate(pool: Statements, t: TableName, full: FullSchema, columns: ReadonlySet<string>, report: TableReport): Promise<void> {
  const table = qualified(t);
  const step = async (what: string, sql: string) => {
    try {
      await pool.query(sql);
      report.created.push(what);
    } catch (err) {
      report.leftOut.push(`${what}: PostgreSQL refused it (${(err as Error).message})`);
    }
  };
  for (const c of full.columns) {
    if (!columns.has(c.name)) continue;
    const d = c.default;
    if (!d || d.kind === 'null') continue;
    if (d.kind === 'expression') {
      report.leftOut.push(`default of ${c.name}: the expression ${d.text} has no known PostgreSQL equivalent`);
      continue;
    }
    const value = d.kind === 'now' ? 'CURRENT_TIMESTAMP' : literal(d.text);
    await step(`default ${d.kind === 'now' ? 'CURRENT_TIMESTAMP' : literal(d.text)} on ${c.name}`, `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT ${value}`);
  }
  for (const i of full.indexes) {
    const cols = i.columns;
    if (cols.some((c) => c === '' || !columns.has(c))) {
      report.leftOut.push(`index ${i.name}: it is over an expression or a column the table does not have`);
      continue;
    }
    const list = cols.map(quoteIdent).join(', ');
    const name = quoteIdent(`${t.name}_${i.name}`);
    if (i.unique) await step(`unique constraint ${i.name} (${cols.join(', ')})`, `ALTER TABLE ${table} ADD CONSTRAINT ${name} UNIQUE (${list})`);
    else await step(`index ${i.name} (${cols.join(', ')})`, `CREATE INDEX IF NOT EXISTS ${name} ON ${table} (${list})`);
  }
  for (const c of full.checks) {
    const clause = portableCheck(c.clause, quoteIdent);
    if (clause === undefined) {
      report.leftOut.push(`check ${c.name} (${c.clause}): it uses functions or operators that differ on PostgreSQL`);
      continue;
    }
    await step(`check ${c.name} (${clause})`, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(`${t.name}_${c.name}`)} CHECK (${clause})`);
  }
  if (full.comment) await step('comment on the table', `COMMENT ON TABLE ${table} IS ${literal(full.comment)}`);
  for (const c of full.columns) {
    if (c.comment && columns.has(c.name)) await step(`comment on column ${c.name}`, `COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${literal(c.comment)}`);
  }
}

const RULES = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION']);

/** At the end of the run, when every table holds its rows: the foreign keys */
export async function foreignKeys(pool: Statements, t: TableName, full: FullSchema, report: TableReport): Promise<void> {
  for (const f of full.foreignKeys) {
    const ref: TableName = { schema: t.schema, name: f.refTable };
    const what = `foreign key ${f.name} (${f.columns.join(', ')}) → ${f.refTable} (${f.refColumns.join(', ')})`;
    const rules = [f.onDelete && RULES.has(f.onDelete) ? ` ON DELETE ${f.onDelete}` : '', f.onUpdate && RULES.has(f.onUpdate) ? ` ON UPDATE ${f.onUpdate}` : ''].join('');
    try {
      const exists = (await pool.query('SELECT to_regclass($1) IS NOT NULL AS ok', [qualified(ref)])).rows[0].ok as boolean;
      if (!exists) {
        report.leftOut.push(`${what}: the target has no table ${t.schema}.${f.refTable}`);
        continue;
      }
      await pool.query(
        `ALTER TABLE ${qualified(t)} ADD CONSTRAINT ${quoteIdent(`${t.name}_${f.name}`)} FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(ref)} (${f.refColumns.map(quoteIdent).join(', ')})${rules}`,
      );
      report.created.push(what);
    } catch (err) {
      report.leftOut.push(`${what}: PostgreSQL refused it (${(err as Error).message})`);
    }
  }
}
