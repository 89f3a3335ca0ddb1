/**
 * What file.source and file.sink share: config fields (one definition, one description), the position
 * format, the JSON Lines envelope, opening a file with a clear error.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, NodeError, OPS, ui, type Op, type SluiceRecord, type Value } from '../../runtime/index.js';

export const pathField = z.string().min(1).describe('file path; a relative path is resolved against the working directory (in the server: against its first file root)');

export const formatField = z
  .enum(['jsonl', 'csv'])
  .default('jsonl')
  .describe('jsonl: one JSON object per line; csv: comma-separated values with a header row');

export const envelopeField = z
  .boolean()
  .default(false)
  .describe('jsonl only: each line is a whole record {op, key, value, before}, so deletes and keys survive the file')
  .meta(ui({ label: 'Whole records', showWhen: { format: 'jsonl' }, help: 'each line is a whole record {op, key, value, before}' }));

export const delimiterField = z
  .string()
  .regex(/^[\x01-\x7f]$/, 'must be one ASCII character')
  .refine((d) => d !== '"' && d !== '\r' && d !== '\n', 'cannot be a quote or a line break')
  .default(',')
  .describe('csv only: field separator, one ASCII character (e.g. "," ";" or a tab)')
  .meta(ui({ showWhen: { format: 'csv' }, help: 'one ASCII character, e.g. , or ;' }));

/** refinement shared by both schemas: `envelope` only makes sense for JSON Lines */
export function envelopeNeedsJsonl(cfg: { format: string; envelope: boolean }, ctx: z.RefinementCtx): void {
  if (cfg.envelope && cfg.format !== 'jsonl') {
    ctx.addIssue({ code: 'custom', path: ['envelope'], message: 'envelope is only supported with format jsonl' });
  }
}

/**
 * A file source position: `offset` is the byte offset just after the last record read (where a resumed
 * run continues), `line` the number of lines that far (so messages keep true line numbers after a resume).
 */
export interface FilePosition {
  offset: number;
  line: number;
}

export function parseFilePosition(nodeId: string, position: unknown): FilePosition {
  if (position === undefined || position === null) return { offset: 0, line: 0 };
  const p = position as Partial<FilePosition>;
  if (
    typeof p === 'object' &&
    Number.isSafeInteger(p.offset) &&
    Number.isSafeInteger(p.line) &&
    (p.offset as number) >= 0 &&
    (p.line as number) >= 0
  ) {
    return { offset: p.offset as number, line: p.line as number };
  }
  throw new NodeError(nodeId, `invalid file position ${JSON.stringify(position)}: expected { offset, line }`);
}

/** Opens an existing file for reading; a missing file (or a directory) is a ConfigError naming the path. */
export async function openExisting(nodeId: string, shownPath: string, absPath: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(absPath, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(nodeId, 'path', `file not found: ${shownPath} (${absPath})`);
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigError(nodeId, 'path', `cannot read ${shownPath}: permission denied`);
    throw err;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new ConfigError(nodeId, 'path', `not a file: ${shownPath} (${absPath})`);
  }
  return handle;
}

/** Length of a UTF-8 byte order mark at the start of the file (0 or 3). */
export async function bomLength(handle: FileHandle): Promise<number> {
  const buf = Buffer.alloc(3);
  const { bytesRead } = await handle.read(buf, 0, 3, 0);
  return bytesRead === 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
}

/** The whole record on one line: what file.sink writes with `envelope: true` (no meta). */
export function toEnvelope(r: SluiceRecord): Record<string, unknown> {
  const e: Record<string, unknown> = { op: r.op, key: r.key, value: r.value };
  if (r.before !== undefined) e.before = r.before;
  return e;
}

export interface Envelope {
  op: Op;
  key: unknown;
  value: Value | null;
  before?: Value | null;
}

const isObject = (v: unknown): v is Value => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a parsed envelope line; returns the envelope or a message saying what is wrong. */
export function fromEnvelope(parsed: unknown): Envelope | string {
  if (!isObject(parsed)) return `envelope must be a JSON object, got ${describeJson(parsed)}`;
  const { op, key, value, before } = parsed;
  if (!OPS.includes(op as Op)) return `envelope op must be one of ${OPS.join(', ')}, got ${JSON.stringify(op) ?? 'nothing'}`;
  if (value !== undefined && value !== null && !isObject(value)) return `envelope value must be an object or null, got ${describeJson(value)}`;
  if (before !== undefined && before !== null && !isObject(before)) return `envelope before must be an object or null, got ${describeJson(before)}`;
  const env: Envelope = { op: op as Op, key, value: (value as Value | undefined) ?? null };
  if (before !== undefined) env.before = before as Value | null;
  return env;
}

export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** Raw text kept in an error record: capped so one huge broken line cannot flood the dead-letter store. */
export const MAX_ERROR_TEXT = 64 * 1024;

export function capText(s: string): string {
  return s.length > MAX_ERROR_TEXT ? `${s.slice(0, MAX_ERROR_TEXT)}… (${s.length - MAX_ERROR_TEXT} more characters)` : s;
}
