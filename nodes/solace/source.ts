/**
 * solace.source: binds to a durable queue (optionally subscribing it to topics) with client
 * acknowledgement, and settles each message only in `committed()`, after every sink acknowledged its
 * batch. When the session goes down the messages not yet settled come back from the broker on the next
 * session (counted as redeliveries): at-least-once. The node reconnects by itself, with backoff, until the
 * flow stops. Payloads that do not decode (not JSON) go to the error port, and are settled with their batch.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineNode, errorMessage, NodeError, type NodeContext, type SluiceRecord, type SourceBatch, type SourceInstance, type SourceProgress } from '../../runtime/index.js';
import { sleep } from '../shared/abort.js';
import { decodePayload, payloadFormat } from '../shared/message-codec.js';
import type { QueueConsumer, ReceivedMessage, SolaceAdapter, SolaceSession } from './adapter.js';
import { solclientAdapter } from './solclient.js';
import { connectOptions, connectionField, resolveEntry, type SolaceEntry } from './connection.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    connection: connectionField,
    queue: z.string().min(1).describe('durable queue to consume (guaranteed messaging)'),
    topics: z.array(z.string().min(1)).optional().describe('topics to subscribe the queue to first (needs the right on the queue)'),
    format: payloadFormat,
    keyField: z.string().min(1).optional().describe('value field that is the record key (default: the message id, when the sender set one)'),
    window: z.number().int().min(1).max(255).default(255).describe('messages the broker sends ahead of acknowledgement (the consumer window)'),
    reconnectMaxMs: z.number().int().min(100).max(600_000).default(10_000).describe('longest wait between reconnect attempts after the session went down, ms'),
  })
  .strict();

type Config = z.output<typeof configSchema>;

interface Position {
  run: string;
  batch: number;
}

class SolaceSource implements SourceInstance {
  readonly kind = 'source' as const;
  private readonly run = randomBytes(6).toString('hex');
  private entry!: SolaceEntry;
  private session?: SolaceSession;
  private consumer?: QueueConsumer;
  private buffer: ReceivedMessage[] = [];
  private pending = new Map<number, ReceivedMessage[]>();
  private batchNo = 0;
  private wake?: () => void;
  private closed = false;
  private reconnecting?: Promise<void>;
  private stats = { read: 0, redelivered: 0, settled: 0, notJson: 0, disconnects: 0, lostAcks: 0 };

  constructor(private readonly ctx: NodeContext<Config>, private readonly adapter: SolaceAdapter) {}

  async open(): Promise<void> {
    this.entry = resolveEntry(this.ctx.nodeId, this.ctx.config.connection, this.ctx.connection);
    await this.start();
  }

  private async start(): Promise<void> {
    const { config } = this.ctx;
    const session = await this.adapter.connect(connectOptions(this.entry));
    session.onEvent((e) => {
      if (e.type === 'down') this.lost(session, e.info);
      else this.ctx.log.warn(`Solace session ${e.type}: ${e.info}`);
    });
    this.session = session;
    await openOrClose(
      async () => {
        this.consumer = await session.consume(config.queue, { topics: config.topics, window: config.window }, (m) => {
          if (this.session !== session) return; // a late delivery of a session given up: the broker redelivers it
          this.buffer.push(m);
          this.wake?.();
        });
      },
      () => session.close(),
      (err) => new NodeError(this.ctx.nodeId, errorMessage(err)),
    );
  }

  /** the session is gone: what it delivered and was not settled will come again; connect anew */
  private lost(session: SolaceSession, info: string): void {
    if (this.session !== session || this.closed) return;
    this.stats.disconnects++;
    this.ctx.log.warn(`Solace session down (${info}): reconnecting; unsettled messages will be redelivered`);
    this.session = undefined;
    this.consumer = undefined;
    this.buffer = [];
    this.reconnecting = this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const { signal, config } = this.ctx;
    for (let attempt = 0; !signal.aborted && !this.closed; attempt++) {
      try {
        await this.start();
        this.ctx.log.info('Solace session up again');
        this.reconnecting = undefined;
        this.wake?.();
        return;
      } catch (err) {
        this.ctx.log.warn(`reconnecting to Solace: ${errorMessage(err)}`);
        await sleep(Math.min(config.reconnectMaxMs, 100 * 2 ** attempt), signal);
      }
    }
  }

  async read(): Promise<SourceBatch | null> {
    const { signal } = this.ctx;
    while (this.buffer.length === 0) {
      if (signal.aborted || (this.ctx.preview && this.buffer.length === 0 && this.batchNo > 0)) return null;
      const waited = await new Promise<boolean>((resolve) => {
        const done = (v: boolean) => {
          this.wake = undefined;
          signal.removeEventListener('abort', abort);
          clearTimeout(timer);
          resolve(v);
        };
        const abort = () => done(true);
        this.wake = () => done(true);
        signal.addEventListener('abort', abort, { once: true });
        // a test run shows what arrives within two seconds
        const timer = this.ctx.preview ? setTimeout(() => done(false), 2000) : undefined;
      });
      if (!waited) return null;
    }
    await new Promise((r) => setImmediate(r));
    const msgs = this.buffer.splice(0, this.ctx.settings.batchSize);
    const position: Position = { run: this.run, batch: ++this.batchNo };
    this.pending.set(position.batch, msgs);
    return this.toBatch(msgs, position);
  }

  private toBatch(msgs: ReceivedMessage[], position: Position): SourceBatch {
    const { config, nodeId } = this.ctx;
    const records: SluiceRecord[] = [];
    const errors: SluiceRecord[] = [];
    for (const m of msgs) {
      if (m.redelivered) this.stats.redelivered++;
      const meta = { source: nodeId, table: m.destination, destination: m.destination, queue: config.queue, ...(m.id ? { messageId: m.id } : {}), ...(m.redelivered ? { redelivered: true } : {}), ...(m.properties && Object.keys(m.properties).length ? { properties: m.properties } : {}), ts: Date.now() };
      const decoded = decodePayload(m.payload, config.format);
      if (!decoded.ok) {
        errors.push({ key: m.id ?? null, value: decoded.raw, op: 'c', meta: { ...meta, error: { node: nodeId, message: `${decoded.error} (queue ${config.queue}, destination ${m.destination}${m.id ? `, message ${m.id}` : ''})` } } });
        continue;
      }
      const key = config.keyField !== undefined ? (decoded.value[config.keyField] ?? m.id ?? null) : (m.id ?? null);
      records.push({ key, value: decoded.value, op: 'c', meta });
    }
    this.stats.read += msgs.length;
    this.stats.notJson += errors.length;
    return { records, errors, position };
  }

  committed(position: unknown): void {
    const p = position as Partial<Position> | undefined;
    if (!p || p.run !== this.run || typeof p.batch !== 'number') return;
    for (const [n, msgs] of this.pending) {
      if (n > p.batch) continue;
      this.pending.delete(n);
      for (const m of msgs) {
        try {
          m.ack();
          this.stats.settled++;
        } catch {
          // its session is gone: the broker delivers it again (a duplicate at an idempotent sink)
          this.stats.lostAcks++;
        }
      }
    }
  }

  progress(): SourceProgress {
    return { tables: [{ name: this.ctx.config.queue, phase: 'streaming', done: this.stats.read }], detail: { ...this.stats, connected: Boolean(this.session) } };
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    this.wake?.();
    await this.consumer?.close().catch(() => undefined);
    await session?.close().catch(() => undefined);
    await this.reconnecting;
  }
}

export function solaceSourceWith(adapter: SolaceAdapter) {
  return defineNode({
    type: 'solace.source',
    category: 'source',
    title: 'Solace queue source',
    description: 'Consumes a Solace queue (guaranteed messaging); settles each message only after every sink acknowledged it; reconnects by itself.',
    icon: 'radio',
    configSchema,
    inputs: [],
    outputs: [
      { name: 'out', description: 'one record per message: op c; meta.destination, messageId, redelivered, properties' },
      { name: 'error', description: 'messages whose payload does not decode (not JSON), with the raw payload' },
    ],
    create: (ctx) => new SolaceSource(ctx, adapter),
  });
}

export const solaceSource = solaceSourceWith(solclientAdapter);
