/**
 * file.sink: appends records to a JSON Lines or CSV file, one write per batch.
 *
 * - JSON Lines: `record.value` per line; with `envelope: true` the whole record `{op, key, value, before}`
 *   (no meta), which file.source with `envelope: true` reads back as the same record.
 * - Without envelope, deletes (op d) and records without a value are skipped: there is nothing to write
 *   for them. Use the envelope to keep deletes.
 * - CSV: the header row is written only when the file is new or empty; the columns are `columns` from the
 *   config, else the header already in the file, else the fields of the first record written. Fields
 *   outside the columns are dropped with one warning per field name; missing fields are empty cells;
 *   objects and arrays are written as JSON.
 * - Append-only, so a batch retried after a failure may appear twice (at-least-once). A line torn by a
 *   crash is closed with a line break before the next write, so it stays one bad line.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { fileMark } from '../../runtime/index.js';
import { defineNode, type NodeContext, type SinkInstance, ConfigError, NodeError, errorMessage, type SluiceRecord } from '../../runtime/index.js';
import { delimiterField, envelopeField, envelopeNeedsJsonl, formatField, pathField, toEnvelope } from './common.js';
import { csvCell, formatCsv, readCsvHeader } from './csv.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    path: pathField.meta(fileMark('write')),
    format: formatField,
    envelope: envelopeField,
    delimiter: delimiterField,
    fsync: z.boolean().default(false).describe('fsync the file after every batch (durable across power loss; slower)'),
    columns: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('csv only: the columns, in order; default: the existing header, else the fields of the first record'),
  })
  .strict()
  .superRefine(envelopeNeedsJsonl);

type Config = z.output<typeof configSchema>;

class FileSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private handle?: FileHandle;
  private columns?: string[];
  private headerNeeded = false;
  /** the file may not end with a line break (it was not empty at open, or a write failed) */
  private checkTail = false;
  private readonly warned = new Set<string>();

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    await openOrClose(() => this.start(), () => this.close());
  }

  private async start(): Promise<void> {
    const { config, nodeId } = this.ctx;
    const path = this.ctx.files.resolve('path', config.path, { write: true });
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'a+');
    this.handle = handle;
    const { size } = await handle.stat();
    this.checkTail = size > 0;
    this.columns = config.columns;
    this.headerNeeded = false;
    if (config.format !== 'csv') return;
    const header = size > 0 ? await readCsvHeader(handle, config.delimiter) : null;
    if (header === null) {
      this.headerNeeded = true;
    } else if ('error' in header) {
      throw new ConfigError(nodeId, 'path', `${config.path} line ${header.raw.startLine}: cannot read the existing CSV header: ${header.error}`);
    } else if (config.columns && header.columns.join('\0') !== config.columns.join('\0')) {
      throw new ConfigError(
        nodeId,
        'columns',
        `${config.path} already has the header ${header.columns.join(config.delimiter)}, which differs from columns ${config.columns.join(', ')}`,
      );
    } else {
      this.columns = header.columns;
    }
  }

  async write(records: SluiceRecord[]): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    const text = this.ctx.config.format === 'csv' ? this.csvText(records) : this.jsonlText(records);
    if (text === '') return;
    const prefix = this.checkTail && !(await endsWithNewline(handle)) ? '\n' : '';
    const buf = Buffer.from(prefix + text, 'utf8');
    try {
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await handle.write(buf, done, buf.length - done, null);
        done += bytesWritten;
      }
      if (this.ctx.config.fsync) await handle.sync();
    } catch (err) {
      this.checkTail = true;
      throw new NodeError(this.ctx.nodeId, `cannot write ${this.ctx.config.path}: ${errorMessage(err)}`, { cause: err });
    }
    this.checkTail = false;
    this.headerNeeded = false;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private jsonlText(records: SluiceRecord[]): string {
    const lines: string[] = [];
    for (const r of records) {
      if (this.ctx.config.envelope) lines.push(JSON.stringify(toEnvelope(r)));
      else if (r.op !== 'd' && r.value) lines.push(JSON.stringify(r.value));
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  private csvText(records: SluiceRecord[]): string {
    const rows: string[][] = [];
    const extra = new Set<string>();
    for (const r of records) {
      const value = r.value;
      if (r.op === 'd' || !value) continue;
      this.columns ??= Object.keys(value);
      const columns = this.columns;
      rows.push(columns.map((c) => csvCell(value[c])));
      for (const field of Object.keys(value)) {
        if (!columns.includes(field) && !this.warned.has(field)) extra.add(field);
      }
    }
    if (extra.size > 0) {
      for (const f of extra) this.warned.add(f);
      this.ctx.log.warn(
        `${this.ctx.config.path}: field${extra.size > 1 ? 's' : ''} ${[...extra].join(', ')} not in the CSV columns (${this.columns!.join(', ')}): dropped`,
      );
    }
    if (rows.length === 0) return '';
    if (this.headerNeeded) rows.unshift([...this.columns!]);
    return formatCsv(rows, this.ctx.config.delimiter);
  }
}

async function endsWithNewline(handle: FileHandle): Promise<boolean> {
  const { size } = await handle.stat();
  if (size === 0) return true;
  const buf = Buffer.alloc(1);
  await handle.read(buf, 0, 1, size - 1);
  return buf[0] === 0x0a;
}

export const fileSink = defineNode({
  type: 'file.sink',
  category: 'sink',
  title: 'File sink',
  description:
    'Appends records to a JSON Lines or CSV file, one write per batch. Deletes are skipped unless envelope is on (JSONL). CSV: header once; fields outside the columns are dropped with a warning.',
  icon: 'file',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => new FileSink(ctx),
});

export default fileSink;
