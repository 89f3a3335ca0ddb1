/**
 * `schema: full` on postgres.source: the catalog facts beyond columns and key (nodes/shared/schema-full.ts),
 * read from pg_catalog for all tables of the run at once, one query per kind (columns, indexes,
 * constraints, table comments), so a database of many tables costs four round trips, not four per table.
 * Defaults arrive as PostgreSQL prints them (`'x'::text`, `now()`, `nextval('t_id_seq'::regclass)`) and
 * are read into the portable form; checks, partial and expression indexes keep PostgreSQL's own text,
 * which a PostgreSQL sink can apply as it is and another sink leaves out.
 */
import type pg from 'pg';
import type { FullCheck, FullColumn, FullForeignKey, FullIndex, FullSchema, PortableDefault } from '../shared/schema-full.js';
import { quoteIdent } from './connection.js';
import type { TableMeta } from './catalog.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** the tables of the run as a relation: their oid and id (`schema.table`) */
const TABLES = `WITH t AS (SELECT to_regclass(u.rel) AS oid, u.id FROM unnest($1::text[], $2::text[]) AS u(rel, id))`;

const COLUMNS = `${TABLES}
SELECT t.id, a.attname AS name, a.attnotnull AS "notNull", pg_get_expr(d.adbin, d.adrelid) AS def, ty.typcategory = 'A' AS array,
    a.attidentity <> '' AS identity, pg_get_serial_sequence(t.oid::regclass::text, a.attname) IS NOT NULL AS "ownedSequence",
    CASE WHEN ty.typtype = 'e' THEN ty.typname::text END AS "enumType",
    CASE WHEN ty.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = ty.oid ORDER BY e.enumsortorder) END AS "enumValues",
    col_description(a.attrelid, a.attnum) AS comment
  FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
  JOIN pg_type ty ON ty.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  ORDER BY t.id, a.attnum`;

// key columns only (INCLUDE columns are not part of what the index orders or makes unique); 0: an expression
const INDEXES = `${TABLES}
SELECT t.id, ic.relname AS name, i.indisunique AS unique, am.amname AS method, pg_get_indexdef(i.indexrelid) AS definition,
    pg_get_expr(i.indpred, i.indrelid) AS "where",
    ARRAY(SELECT coalesce(a.attname::text, '') FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns
  FROM t JOIN pg_index i ON i.indrelid = t.oid AND NOT i.indisprimary AND NOT i.indisexclusion AND i.indisvalid
  JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
  ORDER BY t.id, ic.relname`;

const CONSTRAINTS = `${TABLES}
SELECT t.id, co.conname AS name, co.contype AS type, pg_get_constraintdef(co.oid) AS def, rc.relname AS "refTable",
    ARRAY(SELECT a.attname::text FROM unnest(co.conkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
    ARRAY(SELECT a.attname::text FROM unnest(co.confkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.o) AS "refColumns",
    co.confdeltype AS "onDelete", co.confupdtype AS "onUpdate"
  FROM t JOIN pg_constraint co ON co.conrelid = t.oid AND co.contype IN ('f', 'c')
  LEFT JOIN pg_class rc ON rc.oid = co.confrelid
  ORDER BY t.id, co.conname`;

const COMMENTS = `${TABLES} SELECT t.id, obj_description(t.oid, 'pg_class') AS comment FROM t`;

