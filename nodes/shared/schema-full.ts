/**
 * `schema: full`: the table facts beyond columns and key that a database source reads from its catalog
 * when asked (nodes/mysql/schema-ddl.ts) and a sink that creates the table applies where they mean the
 * same on the target (nodes/postgres/schema-ddl.ts): NOT NULL, defaults, unique constraints, secondary
 * indexes, foreign keys (created after the data), CHECK constraints, enum value sets, comments. Travels
 * as `TableSchema.full` (columns.ts). Every fact a sink applies, maps lossy or leaves out goes into the
 * table's conversion report (`TableReport`, runtime/node-api.ts), which the run summary carries.
 */
import type { ColumnSpec } from './columns.js';
import { SOURCE_TYPES, type SourceFamily, type TargetFamily } from './type-mapping.js';
import type { TableReport } from '../../runtime/index.js';

/** what the table is created with: `keys` (key columns NOT NULL, the primary key; the default) or everything below */
export const SCHEMA_MODES = ['keys', 'full'] as const;
export type SchemaMode = (typeof SCHEMA_MODES)[number];

/** a column default in portable terms: a literal (its text), the current time, or an expression only its source understands */
export type PortableDefault = { kind: 'literal'; text: string } | { kind: 'null' } | { kind: 'now' } | { kind: 'expression'; text: string };

export interface FullColumn {
  name: string;
  notNull: boolean;
  default?: PortableDefault;
  /** ENUM('a','b'): the values in order */
  enumValues?: string[];
  /** the source's name of the enum type, where it has one (PostgreSQL) */
  enumType?: string;
  /** numbered by the database (MySQL AUTO_INCREMENT, a PostgreSQL serial or identity column) */
  autoIncrement?: boolean;
  comment?: string;
}

export interface FullIndex {
  name: string;
  columns: string[];
  unique: boolean;
  /** a partial index: its condition as the source prints it */
  where?: string;
  /** an access method other than the default B-tree (PostgreSQL gin, gist, hash ...) */
  method?: string;
  /** the source's own statement for the index (for the report, when it is left out) */
  definition?: string;
}

export interface FullForeignKey {
  name: string;
  columns: string[];
  /** the referenced table's name at the source, without its schema / database */
  refTable: string;
  refColumns: string[];
  onDelete?: string;
  onUpdate?: string;
}

export interface FullCheck {
  name: string;
  /** the clause as the source prints it */
  clause: string;
}

export interface FullSchema {
  family: SourceFamily;
  columns: FullColumn[];
  /** indexes other than the primary key (unique ones are unique constraints at the target) */
  indexes: FullIndex[];
  foreignKeys: FullForeignKey[];
  checks: FullCheck[];
  comment?: string;
}

/** an empty report for a table, filled as the sink goes */
export function newReport(table: string, source?: string): TableReport {
  return { table, ...(source ? { source } : {}), created: [], lossy: [], leftOut: [] };
}

/** the lossy facts of docs/type-mapping.md (type-mapping.ts) that apply to a column on its way to `target` */
export function lossyNote(family: SourceFamily, spec: ColumnSpec, target: TargetFamily): string | undefined {
  const rows = SOURCE_TYPES.filter((t) => t.family === family && t.lossy?.[target] !== undefined);
  const src = spec.source.toLowerCase();
  const bare = src.replace(/\(\d+\)/, '').trim();
  const base = bare.split(/[\s(]/)[0];
  const unsigned = / unsigned/.test(bare);
  const hit =
    rows.find((t) => t.declare.toLowerCase() === src || t.declare.toLowerCase() === bare) ??
    rows.find((t) => {
      const d = t.declare.toLowerCase();
      return d.split(/[\s(]/)[0] === base && / unsigned/.test(d) === unsigned && t.spec.kind === spec.kind;
    });
  return hit?.lossy?.[target];
}

/**
 * A MySQL / MariaDB CHECK clause in the SQL both sides read alike, or undefined when it uses anything
 * beyond column names, numbers, string literals, comparisons, AND / OR / NOT, IS [NOT] NULL, IN, BETWEEN
 * and parentheses (functions and operators differ between the two: such a check is left out).
 */
export function portableCheck(clause: string, quote: (ident: string) => string): string | undefined {
  const token = /\s+|`((?:[^`]|``)+)`|'((?:[^'\\]|''|\\.)*)'|(\d+(?:\.\d+)?)|(<>|!=|<=|>=|=|<|>|\(|\)|,|-|\+)|([A-Za-z_][A-Za-z0-9_]*)/y;
  const words = new Set(['and', 'or', 'not', 'is', 'null', 'in', 'between', 'true', 'false']);
  let out = '';
  let at = 0;
  while (at < clause.length) {
    token.lastIndex = at;
    const m = token.exec(clause);
    if (!m) return undefined;
    at = token.lastIndex;
    if (m[1] !== undefined) out += quote(m[1].replaceAll('``', '`'));
    else if (m[2] !== undefined) {
      if (m[2].includes('\\')) return undefined;
      out += `'${m[2]}'`;
    } else if (m[3] !== undefined || m[4] !== undefined) out += m[3] ?? (m[4] === '!=' ? '<>' : m[4]);
    else if (m[5] !== undefined) {
      if (!words.has(m[5].toLowerCase())) return undefined;
      out += ` ${m[5].toUpperCase()} `;
    } else out += ' ';
  }
  return out.replace(/\s+/g, ' ').trim();
}
