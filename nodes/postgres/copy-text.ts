/**
 * The rows of a COPY ... FROM STDIN in PostgreSQL's text format (a tab between fields, a newline after
 * each row, `\N` for NULL, backslash escapes), as Buffers of about 64 kB. Each field is exactly
 * `copyField(toPgText(value, column))` (types.ts), in UTF-8.
 *
 * Why bytes and not strings: the fields are written into one Buffer as they are made, so a row costs no
 * string per field, tab or line to concatenate and flatten (the garbage of joined strings was most of
 * what the sink allocated). Plain strings and integers, the common values, are written byte by byte;
 * everything else goes through `toPgText` as before.
 */
import type { Value } from '../../runtime/index.js';
import type { ColumnMeta } from './catalog.js';
import { copyField, toPgText } from './types.js';

/** the size of a chunk: what a COPY is fed in */
const CHUNK = 64 * 1024;
/** a field longer than this (in characters) is a chunk of its own, so that a chunk's room for it can be reserved at 3 bytes a character */
const LONG = CHUNK / 4;

const TAB = 9;
const NEWLINE = 10;
const CARRIAGE = 13;
const BACKSLASH = 92;
const NULL_FIELD = '\\N';

/** Bytes of COPY text in the making: a working Buffer, and the chunks filled so far (copies of it). */
class CopyBytes {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private at = 0;
  /** the chunks made since the last `take` */
  private readonly full: Buffer[] = [];

  /** whether a chunk is ready */
  get ready(): boolean {
    return this.full.length > 0;
  }

  /** the chunks made so far (and, with `end`, the last one however short) */
  take(end = false): Buffer[] {
    if (end) this.flush();
    return this.full.splice(0);
  }

  /** empty, for the next COPY */
  clear(): void {
    this.at = 0;
    this.full.length = 0;
  }

  /** one byte: a separator */
  byte(b: number): void {
    if (this.at === CHUNK) this.flush();
    this.buf[this.at++] = b;
  }

  /** `s` as a COPY field: backslash, newline, carriage return and tab escaped (as copyField does) */
  text(s: string): void {
    const n = s.length;
    if (n > LONG) return this.long(copyField(s));
    this.room(n * 3);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // not ASCII: the rest goes through the UTF-8 encoder (from a character, so never inside a surrogate pair)
        this.at = at + buf.write(copyField(s.slice(i)), at);
        return;
      }
      if (c === BACKSLASH || c === NEWLINE || c === CARRIAGE || c === TAB) {
        buf[at++] = BACKSLASH;
        buf[at++] = c === BACKSLASH ? BACKSLASH : c === NEWLINE ? 110 : c === CARRIAGE ? 114 : 116;
      } else {
        buf[at++] = c;
      }
    }
    this.at = at;
  }

  /** text already in COPY form (escaped), as it is */
  raw(s: string): void {
    const n = s.length;
    if (n > LONG) return this.long(s);
    this.room(n * 3);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.at = at + buf.write(s.slice(i), at);
        return;
      }
      buf[at++] = c;
    }
    this.at = at;
  }

  /** bytes already in COPY form, as they are (never written on: a long one is a chunk itself) */
  bytes(b: Buffer): void {
    if (b.length > LONG) {
      this.flush();
      this.full.push(b);
      return;
    }
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** a safe integer in decimal, as String(n) writes it */
  int(n: number): void {
    this.room(17);
    const buf = this.buf;
    let at = this.at;
    if (n < 0) {
      buf[at++] = 45;
      n = -n;
    }
    const first = at;
    do {
      const q = Math.floor(n / 10);
      buf[at++] = 48 + (n - q * 10);
      n = q;
    } while (n > 0);
    // the digits came last one first
    for (let a = first, b = at - 1; a < b; a++, b--) {
      const t = buf[a];
      buf[a] = buf[b];
      buf[b] = t;
    }
    this.at = at;
  }

  /** SQL NULL */
  nul(): void {
    this.raw(NULL_FIELD);
  }

  private room(bytes: number): void {
    if (this.at + bytes > CHUNK) this.flush();
  }

  /** the working bytes become a chunk (a copy: the working Buffer is written on) */
  private flush(): void {
    if (this.at === 0) return;
    this.full.push(Buffer.from(this.buf.subarray(0, this.at)));
    this.at = 0;
  }

  private long(escaped: string): void {
    this.flush();
    this.full.push(Buffer.from(escaped, 'utf8'));
  }
}

/** writes one column's value of a row */
type FieldWriter = (v: unknown, out: CopyBytes) => void;

/**
 * A column's writer for one COPY: `copyField(toPgText(v, col))`, with shortcuts for the common values (strings
 * and numbers into a column of kind other; a number's text holds no character to escape, JSON text only backslashes).
 */
function fieldWriter(col: ColumnMeta): FieldWriter {
  const generic: FieldWriter = (v, out) => out.raw(copyField(toPgText(v, col)));
  if (col.array) return generic;
  if (col.kind === 'json') {
    // one COPY's writer (copyChunks makes them per call): an object met again in the batch (a lookup's
    // row, shared by every record that joined it) is written from its bytes of the first time
    const seen = new Map<object, Buffer>();
    return (v, out) => {
      if (v === null || v === undefined) return out.nul();
      const known = typeof v === 'object' ? seen.get(v) : undefined;
      if (known !== undefined) return out.bytes(known);
      const json = JSON.stringify(v) as string | undefined;
      if (json === undefined) return generic(v, out);
      const text = json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
      if (typeof v !== 'object') return out.raw(text);
      const bytes = Buffer.from(text, 'utf8');
      seen.set(v, bytes);
      out.bytes(bytes);
    };
  }
  if (col.kind !== 'other') return generic;
  return (v, out) => {
    if (typeof v === 'string') out.text(v);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out.int(v);
    else if (v === null || v === undefined) out.nul();
    else if (typeof v === 'number' && Number.isFinite(v)) out.raw(String(v));
    else generic(v, out);
  };
}

/**
 * The CopyBytes of finished COPYs, for the next ones: their Buffers are not garbage per batch, and
 * instances that stay alive keep the class's hidden class alive (when none is left, a full GC drops
 * it, and the optimised code of every method above with it).
 */
const spare: CopyBytes[] = [];

/** The rows' columns as COPY text, in chunks of about 64 kB. */
export function* copyChunks(rows: readonly Value[], cols: readonly ColumnMeta[]): Generator<Buffer> {
  const names = cols.map((c) => c.name);
  const writers = cols.map(fieldWriter);
  const out = spare.pop() ?? new CopyBytes();
  try {
    let i = 0;
    while (i < rows.length) {
      i = writeRows(rows, i, names, writers, out);
      yield* out.take();
    }
    yield* out.take(true);
  } finally {
    out.clear();
    if (spare.length < 4) spare.push(out);
  }
}

/** writes rows from `i` on until a chunk is ready; the index of the next row (a loop over rows inside the generator allocated per row) */
function writeRows(rows: readonly Value[], i: number, names: string[], writers: FieldWriter[], out: CopyBytes): number {
  const last = names.length - 1;
  for (; i < rows.length && !out.ready; i++) {
    const row = rows[i];
    for (let c = 0; c < last; c++) {
      writers[c](row[names[c]], out);
      out.byte(TAB);
    }
    writers[last](row[names[last]], out);
    out.byte(NEWLINE);
  }
  return i;
}
