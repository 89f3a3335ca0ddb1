/**
 * `schema: full` into PostgreSQL (nodes/shared/schema-full.ts, schema-apply.ts): what postgres.sink adds
 * to a table it creates when the records' declared schema carries the source's catalog facts. Enum value
 * sets become enum types (`<table>_<column>`, in the table's schema) before the CREATE TABLE; NOT NULL goes
 * into it; defaults, unique constraints, indexes, checks and comments follow it one statement each, so one
 * that PostgreSQL refuses is left out and reported rather than failing the table; foreign keys wait for
 * the end of the run (`afterData`, called on close), when the tables they reference hold their rows. A
 * foreign key references the table of the same name in the target table's schema (`copy.{table}`).
 * From another PostgreSQL (family `postgres`) more is kept as it is: expression defaults, checks, the
 * source's names of constraints, indexes and enum types, index methods. An auto-increment column
 * becomes serial, its sequence moved past the copied rows at the end of the run.
 */
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
import { pgTypeForSpec } from './types.js';

/** a connection of `Statements` that steps run on in turn (a search path set on it holds for the next) */
export interface StatementClient {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  release(broken?: boolean): void;
}

/** what the steps below send statements to: the sink's pool, or a test run's `dryRun` */
export interface Statements {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  connect(): Promise<StatementClient>;
}

/**
 * A test run's stand-in for the pool: runs nothing, and answers that each statement would succeed, that
 * a referenced table is there (it is, when the copy creates it), that no enum type of a name is there
 * yet and no column owns a sequence: the report then says what the steps would create.
 */
export const dryRun: Statements & StatementClient = {
  query: async () => ({ rows: [{ ok: true, labels: null, s: null }] }),
  connect: async () => dryRun,
  release: () => undefined,
};

/** the enum type a column's value set becomes: `<table>_<column>`, or from PostgreSQL the source's type name */
export const enumTypeName = (t: TableName, column: string, sourceType?: string): TableName => ({ schema: t.schema, name: sourceType ?? `${t.name}_${column}` });

/**
 * A constraint's or index's name at the target: from PostgreSQL the source's (unique in its schema
 * there too); from MySQL, whose index names are per table, prefixed with the table's.
 */
const targetName = (t: TableName, full: FullSchema, name: string) => (full.family === 'postgres' ? name : `${t.name}_${name}`);

const SERIAL: Record<string, string> = { smallint: 'smallserial', integer: 'serial', bigint: 'bigserial' };

