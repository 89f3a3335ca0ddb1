/**
 * `schema: full`: the table facts beyond columns and key that a database source reads from its catalog
 * when asked (nodes/mysql/schema-ddl.ts, nodes/postgres/schema-catalog.ts) and a sink that creates the
 * table applies where they mean the same on the target (schema-apply.ts, and each sink's schema-ddl /
 * schema-apply): NOT NULL, defaults, auto-increment, unique constraints, secondary indexes, foreign keys
 * (created after the data), CHECK constraints, enum value sets, comments. Travels
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
  /** MySQL / MariaDB: per column, the characters (bytes for binary) of a prefix index, null for the whole column; absent: no prefixes */
  prefixes?: (number | null)[];
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
 * A CHECK clause as its source prints it, in the SQL the three targets read alike, or undefined when it
 * uses anything beyond column names, numbers, string literals, comparisons, AND / OR / NOT, IS [NOT] NULL,
 * IN, BETWEEN and parentheses (functions and operators differ between them: such a check is left out).
 * From PostgreSQL also casts to text and number types (dropped) and `= ANY (ARRAY[...])` (as IN);
 * there a bare word is a column only when it names one of `columns`.
 */
export function portableCheck(clause: string, quote: (ident: string) => string, family: SourceFamily = 'mysql', columns: ReadonlySet<string> = new Set()): string | undefined {
  if (family === 'postgres') return portablePgCheck(clause, quote, columns);
  if (family !== 'mysql') return undefined;
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

type PgToken = { kind: 'ident' | 'string' | 'number' | 'op' | 'word'; text: string };

/** casts PostgreSQL prints on literals and columns that the other targets do without (same value, their own types) */
const DROPPED_CASTS = /^(?:text|character varying|varchar|character|bpchar|smallint|integer|bigint|numeric|real|double precision)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?$/;

/** portableCheck of a clause as pg_get_constraintdef prints it (without its `CHECK (...)`) */
function portablePgCheck(clause: string, quote: (ident: string) => string, columns: ReadonlySet<string>): string | undefined {
  const token =
    /\s+|"((?:[^"]|"")+)"|'((?:[^'\\]|'')*)'|(\d+(?:\.\d+)?)|::\s*((?:character varying|double precision|[A-Za-z_][A-Za-z0-9_]*)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?)|(<>|!=|<=|>=|=|<|>|\(|\)|\[|\]|,|-|\+)|([A-Za-z_][A-Za-z0-9_]*)/y;
  const words = new Set(['and', 'or', 'not', 'is', 'null', 'in', 'between', 'true', 'false', 'any', 'all', 'array']);
  const tokens: PgToken[] = [];
  for (let at = 0; at < clause.length; ) {
    token.lastIndex = at;
    const m = token.exec(clause);
    if (!m) return undefined;
    at = token.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'ident', text: m[1].replaceAll('""', '"') });
    else if (m[2] !== undefined) tokens.push({ kind: 'string', text: `'${m[2]}'` });
    else if (m[3] !== undefined) tokens.push({ kind: 'number', text: m[3] });
    else if (m[4] !== undefined) {
      if (!DROPPED_CASTS.test(m[4])) return undefined;
    } else if (m[5] !== undefined) tokens.push({ kind: 'op', text: m[5] === '!=' ? '<>' : m[5] });
    else if (m[6] !== undefined) {
      const lower = m[6].toLowerCase();
      if (words.has(lower)) tokens.push({ kind: 'word', text: lower.toUpperCase() });
      else if (columns.has(m[6])) tokens.push({ kind: 'ident', text: m[6] });
      else return undefined;
    }
  }
  const out: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const list = t.kind === 'op' && (t.text === '=' || t.text === '<>') && tokens[k + 1]?.text === (t.text === '=' ? 'ANY' : 'ALL');
    if (list) {
      // `= ANY (ARRAY[...])`, `<> ALL (ARRAY[...])`, the array maybe in parentheses of its own (its cast dropped)
      let j = k + 2;
      let open = 0;
      for (; tokens[j]?.text === '('; j++) open++;
      if (open === 0 || tokens[j]?.text !== 'ARRAY' || tokens[j + 1]?.text !== '[') return undefined;
      const items: string[] = [];
      for (j += 2; tokens[j] && tokens[j].text !== ']'; j++) {
        const item = tokens[j];
        if (item.kind !== 'string' && item.kind !== 'number' && item.text !== ',' && item.text !== '-') return undefined;
        items.push(item.text);
      }
      for (j++; open > 0; open--, j++) if (tokens[j]?.text !== ')') return undefined;
      out.push(t.text === '=' ? 'IN' : 'NOT IN', `(${items.join(' ').replaceAll(' ,', ',').replaceAll('- ', '-')})`);
      k = j - 1;
      continue;
    }
    if (t.text === 'ANY' || t.text === 'ALL' || t.text === 'ARRAY' || t.text === '[' || t.text === ']') return undefined;
    out.push(t.kind === 'ident' ? quote(t.text) : t.text);
  }
  // spaced as people write it: none inside parentheses nor before a comma
  return out.reduce((sql, piece, n) => (n === 0 || sql.endsWith('(') || piece === ')' || piece === ',' ? sql + piece : `${sql} ${piece}`), '');
}
