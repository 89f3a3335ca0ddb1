/**
 * The mapping between PostgreSQL values and record values, both ways.
 *
 * Reading (postgres.source, snapshot and CDC alike: both use `TypeMapper`, so a row reads the same
 * whichever way it came). Sessions run with TimeZone UTC, DateStyle ISO and bytea_output hex (see
 * connection.ts), so the text forms below are the ones parsed:
 *
 * | PostgreSQL                          | record value                                              |
 * |-------------------------------------|-----------------------------------------------------------|
 * | smallint, integer, oid              | number                                                    |
 * | bigint                              | number when within ±(2^53-1), else a string (exact)       |
 * | real, double precision              | number; NaN / Infinity / -Infinity as strings             |
 * | numeric / decimal, money            | string, exactly as stored (no precision loss)             |
 * | boolean                             | boolean                                                   |
 * | json, jsonb                         | the parsed value (object, array, string, number ...)      |
 * | bytea                               | `{ $base64: '...' }` (nodes/shared/binary.ts)             |
 * | timestamptz                         | ISO 8601 in UTC with all digits: `2026-01-02T03:04:05.123456Z` |
 * | timestamp                           | ISO 8601 without zone: `2026-01-02T03:04:05.123456`        |
 * | date, time, timetz, interval        | string as PostgreSQL prints it (`2026-01-02`, `03:04:05`) |
 * | uuid, text, varchar, char, enum ... | string                                                    |
 * | arrays of any of these              | arrays (nested for multi-dimensional), NULL as null      |
 * | domains                             | as their base type                                        |
 * | anything else                       | string (the type's text form)                             |
 *
 * Writing (postgres.sink): every value is sent as text, cast to the column's type (`$1::jsonb`), so the
 * conversion depends on the target column: json/jsonb columns get JSON.stringify(value) (a string too,
 * so a JSON string round-trips), bytea columns decode `{ $base64 }`, array columns take JS arrays, and
 * a plain object or array written to any other column becomes its JSON text. createTable's choice of
 * column types from JS values is the table at the top of sink.ts (`pgTypeOf`).
 */
import type { CustomTypesConfig } from 'pg';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';

export type Parser = (text: string) => unknown;

const str: Parser = (t) => t;
const int: Parser = (t) => Number(t);
const int8: Parser = (t) => {
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : t;
};
const float: Parser = (t) => {
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
};
const bool: Parser = (t) => t === 't' || t === 'true';
const json: Parser = (t) => JSON.parse(t);
// sessions use bytea_output = hex (connection.ts); anything else is left as text
const bytea: Parser = (t) => (t.startsWith('\\x') ? encodeBinary(Buffer.from(t.slice(2), 'hex')) : t);

const TS = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/;
const timestamp: Parser = (t) => {
  const m = TS.exec(t);
  return m && m[3] === undefined ? `${m[1]}T${m[2]}` : t;
};
const timestamptz: Parser = (t) => {
  const m = TS.exec(t);
  if (!m || m[3] === undefined) return t; // infinity, BC dates: as printed
  const zone = m[3] === '+00' && !m[4] && !m[5] ? 'Z' : `${m[3]}:${m[4] ?? '00'}${m[5] ? `:${m[5]}` : ''}`;
  return `${m[1]}T${m[2]}${zone}`;
};

/** parsers of built-in scalar types, by type OID */
const SCALARS: Record<number, Parser> = {
  16: bool,
  17: bytea,
  20: int8,
  21: int,
  23: int,
  26: int,
  114: json,
  700: float,
  701: float,
  1114: timestamp,
  1184: timestamptz,
  3802: json,
};

/** built-in array type OID → element type OID */
const ARRAYS: Record<number, number> = {
  199: 114, 1000: 16, 1001: 17, 1002: 18, 1003: 19, 1005: 21, 1007: 23, 1009: 25, 1014: 1042, 1015: 1043,
  1016: 20, 1021: 700, 1022: 701, 1028: 26, 1040: 829, 1041: 869, 1115: 1114, 1182: 1082, 1183: 1083,
  1185: 1184, 1187: 1186, 1231: 1700, 1270: 1266, 2951: 2950, 3807: 3802, 791: 790, 651: 650,
};

/** What the catalog says about a type that is not built in (see `TYPE_INFO_SQL`). */
export interface TypeInfo {
  oid: number;
  /** b base, d domain, e enum, c composite, r range ... */
  typtype: string;
  /** domains: the type the domain is over */
  basetype: number;
  /** arrays: the element type */
  elem: number;
  category: string;
}

/** Describes the types of the given OIDs (`$1::oid[]`), for `TypeMapper.learn`. */
export const TYPE_INFO_SQL = `SELECT oid::int AS oid, typtype, typbasetype::int AS basetype, typelem::int AS elem, typcategory AS category
  FROM pg_type WHERE oid = ANY($1::oid[])`;

/** Text → record value parsers by type OID: built-ins, plus domains and arrays learned from the catalog. */
export class TypeMapper {
  private readonly learned = new Map<number, TypeInfo>();
  private readonly cache = new Map<number, Parser>();

  learn(types: TypeInfo[]): void {
    for (const t of types) this.learned.set(t.oid, t);
    this.cache.clear();
  }

