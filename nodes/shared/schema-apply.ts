/**
 * What the SQL sinks share when they apply `schema: full` (schema-full.ts) to a table they create:
 * deciding which facts can go to the target at all, and filling the table's conversion report. Each sink
 * (postgres/schema-ddl.ts, mysql/schema-apply.ts, sqlite/schema-apply.ts) only writes the DDL of what
 * these answer, and reports through `applyFact` what its server created or refused.
 */
import type { TableReport } from '../../runtime/index.js';
import type { TableSchema } from './columns.js';
import { lossyNote, portableCheck, type FullCheck, type FullIndex, type FullSchema, type PortableDefault } from './schema-full.js';
import type { SqlTarget } from './type-targets.js';

/** the target's name in the report's reasons */
export const TARGET_NAMES: Readonly<Record<SqlTarget, string>> = { postgres: 'PostgreSQL', mysql: 'MariaDB/MySQL', sqlite: 'SQLite' };

/** `it's` → `'it''s'` (the three targets quote string literals alike) */
export const sqlLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Runs the DDL of one fact: created on success, else left out with the server's reason (one refused fact
 * never fails the table). Answers whether it was created.
 */
export async function applyFact(report: TableReport, target: SqlTarget, what: string, run: () => unknown): Promise<boolean> {
  try {
    await run();
    report.created.push(what);
    return true;
  } catch (err) {
    report.leftOut.push(`${what}: ${TARGET_NAMES[target]} refused it (${(err as Error).message})`);
    return false;
  }
}

/** notes the lossy type mappings (docs/type-mapping.md) of the columns, but those in `skip` (typed otherwise, e.g. an enum) */
export function noteLossy(report: TableReport, schema: TableSchema, full: FullSchema, target: SqlTarget, skip: ReadonlySet<string> = new Set()): void {
  for (const spec of schema.columns) {
    if (skip.has(spec.name)) continue;
    const note = lossyNote(full.family, spec, target);
    if (note) report.lossy.push(`column ${spec.name} (${spec.source}): ${note}`);
  }
}

/** the columns declared NOT NULL at the source (and in `columns`), reported as created */
export function notNullColumns(full: FullSchema, columns: ReadonlySet<string>, report: TableReport): Set<string> {
  const names = full.columns.filter((c) => c.notNull && columns.has(c.name)).map((c) => c.name);
  for (const name of names) report.created.push(`NOT NULL on ${name}`);
  return new Set(names);
}

export type AppliedDefault = { column: string; default: Exclude<PortableDefault, { kind: 'null' }> };

/**
 * The column defaults to apply: literals and the current time, and an expression only when the target is
 * of the source's family (it means the same there); the other expressions are reported left out.
 */
export function plannedDefaults(full: FullSchema, columns: ReadonlySet<string>, target: SqlTarget, report: TableReport): AppliedDefault[] {
  const out: AppliedDefault[] = [];
  for (const c of full.columns) {
    const d = c.default;
    // an auto-increment column is numbered by the target (each sink's own way), not given a default
    if (!columns.has(c.name) || !d || d.kind === 'null' || c.autoIncrement) continue;
    if (d.kind === 'expression' && full.family !== target) {
      report.leftOut.push(`default of ${c.name}: the expression ${d.text} has no known ${TARGET_NAMES[target]} equivalent`);
      continue;
    }
    out.push({ column: c.name, default: d });
  }
  return out;
}

/** how a default reads in the report */
export function defaultText(d: AppliedDefault['default']): string {
  return d.kind === 'now' ? 'CURRENT_TIMESTAMP' : d.kind === 'literal' ? sqlLiteral(d.text) : d.text;
}

/** access methods every target's default index stands in for (hash answers only equality, which a B-tree also does) */
const PLAIN_METHODS = new Set(['btree', 'hash']);

/**
 * The indexes over plain columns of the table. Left out and reported: those over an expression, partial
 * ones (with the source's definition), those over a column the table lacks, and into another family one
 * whose access method (gin, gist ...) the target has no equivalent of.
 */
export function plannedIndexes(full: FullSchema, columns: ReadonlySet<string>, target: SqlTarget, report: TableReport): FullIndex[] {
  return full.indexes.flatMap((i) => {
    const source = i.definition ? ` (at the source: ${i.definition})` : '';
    const missing = i.columns.filter((c) => c !== '' && !columns.has(c));
    if (i.columns.includes('')) report.leftOut.push(`index ${i.name}: it is over an expression${source}`);
    else if (i.where !== undefined) report.leftOut.push(`index ${i.name}: it is partial (WHERE ${i.where})${source}`);
    else if (missing.length > 0) report.leftOut.push(`index ${i.name}: the table has no column ${missing.join(', ')}`);
    else if (!i.method || full.family === target) return [i];
    else if (!PLAIN_METHODS.has(i.method)) report.leftOut.push(`${indexText(i)}: ${TARGET_NAMES[target]} has no ${i.method} index`);
    else {
      report.lossy.push(`index ${i.name}: ${i.method} at the source, ${TARGET_NAMES[target]}'s default index here`);
      return [{ ...i, method: undefined }];
    }
    return [];
  });
}

/** how an index reads in the report */
export const indexText = (i: FullIndex, columns = i.columns.join(', ')) => `${i.unique ? 'unique constraint' : 'index'} ${i.name}${i.method ? ` using ${i.method}` : ''} (${columns})`;

/**
 * The checks to apply, each with its clause for the target: as the source prints it when the target is of
 * the source's family, else its portable form (portableCheck, over the table's `columns`); the others are
 * reported left out.
 */
export function plannedChecks(full: FullSchema, target: SqlTarget, quote: (ident: string) => string, columns: ReadonlySet<string>, report: TableReport): (FullCheck & { sql: string })[] {
  const out: (FullCheck & { sql: string })[] = [];
  for (const c of full.checks) {
    const sql = full.family === target ? c.clause : portableCheck(c.clause, quote, full.family, columns);
    if (sql === undefined) report.leftOut.push(`check ${c.name} (${c.clause}): it uses functions or operators that differ on ${TARGET_NAMES[target]}`);
    else out.push({ ...c, sql });
  }
  return out;
}

/** the comments of the table and of its columns in `columns` */
export function plannedComments(full: FullSchema, columns: ReadonlySet<string>): { column?: string; text: string }[] {
  const out: { column?: string; text: string }[] = full.comment ? [{ text: full.comment }] : [];
  for (const c of full.columns) if (c.comment && columns.has(c.name)) out.push({ column: c.name, text: c.comment });
  return out;
}

/** how a comment reads in the report */
export const commentText = (c: { column?: string }) => (c.column === undefined ? 'comment on the table' : `comment on column ${c.column}`);

/** the referential actions the three targets share */
const RULES = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION']);

/** ` ON DELETE … ON UPDATE …` of a foreign key, the actions the targets know */
export function foreignKeyRules(f: { onDelete?: string; onUpdate?: string }): string {
  return [f.onDelete && RULES.has(f.onDelete) ? ` ON DELETE ${f.onDelete}` : '', f.onUpdate && RULES.has(f.onUpdate) ? ` ON UPDATE ${f.onUpdate}` : ''].join('');
}

/** how a foreign key reads in the report */
export const foreignKeyText = (f: { name: string; columns: string[]; refTable: string; refColumns: string[] }) =>
  `foreign key ${f.name} (${f.columns.join(', ')}) → ${f.refTable} (${f.refColumns.join(', ')})`;
