/**
 * `schema: full` into MySQL / MariaDB (nodes/shared/schema-full.ts, schema-apply.ts): what mysql.sink adds
 * to a table it creates when the records' declared schema carries the source's catalog facts. Into the
 * CREATE TABLE: enum value sets as ENUM(...) column types, NOT NULL, comments, AUTO_INCREMENT. After it, one statement
 * each, so one the server refuses is reported left out rather than failing the table: defaults, unique
 * constraints, indexes, checks. Foreign keys wait for the end of the run (`foreignKeys`, called on close),
 * when the tables they reference hold their rows; one references the table of the same name in the
 * target table's database.
 *
 * Key length: InnoDB indexes at most 3,072 bytes of a key. MariaDB shortens an index over a longer column
 * (TEXT, BLOB, a long VARCHAR) to a prefix by itself and makes such a unique constraint a hash (USING
 * HASH); what it did is read back from information_schema and reported. MySQL refuses instead: an index
 * is then retried over prefixes, a unique constraint is left out (a prefix would refuse rows the source holds).
 *
 * The steps run on a `DdlTarget`: the sink's pool, or in a test run `dryRun`, which runs nothing and
 * answers for the server what key-length.ts predicts, so the plan is made by these same steps.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { TableSchema } from '../shared/columns.js';
import type { FullIndex, FullSchema } from '../shared/schema-full.js';
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
} from '../shared/schema-apply.js';
import type { TableReport } from '../../runtime/index.js';
import { qualified, quoteIdent, type ServerInfo } from './connection.js';
import { fitKey, madeIndex, type KeyPart, type MadeIndex } from './key-length.js';

/** a string literal: MySQL and MariaDB read a backslash in one as an escape (unless NO_BACKSLASH_ESCAPES) */
const literal = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** the longest comment MySQL and MariaDB keep, in characters */
const COLUMN_COMMENT_MAX = 1024;
const TABLE_COMMENT_MAX = 2048;

export interface CreateFacts {
  /** the column definition to use for a column, from its mapped one */
  column(name: string, mapped: string): string;
  /** a column's type as created (an ENUM instead of the mapped type): what afterCreate sizes its indexes by */
  type(name: string, mapped: string): string;
  /** ` COMMENT '…'` of the table, or '' */
  tableOptions: string;
  /** the reported facts the CREATE TABLE holds, once it ran */
  created(report: TableReport): void;
}

/**
 * Before the CREATE TABLE: the ENUM types, NOT NULL and comments that go into it. Notes the lossy type
 * mappings of the other columns. `columns`: the table's columns; `keys` are NOT NULL already.
 */
export function createFacts(schema: TableSchema, full: FullSchema, columns: ReadonlySet<string>, keys: readonly string[], report: TableReport): CreateFacts {
  const enums = new Map(full.columns.filter((c) => c.enumValues && columns.has(c.name)).map((c) => [c.name, `ENUM(${c.enumValues!.map(literal).join(', ')})`]));
  noteLossy(report, schema, full, 'mysql', new Set(enums.keys()));
  const notNull = new Set([...notNullColumns(full, columns, report)].filter((c) => !keys.includes(c)));
  const comments = new Map<string | undefined, string>();
  const done: string[] = [...[...enums].map(([name, type]) => `${type} for column ${name}`)];
  for (const c of plannedComments(full, columns)) {
    const max = c.column === undefined ? TABLE_COMMENT_MAX : COLUMN_COMMENT_MAX;
    if ([...c.text].length > max) report.leftOut.push(`${commentText(c)}: longer than the ${max} characters MariaDB/MySQL keep`);
    else {
      comments.set(c.column, c.text);
      done.push(commentText(c));
    }
  }
  const defaults = new Set(full.columns.filter((c) => c.default && c.default.kind !== 'null').map((c) => c.name));
  const numbered = autoIncrement(full, columns, keys, report);
  if (numbered) done.push(`AUTO_INCREMENT on ${numbered}`);
  return {
    type: (name, mapped) => enums.get(name) ?? mapped,
    column(name, mapped) {
      let def = enums.get(name) ?? mapped;
      if (name === numbered) {
        if (!/^(?:TINY|SMALL|MEDIUM|BIG)?INT\b/i.test(def)) {
          report.leftOut.push(`auto-increment of ${name}: the column is ${def}, MariaDB/MySQL number only integer columns`);
          done.splice(done.indexOf(`AUTO_INCREMENT on ${numbered}`), 1);
        } else def = `${def} AUTO_INCREMENT`;
      }
      if (notNull.has(name)) {
        // a TIMESTAMP column is created NULL DEFAULT NULL (type-targets.ts): a declared NOT NULL replaces that,
        // with a default, since a server with explicit_defaults_for_timestamp off would add ON UPDATE CURRENT_TIMESTAMP
        const ts = /^(TIMESTAMP(?:\((\d)\))?) NULL DEFAULT NULL$/.exec(def);
        if (ts && !defaults.has(name)) report.lossy.push(`column ${name}: TIMESTAMP NOT NULL without a default at the source, DEFAULT CURRENT_TIMESTAMP here (so no server adds ON UPDATE CURRENT_TIMESTAMP)`);
        def = ts ? `${ts[1]} NOT NULL DEFAULT CURRENT_TIMESTAMP${ts[2] && ts[2] !== '0' ? `(${ts[2]})` : ''}` : `${def} NOT NULL`;
      }
      const comment = comments.get(name);
      return comment === undefined ? def : `${def} COMMENT ${literal(comment)}`;
    },
    tableOptions: comments.has(undefined) ? ` COMMENT = ${literal(comments.get(undefined)!)}` : '',
    created(r) {
      r.created.push(...done);
    },
  };
}

