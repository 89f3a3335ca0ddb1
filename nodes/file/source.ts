/**
 * file.source: reads a JSON Lines or CSV file as a stream, in batches, resumable at a byte offset.
 *
 * - Position `{ offset, line }`: the byte offset just after the last record of the batch and the line it
 *   ended on; a resumed run seeks there (CSV reads the header row first) and reads nothing twice.
 * - Memory stays flat: the file is read in 64 KiB chunks; only a batch and one chunk are held.
 * - A line (CSV: record) that cannot be parsed becomes an error record `{ value: { line: <raw text> } }`
 *   with `meta.error.message` = `<path> line <n>: <why>`; the source goes on with the next line.
 * - Blank lines are skipped. CSV values are strings (no type guessing). A UTF-8 byte order mark is skipped.
 */
import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { fileMark } from '../../runtime/index.js';
import { defineNode, type NodeContext, type SourceBatch, type SourceInstance, ConfigError, NodeError, type SluiceRecord, type Value } from '../../runtime/index.js';
import {
  bomLength,
  capText,
  delimiterField,
  describeJson,
  envelopeField,
  envelopeNeedsJsonl,
  formatField,
  fromEnvelope,
  openExisting,
  parseFilePosition,
  pathField,
  type FilePosition,
} from './common.js';
import { parseCsvRecords, readCsvHeader } from './csv.js';
import { ChunkReader, RecordSplitter, type RawRecord } from './lines.js';
import { openOrClose } from '../shared/open.js';
import { filePositionText } from './position-text.js';

const configSchema = z
  .object({
    path: pathField.meta(fileMark('read')),
    format: formatField,
    envelope: envelopeField,
    delimiter: delimiterField,
  })
  .strict()
  .superRefine(envelopeNeedsJsonl);

type Config = z.output<typeof configSchema>;

interface Item {
  record: SluiceRecord;
  error: boolean;
  position: FilePosition;
}

class FileSource implements SourceInstance {
  readonly kind = 'source' as const;
  private handle?: FileHandle;
  private reader?: ChunkReader;
  private splitter?: RecordSplitter;
  private queue: Item[] = [];
  private eof = false;
  private header?: string[];

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(position: unknown): Promise<void> {
    await openOrClose(() => this.start(position), () => this.close());
  }

  private async start(position: unknown): Promise<void> {
    const { ctx } = this;
    const { config } = ctx;
    const pos = parseFilePosition(ctx.nodeId, position);
    const handle = await openExisting(ctx.nodeId, config.path, ctx.files.resolve('path', config.path));
    this.handle = handle;
    this.queue = [];
    this.eof = false;
    this.header = undefined;
    const { size } = await handle.stat();
    if (pos.offset > size) {
      throw new NodeError(
        ctx.nodeId,
        `${config.path} is shorter (${size} bytes) than the committed position (byte ${pos.offset}): the file was truncated or replaced`,
      );
    }
    let start = pos.offset;
    if (config.format === 'csv' && start > 0) {
      const header = await readCsvHeader(handle, config.delimiter);
      if (header === null || 'error' in header) throw this.headerError(header);
      if (header.raw.end > start) throw new NodeError(ctx.nodeId, `position byte ${start} lies inside the header row of ${config.path}`);
      this.header = header.columns;
    }
    if (start === 0) start = await bomLength(handle);
    this.reader = new ChunkReader(handle, start);
    this.splitter = new RecordSplitter(start, pos.line, config.format === 'csv' ? config.delimiter.charCodeAt(0) : undefined);
  }

  async read(): Promise<SourceBatch | null> {
    if (!this.reader) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    const size = this.ctx.settings.batchSize;
    while (this.queue.length < size && !this.eof) await this.fill();
    if (this.queue.length === 0) return null;
    const items = this.queue.splice(0, size);
    const records: SluiceRecord[] = [];
    const errors: SluiceRecord[] = [];
    for (const item of items) (item.error ? errors : records).push(item.record);
    const batch: SourceBatch = { records, position: items[items.length - 1].position };
    if (errors.length > 0) batch.errors = errors;
    return batch;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.reader = undefined;
    this.splitter = undefined;
    this.queue = [];
    await handle?.close();
  }