/** the enum type made or found: `made` (new), `found` (there already with these values) or `other` (there with other values) */
async function ensureEnum(pool: Statements, type: TableName, values: string[]): Promise<'made' | 'found' | 'other'> {
  const labels = async () =>
    (await pool.query('SELECT CASE WHEN to_regtype($1) IS NOT NULL THEN ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = to_regtype($1) ORDER BY enumsortorder) END AS labels', [qualified(type)])).rows[0].labels as string[] | null;
  const same = (l: string[]) => l.length === values.length && l.every((v, i) => v === values[i]);
  const before = await labels();
  if (before) return same(before) ? 'found' : 'other';
  // another sink of the run may make it at the same moment
  await pool.query(`DO $$ BEGIN CREATE TYPE ${qualified(type)} AS ENUM (${values.map(literal).join(', ')}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  // only another sink's type with other values is 'other'; the dry run answers that no type is there
  const after = await labels();
  return after && !same(after) ? 'other' : 'made';
}

/**
 * Before the CREATE TABLE: creates the enum types and answers the column types to use instead of the
 * mapped ones (enum types, serial), and which columns are NOT NULL. Notes the lossy type mappings of the
 * other columns.
 */
export async function prepareFull(pool: Statements, t: TableName, schema: TableSchema, full: FullSchema, report: TableReport): Promise<{ types: Map<string, string>; notNull: Set<string> }> {
  const types = new Map<string, string>();
  for (const c of full.columns) {
    if (!c.enumValues) continue;
    const values = c.enumValues.map(literal).join(', ');
    // the source's type name first; a type of that name with other values: the table's own name
    const names = [...new Set([enumTypeName(t, c.name, full.family === 'postgres' ? c.enumType : undefined), enumTypeName(t, c.name)].map((n) => n.name))];
    try {
      let made: { type: TableName; how: 'made' | 'found' } | undefined;
      for (const name of names) {
        const type = { schema: t.schema, name };
        const how = await ensureEnum(pool, type, c.enumValues);
        if (how !== 'other') {
          made = { type, how };
          break;
        }
      }
      if (made) {
        types.set(c.name, qualified(made.type));
        report.created.push(made.how === 'made' ? `enum type ${made.type.name} (${values}) for column ${c.name}` : `column ${c.name} of the enum type ${made.type.name} (${values}), there already`);
      } else report.leftOut.push(`enum type for column ${c.name}: type(s) ${names.join(', ')} exist with other values (the column is text)`);
    } catch (err) {
      report.leftOut.push(`enum type for column ${c.name}: ${(err as Error).message} (the column is text)`);
    }
  }
  for (const c of full.columns) {
    if (!c.autoIncrement) continue;
    const spec = schema.columns.find((s) => s.name === c.name);
    const serial = spec ? SERIAL[pgTypeForSpec(spec, { postgis: false })] : undefined;
    if (serial) {
      types.set(c.name, serial);
      report.created.push(`${serial} on ${c.name} (its sequence goes on after the copied rows)`);
    } else report.leftOut.push(`auto-increment of ${c.name}: PostgreSQL numbers only smallint, integer and bigint columns (serial)`);
  }
  noteLossy(report, schema, full, 'postgres', new Set(types.keys()));
  const notNull = notNullColumns(full, new Set(schema.columns.map((c) => c.name)), report);
  return { types, notNull };
}

/**
 * After the CREATE TABLE: defaults, unique constraints, indexes, checks, comments (each on its own).
 * They run with the table's schema first on the search path, so names a PostgreSQL source printed
 * unqualified (an enum type in a check) mean the copies made beside the table.
 */
export async function afterCreate(pool: Statements, t: TableName, full: FullSchema, columns: ReadonlySet<string>, report: TableReport): Promise<void> {
  const table = qualified(t);
  const client = await pool.connect();
  let broken = false;
  const step = (what: string, sql: string) => applyFact(report, 'postgres', what, () => client.query(sql));
  try {
    await client.query(`SET search_path TO ${quoteIdent(t.schema)}, public`);
    for (const { column, default: d } of plannedDefaults(full, columns, 'postgres', report)) {
      await step(`default ${defaultText(d)} on ${column}`, `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column)} SET DEFAULT ${defaultText(d)}`);
    }
    for (const i of plannedIndexes(full, columns, 'postgres', report)) {
      const list = i.columns.map(quoteIdent).join(', ');
      const name = quoteIdent(targetName(t, full, i.name));
      const using = i.method ? ` USING ${quoteIdent(i.method)}` : '';
      const sql = i.unique ? `ALTER TABLE ${table} ADD CONSTRAINT ${name} UNIQUE (${list})` : `CREATE INDEX IF NOT EXISTS ${name} ON ${table}${using} (${list})`;
      await step(indexText(i), sql);
    }
    for (const c of plannedChecks(full, 'postgres', quoteIdent, columns, report)) {
      await step(`check ${c.name} (${c.sql})`, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(targetName(t, full, c.name))} CHECK (${c.sql})`);
    }
    for (const c of plannedComments(full, columns)) {
      const on = c.column === undefined ? `TABLE ${table}` : `COLUMN ${table}.${quoteIdent(c.column)}`;
      await step(commentText(c), `COMMENT ON ${on} IS ${literal(c.text)}`);
    }
    await client.query('RESET search_path').catch(() => (broken = true));
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** At the end of the run: the serial columns' sequences moved past the copied rows, then the foreign keys */
export async function afterData(pool: Statements, t: TableName, full: FullSchema, report: TableReport): Promise<void> {
  for (const c of full.columns) {
    if (!c.autoIncrement) continue;
    try {
      // a column that did not become serial owns no sequence: nothing to move
      const seq = (await pool.query('SELECT pg_get_serial_sequence($1, $2) AS s', [qualified(t), c.name])).rows[0].s as string | null;
      if (seq === null) continue;
      await pool.query(`SELECT setval($1, coalesce((SELECT max(${quoteIdent(c.name)}) FROM ${qualified(t)}), 0) + 1, false)`, [seq]);
    } catch (err) {
      report.leftOut.push(`the sequence of ${c.name} was not moved past the copied rows (${(err as Error).message}): set it with setval before inserting`);
    }
  }
  await foreignKeys(pool, t, full, report);
}

/** the foreign keys, when every table holds its rows */
async function foreignKeys(pool: Statements, t: TableName, full: FullSchema, report: TableReport): Promise<void> {
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
        `ALTER TABLE ${qualified(t)} ADD CONSTRAINT ${quoteIdent(targetName(t, full, f.name))} FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(ref)} (${f.refColumns.map(quoteIdent).join(', ')})${foreignKeyRules(f)}`,
      ),
    );
  }
}