/**
 * The column to number with AUTO_INCREMENT: MySQL / MariaDB number one column per table, which must lead
 * an index; the primary key's first column here. The others are reported left out. The server moves the
 * counter past the copied values by itself.
 */
function autoIncrement(full: FullSchema, columns: ReadonlySet<string>, keys: readonly string[], report: TableReport): string | undefined {
  let numbered: string | undefined;
  for (const c of full.columns) {
    if (!c.autoIncrement || !columns.has(c.name)) continue;
    if (numbered === undefined && c.name === keys[0]) numbered = c.name;
    else report.leftOut.push(`auto-increment of ${c.name}: MariaDB/MySQL number only one column, the first of the primary key`);
  }
  return numbered;
}

/**
 * What the steps below run on: the sink's pool (`onPool`), or a test run's `dryRun`, which runs nothing
 * and answers as the server would where its answer can be predicted (key-length.ts).
 */
export interface DdlTarget {
  readonly server: ServerInfo;
  /** runs one DDL statement; a refusal throws */
  run(sql: string): Promise<unknown>;
  /** runs the ADD INDEX `sql` over `parts` and answers how the server made index `name` (undefined: not known); a refusal throws */
  addIndex(sql: string, at: { db: string; table: string; name: string; unique: boolean }, parts: KeyPart[]): Promise<MadeIndex | undefined>;
  /** whether database `db` holds `table` */
  hasTable(db: string, table: string): Promise<boolean>;
}

/** the sink's pool: runs each statement, and reads back from information_schema what the server made of an index */
export function onPool(pool: Pool, server: ServerInfo): DdlTarget {
  return {
    server,
    run: (sql) => pool.query(sql),
    async addIndex(sql, at) {
      await pool.query(sql);
      // MariaDB shortens a long key by itself: what it made is read back
      const [rows] = await pool
        .query<RowDataPacket[]>(
          'SELECT COLUMN_NAME AS col, SUB_PART AS part, INDEX_TYPE AS type FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX',
          [at.db, at.table, at.name],
        )
        .catch(() => [[] as RowDataPacket[]] as const); // created all the same; only what the server made of it is unknown
      if (rows.length === 0) return undefined;
      return { parts: rows.map((r) => ({ column: String(r.col), prefix: r.part === null ? null : Number(r.part) })), hash: rows.some((r) => String(r.type).toUpperCase() === 'HASH') };
    },
    async hasTable(db, table) {
      const [rows] = await pool
        .query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table])
        .catch(() => [[{}] as RowDataPacket[]] as const); // the ALTER then says what is wrong
      return rows.length > 0;
    },
  };
}

/**
 * A test run's stand-in for the pool: runs nothing; answers that each statement would succeed, that an
 * index is made as key-length.ts predicts for `server` (or refused as it predicts), and that a referenced
 * table is there (it is, when the copy creates it): the report then says what the copy would do.
 */
export function dryRun(server: ServerInfo): DdlTarget {
  return {
    server,
    run: async () => undefined,
    addIndex: async (_sql, at, parts) => madeIndex(parts, at.unique, server),
    hasTable: async () => true,
  };
}