/** pg_constraint.confdeltype / confupdtype */
const RULES: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** The facts of every table in `tables`, by table id. */
export async function readFullSchemas(q: Queryable, tables: readonly TableMeta[]): Promise<Map<string, FullSchema>> {
  const out = new Map<string, FullSchema>();
  if (tables.length === 0) return out;
  const params = [tables.map((t) => `${quoteIdent(t.name.schema)}.${quoteIdent(t.name.name)}`), tables.map((t) => t.id)];
  for (const t of tables) out.set(t.id, { family: 'postgres', columns: [], indexes: [], foreignKeys: [], checks: [] });
  const of = (id: string) => out.get(id)!;

  const cols = await q.query<{ id: string; name: string; notNull: boolean; def: string | null; array: boolean; identity: boolean; ownedSequence: boolean; enumType: string | null; enumValues: string[] | null; comment: string | null }>(COLUMNS, params);
  for (const c of cols.rows) {
    const col: FullColumn = { name: c.name, notNull: c.notNull };
    // a serial column's default is nextval() of the sequence it owns; an identity column has none
    const serial = c.ownedSequence && c.def !== null && /^nextval\(/i.test(c.def);
    if (c.identity || serial) col.autoIncrement = true;
    else {
      const d = portableDefault(c.def, c.array);
      if (d) col.default = d;
    }
    if (c.enumValues) {
      col.enumValues = c.enumValues;
      col.enumType = c.enumType!;
    }
    if (c.comment) col.comment = c.comment;
    of(c.id).columns.push(col);
  }

  const idx = await q.query<{ id: string; name: string; unique: boolean; method: string; definition: string; where: string | null; columns: string[] }>(INDEXES, params);
  for (const r of idx.rows) {
    const i: FullIndex = { name: r.name, columns: r.columns, unique: r.unique };
    if (r.where !== null) i.where = r.where;
    if (r.method !== 'btree') i.method = r.method;
    if (r.where !== null || r.columns.includes('')) i.definition = r.definition;
    of(r.id).indexes.push(i);
  }

  const cons = await q.query<{ id: string; name: string; type: 'f' | 'c'; def: string; refTable: string | null; columns: string[]; refColumns: string[]; onDelete: string; onUpdate: string }>(CONSTRAINTS, params);
  for (const r of cons.rows) {
    if (r.type === 'f') {
      const f: FullForeignKey = { name: r.name, columns: r.columns, refTable: r.refTable!, refColumns: r.refColumns, onDelete: RULES[r.onDelete], onUpdate: RULES[r.onUpdate] };
      of(r.id).foreignKeys.push(f);
    } else {
      const check: FullCheck = { name: r.name, clause: checkClause(r.def) };
      of(r.id).checks.push(check);
    }
  }

  const comments = await q.query<{ id: string; comment: string | null }>(COMMENTS, params);
  for (const r of comments.rows) if (r.comment) of(r.id).comment = r.comment;
  return out;
}

/** `CHECK ((qty > 0)) NOT VALID` → `(qty > 0)`: the condition, as PostgreSQL prints it */
export function checkClause(def: string): string {
  const m = /^CHECK \((.*)\)(?: NO INHERIT)?(?: NOT VALID)?$/s.exec(def.trim());
  return m ? m[1] : def;
}

const NOW = /^\(?(?:now\(\)|CURRENT_TIMESTAMP(?:\(\d+\))?|LOCALTIMESTAMP(?:\(\d+\))?|transaction_timestamp\(\))\)?(?:::timestamp(?:\(\d+\))?(?: with(?:out)? time zone)?)?$/i;

/**
 * A default as pg_get_expr prints it, in portable terms (undefined: no default). A literal loses its
 * cast (`'x'::character varying` → x, `'-1'::integer` → -1) unless it is an array (`'{}'::text[]`), which
 * other databases hold another way: that, functions, operators and anything else stays an expression.
 */
export function portableDefault(def: string | null, array = false): PortableDefault | undefined {
  if (def === null) return undefined;
  const text = def.trim();
  if (/^NULL(?:::.*)?$/is.test(text)) return { kind: 'null' };
  if (NOW.test(text)) return { kind: 'now' };
  if (array) return { kind: 'expression', text };
  const quoted = /^'((?:[^']|'')*)'(?:::(?:[a-z_"][\w ."]*(?:\(\d+(?:,\s*\d+)?\))?(?: with(?:out)? time zone)?))?$/is.exec(text);
  if (quoted) return { kind: 'literal', text: quoted[1].replaceAll("''", "'") };
  const number = /^\(?(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\)?(?:::(?:smallint|integer|bigint|numeric|real|double precision))?$/i.exec(text);
  if (number) return { kind: 'literal', text: number[1] };
  // booleans as 1 / 0: the text every target reads as the same value (PostgreSQL boolean, MySQL TINYINT(1), SQLite)
  if (/^true$/i.test(text)) return { kind: 'literal', text: '1' };
  if (/^false$/i.test(text)) return { kind: 'literal', text: '0' };
  return { kind: 'expression', text };
}