  /** OIDs whose parser would benefit from catalog information (not built in, not learned yet) */
  unknown(oids: Iterable<number>): number[] {
    const out = new Set<number>();
    for (const oid of oids) {
      if (SCALARS[oid] || ARRAYS[oid] || this.learned.has(oid)) continue;
      out.add(oid);
    }
    return [...out];
  }

  parser(oid: number): Parser {
    let p = this.cache.get(oid);
    if (!p) {
      p = this.build(oid, 0);
      this.cache.set(oid, p);
    }
    return p;
  }

  /** for pg's `types` option: text results parsed by `parser` */
  readonly pgTypes: CustomTypesConfig = {
    getTypeParser: ((oid: number) => this.parser(oid)) as CustomTypesConfig['getTypeParser'],
  };

  private build(oid: number, depth: number): Parser {
    if (depth > 5) return str;
    const scalar = SCALARS[oid];
    if (scalar) return scalar;
    const elemOid = ARRAYS[oid] ?? (this.learned.get(oid)?.category === 'A' ? this.learned.get(oid)!.elem : 0);
    if (elemOid) {
      const elem = this.build(elemOid, depth + 1);
      return (t) => parseArrayLiteral(t, elem);
    }
    const info = this.learned.get(oid);
    if (info?.typtype === 'd' && info.basetype) return this.build(info.basetype, depth + 1);
    return str;
  }
}

/**
 * Parses PostgreSQL's text form of an array (`{1,2,NULL}`, `{{"a b","c\"d"}}`, `[0:1]={x,y}`) into
 * nested JS arrays, each element through `elem`.
 */
export function parseArrayLiteral(text: string, elem: Parser): unknown[] {
  let i = 0;
  if (text[0] === '[') i = text.indexOf('=') + 1;
  const fail = () => new Error(`not an array literal: ${text.slice(0, 80)}`);
  const parse = (): unknown[] => {
    if (text[i] !== '{') throw fail();
    i++;
    const out: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const c = text[i];
      if (c === '{') {
        out.push(parse());
      } else if (c === '"') {
        i++;
        let s = '';
        let start = i;
        for (;;) {
          const ch = text[i];
          if (ch === undefined) throw fail();
          if (ch === '\\') {
            s += text.slice(start, i);
            start = i + 1;
            i += 2;
          } else if (ch === '"') {
            break;
          } else {
            i++;
          }
        }
        s += text.slice(start, i);
        i++;
        out.push(elem(s));
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i);
        out.push(raw === 'NULL' ? null : elem(raw));
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return out;
      }
      throw fail();
    }
  };
  return parse();
}

// ---- writing ---------------------------------------------------------------------------------------

/** how a target column takes values */
export type Kind = 'json' | 'bytea' | 'bool' | 'other';

export interface ColumnType {
  name: string;
  /** format_type(): what a parameter is cast to (`numeric(12,2)`, `jsonb`, `integer[]`) */
  sqlType: string;
  kind: Kind;
  array: boolean;
  /** arrays: how each element is taken */
  elemKind: Kind;
}

export function kindOf(typname: string): Kind {
  if (typname === 'json' || typname === 'jsonb') return 'json';
  if (typname === 'bytea') return 'bytea';
  if (typname === 'bool') return 'bool';
  return 'other';
}

const hexOf = (b: Uint8Array) => `\\x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;

function numberText(n: number): string {
  if (Number.isFinite(n)) return String(n);
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

function scalarText(v: unknown, kind: Kind): string {
  if (kind === 'json') return JSON.stringify(v);
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return numberText(v);
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (isBase64Value(v)) return kind === 'bytea' ? hexOf(decodeBinary(v)) : JSON.stringify(v);
      if (v instanceof Uint8Array) return kind === 'bytea' ? hexOf(v) : JSON.stringify(encodeBinary(v));
      if (v instanceof Date) return v.toISOString();
      return JSON.stringify(v);
    default:
      return String(v);
  }
}

function quoteElement(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** A JS array as a PostgreSQL array literal, elements taken as `kind` */
export function arrayLiteral(values: unknown[], kind: Kind): string {
  const parts = values.map((e) => {
    if (e === null || e === undefined) return 'NULL';
    if (Array.isArray(e) && kind !== 'json') return arrayLiteral(e, kind);
    return quoteElement(scalarText(e, kind));
  });
  return `{${parts.join(',')}}`;
}

/** A record value as the text PostgreSQL reads for a column of type `col` (null for SQL NULL). */
export function toPgText(v: unknown, col: ColumnType): string | null {
  if (v === null || v === undefined) return null;
  if (col.array && Array.isArray(v)) return arrayLiteral(v, col.elemKind);
  return scalarText(v, col.kind);
}

/** COPY text format of one field: `\N` for NULL, backslash escapes for \ newline, carriage return, tab */
export function copyField(text: string | null): string {
  if (text === null) return '\\N';
  return /[\\\n\r\t]/.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t')) : text;
}

/** The column type createTable gives a JS value (table at the top of sink.ts); undefined for null. */
export function pgTypeOf(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? 'bigint' : 'double precision';
    case 'bigint':
      return 'numeric';
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'text';
    case 'object':
      if (isBase64Value(v) || v instanceof Uint8Array) return 'bytea';
      if (v instanceof Date) return 'timestamptz';
      return 'jsonb';
    default:
      return 'text';
  }
}