/** After the CREATE TABLE: defaults, unique constraints, indexes, checks (each on its own). `types`: each column's type as created */
export async function afterCreate(target: DdlTarget, db: string, table: string, full: FullSchema, types: ReadonlyMap<string, string>, report: TableReport): Promise<void> {
  const t = qualified(db, table);
  const columns = new Set(types.keys());
  for (const { column, default: d } of plannedDefaults(full, columns, 'mysql', report)) {
    const type = types.get(column)!;
    let value: string;
    if (d.kind === 'now') {
      // only DATETIME and TIMESTAMP take the current time, at their own fraction
      const m = /^(DATETIME|TIMESTAMP)(?:\((\d)\))?/i.exec(type);
      if (!m) {
        report.leftOut.push(`default CURRENT_TIMESTAMP on ${column}: the column is ${type}, which takes no current-time default`);
        continue;
      }
      value = m[2] && m[2] !== '0' ? `CURRENT_TIMESTAMP(${m[2]})` : 'CURRENT_TIMESTAMP';
    } else value = d.kind === 'literal' ? literal(d.text) : `(${d.text})`;
    await applyFact(report, 'mysql', `default ${defaultText(d)} on ${column}`, () => target.run(`ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(column)} SET DEFAULT ${value}`));
  }
  for (const i of plannedIndexes(full, columns, 'mysql', report)) await addIndex(target, db, table, full, i, types, report);
  for (const c of plannedChecks(full, 'mysql', (s) => quoteIdent(s), columns, report)) {
    await applyFact(report, 'mysql', `check ${c.name} (${c.sql})`, () => target.run(`ALTER TABLE ${t} ADD CONSTRAINT ${quoteIdent(c.name)} CHECK (${c.sql})`));
  }
}

/** one index or unique constraint, with what the server made of a key longer than InnoDB's */
async function addIndex(target: DdlTarget, db: string, table: string, full: FullSchema, i: FullIndex, types: ReadonlyMap<string, string>, report: TableReport): Promise<void> {
  const at = { db, table, name: i.name, unique: i.unique };
  const partsWith = (prefixOf: (column: string, n: number) => number | null): KeyPart[] => i.columns.map((c, n) => ({ column: c, type: types.get(c) ?? '', prefix: prefixOf(c, n) }));
  const shown = (parts: readonly { column: string; prefix: number | null }[]) => parts.map((p) => (p.prefix === null ? p.column : `${p.column}(${p.prefix})`));
  const add = (parts: KeyPart[]) =>
    target.addIndex(`ALTER TABLE ${qualified(db, table)} ADD ${i.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(i.name)} (${shown(parts.map((p) => ({ ...p, column: quoteIdent(p.column) }))).join(', ')})`, at, parts);
  // the source's prefixes (MySQL / MariaDB) mean the same here
  const prefix = (n: number) => (full.family === 'mysql' ? (i.prefixes?.[n] ?? null) : null);
  let made: MadeIndex | undefined;
  try {
    made = await add(partsWith((_, n) => prefix(n)));
  } catch (err) {
    const code = (err as { errno?: number }).errno;
    // 1170: BLOB/TEXT without a key length; 1071: key too long (MySQL)
    if (i.unique || (code !== 1170 && code !== 1071)) {
      const why = i.unique && (code === 1170 || code === 1071) ? ': a prefix would refuse rows that differ only after it' : '';
      report.leftOut.push(`${indexText(i)}: MariaDB/MySQL refused it (${(err as Error).message})${why}`);
      return;
    }
    // retried over prefixes that fit the key beside its fixed-size columns (key-length.ts)
    const asked = partsWith((_, n) => prefix(n));
    const parts = fitKey(asked);
    if (!parts) {
      report.leftOut.push(`${indexText(i)}: MariaDB/MySQL refused it (${(err as Error).message}) and no prefixes of its columns fit the key`);
      return;
    }
    if (!(await applyFact(report, 'mysql', indexText(i, shown(parts).join(', ')), () => add(parts)))) return;
    for (const [n, p] of parts.entries()) if (p.prefix !== asked[n].prefix) report.lossy.push(`index ${i.name}: only the first ${p.prefix} characters of ${p.column} are indexed (InnoDB's key length limit)`);
    return;
  }
  const parts = made?.parts ?? [];
  report.created.push(`${indexText(i, parts.length > 0 ? shown(parts).join(', ') : undefined)}${made?.hash ? ' USING HASH' : ''}`);
  for (const [n, p] of parts.entries()) if (p.prefix !== null && p.prefix !== prefix(n)) report.lossy.push(`index ${i.name}: only the first ${p.prefix} characters of ${p.column} are indexed (InnoDB's key length limit)`);
  if (made?.hash && target.server.mariadb) report.lossy.push(`unique constraint ${i.name}: kept as a hash of the values (MariaDB's long unique key), not a B-tree index`);
}

/** At the end of the run, when every table holds its rows: the foreign keys */
export async function foreignKeys(target: DdlTarget, db: string, table: string, full: FullSchema, report: TableReport): Promise<void> {
  for (const f of full.foreignKeys) {
    const what = foreignKeyText(f);
    if (!(await target.hasTable(db, f.refTable))) {
      report.leftOut.push(`${what}: the target has no table ${db}.${f.refTable}`);
      continue;
    }
    await applyFact(report, 'mysql', what, () =>
      target.run(
        `ALTER TABLE ${qualified(db, table)} ADD CONSTRAINT ${quoteIdent(f.name)} FOREIGN KEY (${f.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(db, f.refTable)} (${f.refColumns.map(quoteIdent).join(', ')})${foreignKeyRules(f)}`,
      ),
    );
  }
}
