/**
 * What postgres.source and mysql.source share about which tables a conversion copies and what happens
 * to one that fails: the `exclude`, `keys` and `onTableError` fields, glob patterns, and the record of
 * skipped tables that the position carries (so a resumed run neither retries nor forgets them).
 */
import { z } from 'zod';
import { ConfigError } from '../../runtime/index.js';

export const tableSelectionFields = {
  exclude: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .optional()
    .describe('tables left out of what tables matches: names or patterns in the same form (sales.tmp_*, *.audit_log)'),
  keys: z
    .record(z.string(), z.array(z.string().min(1)).min(1))
    .optional()
    .describe(
      "tables without a primary key: the columns that key their records, by table ('shop.events': [event_id]); a sink then upserts by them. A keyless table not listed is read whole and written append-only (a re-run then duplicates its rows)",
    ),
  onTableError: z
    .enum(['skip', 'stop'])
    .default('skip')
    .describe('a table that cannot be read (no privilege, a value that cannot be read...): skip it, warn, and go on with the others (reported per table), or stop the flow'),
};

export const globRegex = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);

/** the `exclude` patterns as a test on `schema.table` ids; a pattern without a dot means that table in any schema */
export function exclusion(exclude: string | string[] | undefined): (schema: string, table: string) => boolean {
  const list = exclude === undefined ? [] : typeof exclude === 'string' ? [exclude] : exclude;
  const tests = list.map((p) => {
    const dot = p.indexOf('.');
    const s = dot < 0 ? /.*/ : globRegex(p.slice(0, dot));
    const t = globRegex(dot < 0 ? p : p.slice(dot + 1));
    return (schema: string, table: string) => s.test(schema) && t.test(table);
  });
  return (schema, table) => tests.some((f) => f(schema, table));
}

/** `keys` checked against the tables read: each named table must be one of them, without a primary key, with those columns */
export function checkKeys(nodeId: string, keys: Record<string, string[]> | undefined, tables: { id: string; hasKey: boolean; columns: string[] }[]): void {
  for (const [id, cols] of Object.entries(keys ?? {})) {
    const t = tables.find((x) => x.id === id);
    if (!t) throw new ConfigError(nodeId, `keys.${id}`, `${id} is not one of the tables read (${tables.map((x) => x.id).slice(0, 20).join(', ')})`);
    if (t.hasKey) throw new ConfigError(nodeId, `keys.${id}`, `table ${id} has a primary key, which keys its records: keys is for tables without one`);
    const missing = cols.filter((c) => !t.columns.includes(c));
    if (missing.length > 0) throw new ConfigError(nodeId, `keys.${id}`, `table ${id} has no column ${missing.join(', ')}; columns: ${t.columns.join(', ')}`);
  }
}

/** the warning for keyless tables without keys: written append-only, so a re-run is not idempotent */
export function appendOnlyWarning(ids: string[]): string {
  return (
    `table(s) without a primary key: ${ids.join(', ')}: read whole and written append-only (a sink inserts every row), so running the copy again, ` +
    'or resuming it mid-table, may duplicate rows. Give key columns in keys (by table) to write them by key'
  );
}

/** Tables skipped after an error (onTableError: skip), with why; carried by the position. */
export class SkippedTables {
  private readonly why = new Map<string, string>();

  restore(skipped: unknown): void {
    if (typeof skipped !== 'object' || skipped === null) return;
    for (const [id, reason] of Object.entries(skipped)) if (typeof reason === 'string') this.why.set(id, reason);
  }

  add(id: string, reason: string): void {
    this.why.set(id, reason);
  }

  has(id: string): boolean {
    return this.why.has(id);
  }

  reason(id: string): string | undefined {
    return this.why.get(id);
  }

  /** for the position: undefined while none was skipped */
  toJSON(): Record<string, string> | undefined {
    return this.why.size > 0 ? Object.fromEntries(this.why) : undefined;
  }
}
