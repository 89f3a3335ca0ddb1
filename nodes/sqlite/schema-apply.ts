/**
 * `schema: full` into SQLite (nodes/shared/schema-full.ts, schema-apply.ts): what sqlite.sink adds to a
 * table it creates when the records' declared schema carries the source's catalog facts. SQLite cannot
 * add a constraint to an existing table, so NOT NULL, literal and CURRENT_TIMESTAMP defaults, enum value
 * sets (as CHECK (col IN (...))), portable checks and foreign keys all go into the CREATE TABLE (an
 * auto-increment lone INTEGER key is the rowid, numbered by SQLite as it is); unique
 * constraints and indexes are created at the end of the run, after the data (`indexes`, on close).
 * Comments are left out: SQLite has none.
 *
 * SQLite checks foreign keys only on connections with PRAGMA foreign_keys = ON (better-sqlite3 turns it on):
 * the sink writes a table that declares some with it off (`writesUnchecked`), since the tables arrive one
 * after the other, not in the order their references need. A foreign key references the table of the
 * source's name; one the database lacks at the end of the run is reported (`indexes`).
 */
import type { TableReport } from '../../runtime/index.js';
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
  sqlLiteral,
} from '../shared/schema-apply.js';
import { quoteIdent, tableInfo, type DB } from './sql.js';

/** whether the declared facts ask for foreign key checks off on the sink's connection */
export const writesUnchecked = (full: FullSchema | undefined) => (full?.foreignKeys.length ?? 0) > 0;

export interface CreateFacts {
  /** what follows a column's type in the CREATE TABLE */
  column(name: string): string;
  /** the table constraints (checks, foreign keys), each with its leading comma */
  constraints: string;
  /** the reported facts the CREATE TABLE holds, once it ran */
  created(report: TableReport): void;
}

/**
 * Before the CREATE TABLE: what goes into it. `columns`: the table's columns; `keys`: its primary key;
 * `typeOf`: a column's declared type there.
 */
export function createFacts(schema: TableSchema, full: FullSchema, columns: ReadonlySet<string>, keys: readonly string[], typeOf: (column: string) => string, report: TableReport): CreateFacts {
  noteLossy(report, schema, full, 'sqlite');
  const scratch: TableReport = { ...report, created: [] };
  const notNull = notNullColumns(full, columns, scratch);
  const done = [...scratch.created];
  for (const c of full.columns) {
    if (!c.autoIncrement || !columns.has(c.name)) continue;
    // a lone INTEGER primary key is the rowid: SQLite numbers a new row after the largest
    if (keys.length === 1 && keys[0] === c.name && typeOf(c.name).toUpperCase() === 'INTEGER') done.push(`INTEGER PRIMARY KEY on ${c.name} (the rowid, numbered after the copied rows)`);
    else report.leftOut.push(`auto-increment of ${c.name}: SQLite numbers only a primary key of one INTEGER column (its rowid)`);
  }
  const extra = new Map<string, string[]>();
  const add = (column: string, sql: string) => extra.set(column, [...(extra.get(column) ?? []), sql]);
  for (const name of notNull) add(name, 'NOT NULL');
  for (const { column, default: d } of plannedDefaults(full, columns, 'sqlite', report)) {
    add(column, `DEFAULT ${d.kind === 'now' ? 'CURRENT_TIMESTAMP' : sqlLiteral(d.text)}`);
    done.push(`default ${defaultText(d)} on ${column}`);
    if (d.kind === 'now') report.lossy.push(`default of ${column}: SQLite's CURRENT_TIMESTAMP is UTC text 'YYYY-MM-DD HH:MM:SS', without fractions of a second`);
  }
  for (const c of full.columns) {
    if (!c.enumValues || !columns.has(c.name)) continue;
    const values = c.enumValues.map(sqlLiteral).join(', ');
    add(c.name, `CHECK (${quoteIdent(c.name)} IN (${values}))`);
    done.push(`check ${c.name} IN (${values}) for the enum column ${c.name}`);
  }
  const constraints: string[] = [];
  for (const c of plannedChecks(full, 'sqlite', quoteIdent, columns, report)) {
    constraints.push(`, CONSTRAINT ${quoteIdent(c.name)} CHECK (${c.sql})`);
    done.push(`check ${c.name} (${c.sql})`);
  }
  for (const f of full.foreignKeys) {
    if (!f.columns.every((c) => columns.has(c))) {
      report.leftOut.push(`${foreignKeyText(f)}: the table has no column ${f.columns.filter((c) => !columns.has(c)).join(', ')}`);
      continue;
    }
    constraints.push(
      `, CONSTRAINT ${quoteIdent(f.name)} FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${quoteIdent(f.refTable)} (${f.refColumns.map(quoteIdent).join(', ')})${foreignKeyRules(f)}`,
    );
    done.push(foreignKeyText(f));
    report.lossy.push(`${foreignKeyText(f)}: in the CREATE TABLE (SQLite cannot add one later), so not checked against the rows copied; SQLite enforces it only on connections with PRAGMA foreign_keys = ON`);
  }
  for (const c of plannedComments(full, columns)) report.leftOut.push(`${commentText(c)}: SQLite has no comments`);
  return {
    column: (name) => (extra.has(name) ? ` ${extra.get(name)!.join(' ')}` : ''),
    constraints: constraints.join(''),
    created(r) {
      r.created.push(...done);
    },
  };
}

/** what `indexes` runs on: the sink's database (`onDatabase`), or a test run's `dryRun` */
export interface IndexTarget {
  exec(sql: string): unknown;
  hasTable(name: string): boolean;
}

export const onDatabase = (db: DB): IndexTarget => ({ exec: (sql) => db.exec(sql), hasTable: (name) => tableInfo(db, name) !== undefined });

/**
 * A test run's stand-in for the database: runs nothing, and answers that a referenced table is there (it
 * is, when the copy creates it): the report then says what the copy would create.
 */
export const dryRun: IndexTarget = { exec: () => undefined, hasTable: () => true };

/**
 * At the end of the run, after the data: unique constraints and indexes (unique indexes), each on its
 * own; and a word on each foreign key whose table the database does not have.
 */
export async function indexes(db: IndexTarget, table: string, full: FullSchema, columns: ReadonlySet<string>, report: TableReport): Promise<void> {
  for (const f of full.foreignKeys) {
    if (f.columns.every((c) => columns.has(c)) && !db.hasTable(f.refTable)) report.lossy.push(`${foreignKeyText(f)}: the database has no table ${f.refTable}, so it references nothing yet`);
  }
  for (const i of plannedIndexes(full, columns, 'sqlite', report)) {
    // index names are the database's, not the table's: prefixed with the table
    const sql = `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${quoteIdent(`${table}_${i.name}`)} ON ${quoteIdent(table)} (${i.columns.map(quoteIdent).join(', ')})`;
    await applyFact(report, 'sqlite', indexText(i), () => db.exec(sql));
  }
}