  private async fill(): Promise<void> {
    const chunk = await this.reader!.next();
    const raws = chunk ? this.splitter!.push(chunk) : this.splitter!.end();
    if (!chunk) this.eof = true;
    if (this.ctx.config.format === 'csv') this.decodeCsv(raws);
    else this.decodeJsonl(raws);
  }

  private decodeJsonl(raws: RawRecord[]): void {
    const envelope = this.ctx.config.envelope;
    for (const raw of raws) {
      if (raw.text.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.text);
      } catch (err) {
        this.pushError(raw, (err as Error).message);
        continue;
      }
      if (envelope) {
        const env = fromEnvelope(parsed);
        if (typeof env === 'string') {
          this.pushError(raw, env);
          continue;
        }
        const record: SluiceRecord = {
          key: env.key === undefined ? defaultKey(env.value ?? env.before ?? null, raw) : env.key,
          value: env.value,
          op: env.op,
          meta: this.meta(raw),
        };
        if (env.before !== undefined) record.before = env.before;
        this.queue.push({ record, error: false, position: record.meta.position as FilePosition });
      } else if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        this.pushError(raw, `expected a JSON object, got ${describeJson(parsed)}`);
      } else {
        this.pushValue(parsed as Value, raw);
      }
    }
  }

  private decodeCsv(raws: RawRecord[]): void {
    let rows = raws.filter((r) => r.text !== '');
    if (rows.length === 0) return;
    if (!this.header) {
      const header = parseCsvRecords([rows[0]], this.ctx.config.delimiter)[0];
      if ('error' in header) throw this.headerError({ error: header.error, raw: rows[0] });
      this.header = header.fields;
      rows = rows.slice(1);
    }
    const columns = this.header;
    const parsed = parseCsvRecords(rows, this.ctx.config.delimiter);
    for (let i = 0; i < rows.length; i++) {
      const p = parsed[i];
      if ('error' in p) {
        this.pushError(rows[i], p.error);
      } else if (p.fields.length !== columns.length) {
        this.pushError(rows[i], `expected ${columns.length} fields (as in the header), got ${p.fields.length}`);
      } else {
        const value: Value = {};
        for (let c = 0; c < columns.length; c++) value[columns[c]] = p.fields[c];
        this.pushValue(value, rows[i]);
      }
    }
  }

  private meta(raw: RawRecord): SluiceRecord['meta'] {
    return { source: this.ctx.nodeId, position: { offset: raw.end, line: raw.endLine } satisfies FilePosition };
  }

  private pushValue(value: Value, raw: RawRecord): void {
    const meta = this.meta(raw);
    this.queue.push({ record: { key: defaultKey(value, raw), value, op: 'c', meta }, error: false, position: meta.position as FilePosition });
  }

  private pushError(raw: RawRecord, why: string): void {
    const meta = this.meta(raw);
    meta.error = { node: this.ctx.nodeId, message: `${this.ctx.config.path} line ${raw.startLine}: ${why}` };
    this.queue.push({ record: { key: raw.startLine, value: { line: capText(raw.text) }, op: 'c', meta }, error: true, position: meta.position as FilePosition });
  }

  private headerError(header: { error: string; raw: RawRecord } | null): ConfigError {
    if (header === null) return new ConfigError(this.ctx.nodeId, 'path', `${this.ctx.config.path} has no CSV header row`);
    return new ConfigError(this.ctx.nodeId, 'path', `${this.ctx.config.path} line ${header.raw.startLine}: cannot read the CSV header row: ${header.error}`);
  }
}

/** `value.id` when there is one, else the line number the record starts on */
function defaultKey(value: Value | null, raw: RawRecord): unknown {
  const id = value?.id;
  return id === undefined || id === null ? raw.startLine : id;
}

export const fileSource = defineNode({
  type: 'file.source',
  category: 'source',
  title: 'File source',
  description:
    'Reads a JSON Lines or CSV (header row) file in batches, streaming; resumes at the byte after the last committed record; unparseable lines go to errors.',
  icon: 'file',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'one record per line (CSV: per row), op c; key = value.id or the line number' }],
  position: filePositionText,
  create: (ctx) => new FileSource(ctx),
});

export default fileSource;
