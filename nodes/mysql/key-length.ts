/**
 * What MariaDB / MySQL make of an index whose key is longer than InnoDB's 3,072 bytes, predicted from the
 * columns' types, so a test run's plan (schema-apply.ts `dryRun`) reports what the copy's server then does.
 * The rules, as MariaDB 10.11 does them here (utf8mb4: 4 bytes a character; a key part counts its data
 * bytes only):
 * - a plain index: a part longer than the limit, or a TEXT / BLOB / JSON column without a prefix, is
 *   shortened to the limit (768 characters, 3,072 bytes; 255 for TINYTEXT / TINYBLOB); a key still longer
 *   in all is refused (1071);
 * - a unique one (MariaDB 10.4+): any of that makes it a hash (USING HASH), the prefixes as asked;
 * - MySQL, and a unique index on an older MariaDB: refused instead (1170 a TEXT / BLOB without a prefix,
 *   1071 too long; MySQL indexes no JSON column, 3152). MySQL is not tested here: its rules are its manual's.
 * A part whose size is not known here (a spatial column, a type this sink does not create) makes the
 * answer undefined: what the server makes is then not predicted.
 */
import type { ServerInfo } from './connection.js';

/** InnoDB's largest key, in bytes (768 utf8mb4 characters) */
export const KEY_BYTES = 3072;

/** one column of an index as asked for: its type as created, and the prefix asked (null: all of it) */
export interface KeyPart {
  column: string;
  type: string;
  prefix: number | null;
}

/** an index as the server made it: each column with the prefix it indexes (null: all of it); a hash: MariaDB's long unique */
export interface MadeIndex {
  parts: { column: string; prefix: number | null }[];
  hash: boolean;
}

/** the server's refusal of an index, with its error number and message as the server words them */
export class RefusedIndex extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const TOO_LONG = `Specified key was too long; max key length is ${KEY_BYTES} bytes`;

/** a column type's key size: bytes per character, and its length in characters (undefined: TEXT / BLOB, unbounded) */
type Size = { perChar: number; length?: number; blob?: 'text' | 'binary' | 'json'; most?: number; strings?: true };

const FIXED: Record<string, number> = { TINYINT: 1, SMALLINT: 2, MEDIUMINT: 3, INT: 4, INTEGER: 4, BIGINT: 8, FLOAT: 4, DOUBLE: 8, REAL: 8, BOOLEAN: 1, BOOL: 1, DATE: 3, YEAR: 1, UUID: 16 };
/** packed DECIMAL: 4 bytes per 9 digits, the rest by this table */
const DECIMAL_REST = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

function sizeOf(type: string): Size | undefined {
  const m = /^\s*([A-Za-z]+)\s*(?:\(([^)]*)\))?/.exec(type);
  if (!m) return undefined;
  const name = m[1].toUpperCase();
  const args = m[2]?.split(',').map((a) => a.trim()) ?? [];
  const n = Number(args[0]);
  if (name in FIXED) return { perChar: 1, length: FIXED[name] };
  switch (name) {
    case 'CHAR':
    case 'VARCHAR':
      return { perChar: 4, length: n, strings: true };
    case 'BINARY':
    case 'VARBINARY':
      return { perChar: 1, length: n, strings: true };
    case 'TINYTEXT':
      return { perChar: 4, blob: 'text', most: 255 };
    case 'TEXT':
    case 'MEDIUMTEXT':
    case 'LONGTEXT':
      return { perChar: 4, blob: 'text' };
    case 'JSON': // MariaDB's JSON is LONGTEXT
      return { perChar: 4, blob: 'json' };
    case 'TINYBLOB':
      return { perChar: 1, blob: 'binary', most: 255 };
    case 'BLOB':
    case 'MEDIUMBLOB':
    case 'LONGBLOB':
      return { perChar: 1, blob: 'binary' };
    case 'DECIMAL':
    case 'NUMERIC': {
      const p = Number.isFinite(n) ? n : 10;
      const s = Number(args[1] ?? 0);
      const packed = (digits: number) => Math.floor(digits / 9) * 4 + DECIMAL_REST[digits % 9];
      return { perChar: 1, length: packed(p - s) + packed(s) };
    }
    case 'TIME':
    case 'DATETIME':
    case 'TIMESTAMP': {
      const f = Number.isFinite(n) ? n : 0;
      return { perChar: 1, length: { TIME: 3, DATETIME: 5, TIMESTAMP: 4 }[name] + Math.ceil(f / 2) };
    }
    case 'ENUM':
      return { perChar: 1, length: (m[2]?.match(/'(?:[^']|'')*'/g)?.length ?? 0) > 255 ? 2 : 1 };
    default:
      return undefined; // spatial types, SET, BIT ...: not created by mysql.sink from a value or a declared kind
  }
}

