/**
 * Streaming a text file as raw records with exact byte offsets. The file is read in fixed-size chunks at
 * explicit positions (memory stays flat whatever the file size); a splitter cuts the bytes into records:
 * at every newline for JSON Lines, at newlines outside quoted fields for CSV (RFC 4180 quoting, the same
 * rules csv-parse applies: a quote opens a field only at its start, `""` inside quotes is a quote).
 * Splitting bytes on 0x0A never cuts a UTF-8 character, so each record decodes on its own.
 */
import type { FileHandle } from 'node:fs/promises';

export const CHUNK_SIZE = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** Sequential chunks of a file from a byte offset. */
export class ChunkReader {
  private offset: number;

  constructor(private readonly handle: FileHandle, start: number, private readonly size = CHUNK_SIZE) {
    this.offset = start;
  }

  /** the next chunk, or null at the end of the file */
  async next(): Promise<Buffer | null> {
    const buf = Buffer.allocUnsafe(this.size);
    const { bytesRead } = await this.handle.read(buf, 0, this.size, this.offset);
    if (bytesRead === 0) return null;
    this.offset += bytesRead;
    return buf.subarray(0, bytesRead);
  }
}

export interface RawRecord {
  /** the record's text without its line break (a trailing \r is dropped too) */
  text: string;
  /** 1-based line the record starts on */
  startLine: number;
  /** 1-based line the record ends on (differs from startLine for a CSV record with quoted newlines) */
  endLine: number;
  /** byte offset just after the record and its line break */
  end: number;
}

export class RecordSplitter {
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** byte offset of the first byte of the pending record */
  private offset: number;
  /** lines completed before the pending record */
  private line: number;
  // CSV quoting state of the pending record (unused for JSON Lines)
  private inQuotes = false;
  private afterQuote = false;
  private fieldStart = true;
  private quotedNewlines = 0;

  /** `csvDelimiter`: the delimiter byte for CSV splitting; omitted for JSON Lines */
  constructor(start: number, linesBefore: number, private readonly csvDelimiter?: number) {
    this.offset = start;
    this.line = linesBefore;
  }

  push(chunk: Buffer): RawRecord[] {
    const out: RawRecord[] = [];
    let from = 0;
    for (;;) {
      const nl = this.csvDelimiter === undefined ? chunk.indexOf(LF, from) : this.scanCsv(chunk, from);
      if (nl < 0) break;
      out.push(this.emit(chunk.subarray(from, nl), 1));
      from = nl + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      this.parts.push(rest);
      this.partsLength += rest.length;
    }
    return out;
  }

  /** the last record when the file does not end with a line break */
  end(): RawRecord[] {
    if (this.partsLength === 0) return [];
    return [this.emit(Buffer.alloc(0), 0)];
  }

  /** index of the next newline that ends a CSV record, or -1; keeps the quoting state across chunks */
  private scanCsv(chunk: Buffer, from: number): number {
    const delim = this.csvDelimiter as number;
    for (let i = from; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.inQuotes) {
        if (b === QUOTE) {
          this.inQuotes = false;
          this.afterQuote = true;
        } else if (b === LF) {
          this.quotedNewlines++;
        }
        continue;
      }
      if (this.afterQuote) {
        this.afterQuote = false;
        if (b === QUOTE) {
          // `""` inside a quoted field: an escaped quote, still quoting
          this.inQuotes = true;
          continue;
        }
      }
      if (b === LF) {
        this.fieldStart = true;
        return i;
      }
      if (b === delim) this.fieldStart = true;
      else if (b === QUOTE && this.fieldStart) {
        this.inQuotes = true;
        this.fieldStart = false;
      } else if (b !== CR) this.fieldStart = false;
    }
    return -1;
  }

  private emit(tail: Buffer, breakLength: number): RawRecord {
    let bytes = tail;
    if (this.partsLength > 0) {
      this.parts.push(tail);
      bytes = Buffer.concat(this.parts, this.partsLength + tail.length);
      this.parts = [];
      this.partsLength = 0;
    }
    const trimmed = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes;
    const startLine = this.line + 1;
    const endLine = startLine + this.quotedNewlines;
    const end = this.offset + bytes.length + breakLength;
    this.offset = end;
    this.line = endLine;
    this.quotedNewlines = 0;
    this.inQuotes = false;
    this.afterQuote = false;
    this.fieldStart = true;
    return { text: trimmed.toString('utf8'), startLine, endLine, end };
  }
}
