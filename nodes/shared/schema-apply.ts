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
    if (!columns.has(c.name) || !d || d.kind === 'null') continue;
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

/** the indexes over plain columns of the table; those over an expression or a missing column are reported left out */
export function plannedIndexes(full: FullSchema, columns: ReadonlySet<string>, report: TableReport): FullIndex[] {
  return full.indexes.filter((i) => {
    const ok = i.columns.every((c) => c !== '' && columns.has(c));
    if (!ok) report.leftOut.push(`index ${i.name}: it is over an expression or a column the table does not have`);
    return ok;
  });
}

/** how an index reads in the report */
export const indexText = (i: FullIndex, columns = i.columns.join(', ')) => `${i.unique ? 'unique constraint' : 'index'} ${i.name} (${columns})`;

/**
 * The checks to apply, each with its clause for the target: as the source prints it when the target is of
 * the source's family, else its portable form (portableCheck); the others are reported left out.
 */
export function plannedChecks(full: FullSchema, target: SqlTarget, quote: (ident: string) => string, report: TableReport): (FullCheck & { sql: string })[] {
  const out: (FullCheck & { sql: string })[] = [];
  for (const c of full.checks) {
    const sql = full.family === target ? c.clause : full.family === 'mysql' ? portableCheck(c.clause, quote) : undefined;
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