/**
 * How the server makes the index over `parts` (unique or not): each column's prefix and whether it is a
 * hash; throws RefusedIndex as the server refuses it. Undefined: a part's size is not known here.
 */
export function madeIndex(parts: readonly KeyPart[], unique: boolean, server: Pick<ServerInfo, 'mariadb' | 'major' | 'minor'>): MadeIndex | undefined {
  const sizes = parts.map((p) => sizeOf(p.type));
  if (sizes.some((s) => s === undefined)) return undefined;
  const longUnique = server.mariadb && (server.major > 10 || (server.major === 10 && server.minor >= 4));
  let hash = false;
  const made = parts.map((p, n) => {
    const s = sizes[n]!;
    const chars = p.prefix ?? s.length;
    const bytes = chars === undefined ? Infinity : chars * s.perChar;
    if (!server.mariadb && s.blob === 'json') throw new RefusedIndex(3152, `JSON column '${p.column}' supports indexing only via generated columns on a specified JSON path.`);
    if (bytes <= KEY_BYTES) return { column: p.column, prefix: p.prefix, bytes };
    if (unique && longUnique) {
      hash = true;
      return { column: p.column, prefix: p.prefix, bytes };
    }
    if (!server.mariadb || unique) {
      if (chars === undefined) throw new RefusedIndex(1170, `BLOB/TEXT column '${p.column}' used in key specification without a key length`);
      throw new RefusedIndex(1071, TOO_LONG);
    }
    // MariaDB shortens a plain index's part to the limit
    const prefix = Math.min(s.most ?? Infinity, Math.floor(KEY_BYTES / s.perChar));
    return { column: p.column, prefix, bytes: prefix * s.perChar };
  });
  if (!hash && made.reduce((sum, p) => sum + p.bytes, 0) > KEY_BYTES) {
    if (!(unique && longUnique)) throw new RefusedIndex(1071, TOO_LONG);
    hash = true;
  }
  return { parts: made.map(({ column, prefix }) => ({ column, prefix })), hash };
}

/**
 * The key parts of an index the server refused as too long, with prefixes that bring it within InnoDB's
 * 3,072 bytes, for the retry: fixed-size parts (numbers, dates, ENUMs) keep all their bytes; the strings
 * (CHAR, VARCHAR, BINARY, TEXT, BLOB) share what is left evenly, the shorter ones first, so a string that
 * needs less than its share keeps all of itself and leaves the rest to the others. Undefined: a part's
 * size is not known here, or what is left is not a byte a string.
 */
export function fitKey(parts: readonly KeyPart[]): KeyPart[] | undefined {
  const sizes = parts.map((p) => sizeOf(p.type));
  if (sizes.some((s) => s === undefined)) return undefined;
  const bytes = (n: number) => {
    const chars = parts[n].prefix ?? sizes[n]!.length;
    return chars === undefined ? Infinity : chars * sizes[n]!.perChar;
  };
  const strings = parts.map((_, n) => n).filter((n) => sizes[n]!.blob !== undefined || sizes[n]!.strings);
  let left = KEY_BYTES - parts.reduce((sum, _, n) => (strings.includes(n) ? sum : sum + bytes(n)), 0);
  const fitted = parts.map((p) => ({ ...p }));
  strings.sort((a, b) => bytes(a) - bytes(b));
  for (const [k, n] of strings.entries()) {
    const share = Math.floor(left / (strings.length - k));
    if (bytes(n) <= share) {
      left -= bytes(n);
      continue;
    }
    const s = sizes[n]!;
    const chars = Math.min(s.most ?? Infinity, Math.floor(share / s.perChar));
    if (chars < 1) return undefined;
    fitted[n].prefix = chars;
    left -= chars * s.perChar;
  }
  return left >= 0 ? fitted : undefined;
}
