/**
 * CSV fields: records are cut by RecordSplitter (lines.ts) and their fields parsed by csv-parse, a whole
 * chunk of records in one call; only when that call fails is each record parsed alone, so one broken
 * record becomes one error and its neighbours are still read. Writing goes through csv-stringify.
 */
import type { FileHandle } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { bomLength } from './common.js';
import { ChunkReader, RecordSplitter, type RawRecord } from './lines.js';

export type CsvParsed = { fields: string[] } | { error: string };

function options(delimiter: string) {
  return {
    delimiter,
    record_delimiter: '\n',
    relax_column_count: true,
    skip_empty_lines: false,
    bom: false,
  } as const;
}

/** csv-parse messages carry a line number relative to the text it was given: drop it, we prefix the true one */
function cleanMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/ (at|on) line \d+/g, '');
}

/** Parses the fields of each raw record (none of them blank). One result per record, in order. */
export function parseCsvRecords(raws: RawRecord[], delimiter: string): CsvParsed[] {
  if (raws.length === 0) return [];
  const opts = options(delimiter);
  try {
    const rows = parse(raws.map((r) => r.text).join('\n'), opts);
    if (rows.length === raws.length) return rows.map((fields) => ({ fields }));
  } catch {
    // some record is malformed: parse one by one below to find which
  }
  return raws.map((r) => {
    try {
      const rows = parse(r.text, opts);
      if (rows.length !== 1) return { error: `expected one record, found ${rows.length}` };
      return { fields: rows[0] };
    } catch (err) {
      return { error: cleanMessage(err) };
    }
  });
}

export interface CsvHeader {
  columns: string[];
  /** the header's raw record (line numbers, end offset) */
  raw: RawRecord;
}

/**
 * Reads the header row of a CSV file (the first non-blank record). Returns null when the file holds no
 * record at all, or a message when the header cannot be parsed.
 */
export async function readCsvHeader(handle: FileHandle, delimiter: string): Promise<CsvHeader | { error: string; raw: RawRecord } | null> {
  const start = await bomLength(handle);
  const reader = new ChunkReader(handle, start);
  const splitter = new RecordSplitter(start, 0, delimiter.charCodeAt(0));
  for (;;) {
    const chunk = await reader.next();
    const raws = chunk ? splitter.push(chunk) : splitter.end();
    const raw = raws.find((r) => r.text !== '');
    if (raw) {
      const [parsed] = parseCsvRecords([raw], delimiter);
      return 'error' in parsed ? { error: parsed.error, raw } : { columns: parsed.fields, raw };
    }
    if (!chunk) return null;
  }
}

/** A value as one CSV cell: strings as they are, null/undefined empty, objects and arrays as JSON. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/** Rows of cells as CSV text, each row ended by \n; quoting as needed. */
export function formatCsv(rows: string[][], delimiter: string): string {
  return rows.length === 0 ? '' : stringify(rows, { delimiter, record_delimiter: 'unix', eof: true });
}
