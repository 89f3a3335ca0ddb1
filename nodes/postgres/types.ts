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
 * | PostGIS geometry, geography         | `{ $geometry: { srid, wkb } }` (nodes/shared/geometry.ts)  |
 * | anything else                       | string (the type's text form)                             |
 *
 * `TypeMapper.columnSpec` describes a column the same way in the neutral form of nodes/shared/columns.ts
 * (meta.schema; table at the top of source.ts).
 *
 * Writing (postgres.sink): every value is sent as text, cast to the column's type (`$1::jsonb`), so the
 * conversion depends on the target column: json/jsonb columns get JSON.stringify(value) (a string too,
 * so a JSON string round-trips), bytea columns decode `{ $base64 }`, array columns take JS arrays,
 * boolean columns take a number as false (0) or true (anything else: MySQL's TINYINT(1) reads as 0 / 1),
 * and a plain object or array written to any other column becomes its JSON text. createTable's choice of
 * column types, from JS values (`pgTypeOf`) or from declared ones (`pgTypeForSpec`), is tabled in
 * docs/type-mapping.md (sections B and C).
 */
import type { CustomTypesConfig } from 'pg';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';
import type { ColumnSpec } from '../shared/columns.js';
import { fromEwkb, isGeometryValue, toEwkb } from '../shared/geometry.js';
import { ownField, SLICE_VIEW_MIN } from '../shared/own-string.js';
import { columnType } from '../shared/type-targets.js';

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
/** PostGIS prints geometry and geography as hex EWKB */
const geometry: Parser = (t) => (/^[0-9a-fA-F]+$/.test(t) ? fromEwkb(Buffer.from(t, 'hex')) : t);
const SPATIAL = new Set(['geometry', 'geography']);
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

/**
 * reads one COPY text field, `text` from `start` to `end` (not NULL, no escapes), as its column's parser
 * reads the slice; `ascii`: the bytes of `text` when it is all ASCII, to copy strings out of (ownField)
 */
export type FieldReader = (text: string, start: number, end: number, ascii?: Buffer) => unknown;

/**
 * The field reader of a column parsed by `parser`, for the snapshot's COPY text: integers and
 * timestamps read in place instead of through a slice (and a RegExp match); strings through a cache of
 * the column's recent values. Each call makes a new reader (with its own cache): one per column.
 * No value read is a view of the text (ownField, nodes/shared/own-string.ts): a node that kept one
 * beyond the batch would keep the whole chunk's text with it.
 */
export function fieldReader(parser: Parser): FieldReader {
  if (parser === int) return (t, s, e, a) => digits(t, s, e, a, int);
  if (parser === int8) return (t, s, e, a) => digits(t, s, e, a, int8);
  if (parser === timestamptz) return isoField(true);
  if (parser === timestamp) return isoField(false);
  if (parser === str) return recentStrings();
  // JSON.parse makes strings of its own; other parsers may return their text or parts of it
  if (parser === json) return (t, s, e) => json(t.slice(s, e));
  return (t, s, e, a) => parser(ownField(t, s, e, a));
}

/** an optional minus and at most 15 digits (always exact) as a number; anything else through `slow` */
function digits(t: string, s: number, e: number, a: Buffer | undefined, slow: Parser): unknown {
  let i = s;
  const neg = t.charCodeAt(i) === 45;
  if (neg) i++;
  if (i === e || e - i > 15) return slow(ownField(t, s, e, a));
  let n = 0;
  for (; i < e; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return slow(ownField(t, s, e, a));
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

const isDigit = (t: string, i: number) => (t.charCodeAt(i) - 48) >>> 0 < 10;

/** `YYYY-MM-DD HH:MM:SS` and an optional `.fraction` exactly from `s` to `e` (what TS matches without a zone) */
function isoAt(t: string, s: number, e: number): boolean {
  if (e - s < 19) return false;
  if (t.charCodeAt(s + 4) !== 45 || t.charCodeAt(s + 7) !== 45 || t.charCodeAt(s + 10) !== 32 || t.charCodeAt(s + 13) !== 58 || t.charCodeAt(s + 16) !== 58) return false;
  if (!(isDigit(t, s) && isDigit(t, s + 1) && isDigit(t, s + 2) && isDigit(t, s + 3) && isDigit(t, s + 5) && isDigit(t, s + 6) && isDigit(t, s + 8))) return false;
  if (!(isDigit(t, s + 9) && isDigit(t, s + 11) && isDigit(t, s + 12) && isDigit(t, s + 14) && isDigit(t, s + 15) && isDigit(t, s + 17) && isDigit(t, s + 18))) return false;
  if (e === s + 19) return true;
  if (t.charCodeAt(s + 19) !== 46 || e === s + 20) return false;
  for (let k = s + 20; k < e; k++) if (!isDigit(t, k)) return false;
  return true;
}

/**
 * timestamp / timestamptz in UTC (`+00`, what the sessions print) without a RegExp match: the same
 * strings as `timestamp` / `timestamptz`, whose parsers take every other form. The date part of
 * consecutive rows is mostly the same day: it is kept and shared.
 */
function isoField(zone: boolean): FieldReader {
  let day = '';
  let dayT = '';
  const slow = zone ? timestamptz : timestamp;
  return (t, s, e, a) => {
    const time = zone ? e - 3 : e;
    if (zone && (t.charCodeAt(time) !== 43 || t.charCodeAt(time + 1) !== 48 || t.charCodeAt(time + 2) !== 48)) return slow(ownField(t, s, e, a));
    if (!isoAt(t, s, time)) return slow(ownField(t, s, e, a));
    if (day.length !== 10 || !t.startsWith(day, s)) {
      day = t.slice(s, s + 10);
      dayT = `${day}T`;
    }
    // the clock with a fraction is 13 characters or more: its seconds and its fraction sliced apart are copies
    const clock = time - s - 11 < SLICE_VIEW_MIN ? t.slice(s + 11, time) : t.slice(s + 11, s + 19) + ownField(t, s + 19, time, a);
    return zone ? dayT + (clock + 'Z') : dayT + clock;
  };
}

/**
 * Strings through a cache of the column's last distinct short values: codes, statuses and countries
 * repeat row after row, and a repeat compared in place is shared instead of sliced again. Only values
 * under 13 characters, which a slice copies; a longer one is copied out by ownField (comparing it with
 * the cache's took more CPU than the copy). A column whose values seldom repeat turns the cache off,
 * and tries it again later.
 */
function recentStrings(): FieldReader {
  const recent: string[] = [];
  let slot = 0;
  let tries = 0;
  let hits = 0;
  let off = 0;
  return (t, s, e, a) => {
    const len = e - s;
    if (off > 0 || len >= SLICE_VIEW_MIN) {
      if (off > 0) off--;
      return ownField(t, s, e, a);
    }
    if (++tries === 256) {
      // mostly misses: the next 16,384 fields are sliced without looking
      if (hits < 128) off = 16_384;
      tries = hits = 0;
    }
    // compared char by char: a cached string used as a key elsewhere turns into a thin string, which startsWith takes slowly
    next: for (let k = 0; k < recent.length; k++) {
      const v = recent[k];
      if (v.length !== len) continue;
      for (let j = 0; j < len; j++) if (v.charCodeAt(j) !== t.charCodeAt(s + j)) continue next;
      hits++;
      return v;
    }
    const v = t.slice(s, e);
    recent[slot] = v;
    slot = (slot + 1) % 8;
    return v;
  };
}

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
  /** domains: the typmod of the type the domain is over (`numeric(10,2)`: its precision and scale), -1 for none */
  basemod?: number;
  /** arrays: the element type */
  elem: number;
  category: string;
  /** pg_type.typname: PostGIS's `geometry` / `geography` are known by name (their OIDs vary) */
  typname?: string;
}

/** Describes the types of the given OIDs (`$1::oid[]`), for `TypeMapper.learn`. */
export const TYPE_INFO_SQL = `SELECT oid::int AS oid, typtype, typbasetype::int AS basetype, typtypmod AS basemod, typelem::int AS elem, typcategory AS category, typname
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

  /**
   * A column of type `oid` / `typmod` in the neutral form of nodes/shared/columns.ts (what meta.schema
   * carries): its kind says what `parser(oid)` makes of it, so it follows the same resolution (arrays,
   * then domains, then the built-in scalars; whatever is not known reads as its text). `source`: the
   * type's name (format_type()); without it one is made up from the OID and typmod.
   */
  columnSpec(name: string, oid: number, typmod: number, nullable: boolean, source?: string): ColumnSpec {
    const described = this.describe(oid, typmod, 0);
    return { name, source: source ?? described.source, nullable, ...described.spec };
  }

  private describe(oid: number, typmod: number, depth: number): { spec: Omit<ColumnSpec, 'name' | 'source' | 'nullable'>; source: string } {
    const info = this.learned.get(oid);
    if (depth <= 5 && !SCALARS[oid]) {
      const elemOid = ARRAYS[oid] ?? (info?.category === 'A' ? info.elem : 0);
      // arrays travel as JS arrays
      if (elemOid) return { spec: { kind: 'json' }, source: `${this.describe(elemOid, typmod, depth + 1).source}[]` };
      if (info?.typtype === 'd' && info.basetype) return this.describe(info.basetype, info.basemod ?? -1, depth + 1);
      if (info?.typname !== undefined && SPATIAL.has(info.typname)) {
        return { spec: { kind: 'geometry', geometryType: 'geometry', ...(info.typname === 'geography' ? { geography: true } : {}) }, source: info.typname };
      }
    }
    return describeScalar(oid, typmod);
  }

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
    if (info?.typname !== undefined && SPATIAL.has(info.typname)) return geometry;
    return str;
  }
}

/** typmod of varchar(n) / char(n): n + 4; of numeric(p,s): ((p << 16) | s) + 4 (s 11 bits, signed since PostgreSQL 15) */
const charLength = (typmod: number) => (typmod >= 4 ? typmod - 4 : undefined);
/** typmod of timestamp(f) / time(f): f; -1 when not declared */
const fractionOf = (typmod: number) => (typmod >= 0 && typmod <= 6 ? typmod : undefined);
const withArgs = (name: string, args: number | undefined, rest = '') => `${name}${args !== undefined ? `(${args})` : ''}${rest}`;

/** the neutral description of a built-in scalar type; anything else is `other` (it reads as its text) */
function describeScalar(oid: number, typmod: number): { spec: Omit<ColumnSpec, 'name' | 'source' | 'nullable'>; source: string } {
  switch (oid) {
    case 21:
      return { spec: { kind: 'integer', bits: 16 }, source: 'smallint' };
    case 23:
      return { spec: { kind: 'integer', bits: 32 }, source: 'integer' };
    case 20:
      return { spec: { kind: 'integer', bits: 64 }, source: 'bigint' };
    case 26:
      return { spec: { kind: 'integer', bits: 32, unsigned: true }, source: 'oid' };
    case 1700: {
      if (typmod < 4) return { spec: { kind: 'decimal' }, source: 'numeric' };
      const precision = ((typmod - 4) >> 16) & 0xffff;
      let scale = (typmod - 4) & 0x7ff;
      if (scale > 1000) scale -= 2048; // a negative scale (PostgreSQL 15+): numeric(5,-2) holds whole numbers of 7 digits
      const source = `numeric(${precision},${scale})`;
      return scale < 0 ? { spec: { kind: 'decimal', precision: precision - scale, scale: 0 }, source } : { spec: { kind: 'decimal', precision, scale }, source };
    }
    case 700:
      return { spec: { kind: 'float', bits: 32 }, source: 'real' };
    case 701:
      return { spec: { kind: 'float', bits: 64 }, source: 'double precision' };
    case 16:
      return { spec: { kind: 'boolean' }, source: 'boolean' };
    case 25:
      return { spec: { kind: 'string' }, source: 'text' };
    case 1043: {
      const length = charLength(typmod);
      return { spec: { kind: 'string', ...(length !== undefined ? { length } : {}) }, source: withArgs('character varying', length) };
    }
    case 1042: {
      const length = charLength(typmod);
      return { spec: { kind: 'string', ...(length !== undefined ? { length, fixed: true } : {}) }, source: length !== undefined ? `character(${length})` : 'bpchar' };
    }
    case 19:
      return { spec: { kind: 'string', length: 63 }, source: 'name' };
    case 18:
      return { spec: { kind: 'string', length: 1, fixed: true }, source: '"char"' };
    case 114:
      return { spec: { kind: 'json' }, source: 'json' };
    case 3802:
      return { spec: { kind: 'json' }, source: 'jsonb' };
    case 17:
      return { spec: { kind: 'binary' }, source: 'bytea' };
    case 1082:
      return { spec: { kind: 'date' }, source: 'date' };
    // without a declared precision PostgreSQL keeps microseconds: fraction 6
    case 1114: {
      const fraction = fractionOf(typmod);
      return { spec: { kind: 'datetime', fraction: fraction ?? 6 }, source: withArgs('timestamp', fraction, ' without time zone') };
    }
    case 1184: {
      const fraction = fractionOf(typmod);
      return { spec: { kind: 'timestamp', fraction: fraction ?? 6 }, source: withArgs('timestamp', fraction, ' with time zone') };
    }
    case 1083: {
      const fraction = fractionOf(typmod);
      return { spec: { kind: 'time', fraction: fraction ?? 6 }, source: withArgs('time', fraction, ' without time zone') };
    }
    case 2950:
      return { spec: { kind: 'uuid' }, source: 'uuid' };
    default:
      // timetz (an offset), interval, money, inet, bit, xml, enums, ranges, composites, PostGIS ...: their text form
      return { spec: { kind: 'other' }, source: OTHER_NAMES[oid] ?? `type ${oid}` };
  }
}

const OTHER_NAMES: Record<number, string> = {
  142: 'xml', 650: 'cidr', 774: 'macaddr8', 790: 'money', 829: 'macaddr', 869: 'inet', 1186: 'interval', 1266: 'time with time zone', 1560: 'bit', 1562: 'bit varying',
};

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
export type Kind = 'json' | 'bytea' | 'bool' | 'geometry' | 'other';

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
  if (SPATIAL.has(typname)) return 'geometry';
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
      // a number into a boolean column (MySQL's TINYINT(1) reads as 0 / 1): zero is false, anything else true, as in MySQL
      if (kind === 'bool') return v === 0 ? 'false' : Number.isNaN(v) ? 'NaN' : 'true';
      return numberText(v);
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (isBase64Value(v)) return kind === 'bytea' ? hexOf(decodeBinary(v)) : JSON.stringify(v);
      // PostGIS reads hex EWKB; a bytea column holds the EWKB itself (the SRID kept in the bytes)
      if (isGeometryValue(v)) return kind === 'geometry' ? toEwkb(v).toString('hex') : kind === 'bytea' ? hexOf(toEwkb(v)) : JSON.stringify(v);
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

/** The column type createTable gives a JS value (docs/type-mapping.md, section B); undefined for null. */
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
      if (isBase64Value(v) || v instanceof Uint8Array || isGeometryValue(v)) return 'bytea';
      if (v instanceof Date) return 'timestamptz';
      return 'jsonb';
    default:
      return 'text';
  }
}

/**
 * The column type createTable gives a declared source column (meta.schema, nodes/shared/columns.ts),
 * without NOT NULL (the sink adds it): read from the table in nodes/shared/type-targets.ts.
 */
export function pgTypeForSpec(spec: ColumnSpec, target: { postgis?: boolean } = {}): string {
  return columnType('postgres', spec, { postgis: target.postgis });
}
