/**
 * nats.sink: publishes each record to a JetStream subject and waits for the stream's acknowledgement of
 * every message before the batch counts as written. Each message carries a de-duplication id (Nats-Msg-Id,
 * by default a hash of the record's source, position, key and content), so a batch published again after
 * a crash or a retry is dropped by the stream inside its duplicate window: effectively-once on the stream.
 * The stream is created on the subject when missing. While the broker is away the write waits for the
 * client to reconnect (up to `maxWaitMs`) instead of failing the flow.
 */
import { createHash } from 'node:crypto';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { js, transport } from './driver.js';
import { z } from 'zod';
import { defineNode, errorMessage, NodeError, type NodeContext, type SinkInstance, type SluiceRecord } from '../../runtime/index.js';
import { sleep } from '../shared/abort.js';
import { encodePayload, payloadFormat } from '../shared/message-codec.js';
import { connectionField, connectNats, resolveEntry } from './connection.js';
import { ensureStream } from './stream.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    connection: connectionField,
    stream: z.string().min(1).describe('JetStream stream the subject belongs to; created on `subject` (or `subjects`) when missing'),
    subject: z.string().min(1).describe('subject to publish to; `{field}` takes a value field (orders.{country}), `{table}` the source table'),
    subjects: z.array(z.string().min(1)).optional().describe('subjects of the stream when the node creates it (default: the subject, with each {…} as *)'),
    format: payloadFormat,
    envelope: z.boolean().default(false).describe('publish { op, key, value, before } instead of the value alone'),
    msgId: z
      .enum(['record', 'key', 'none'])
      .default('record')
      .describe('de-duplication id: record (source, position, key and content: a replayed record is dropped), key (one message per key within the window), none'),
    maxWaitMs: z.number().int().min(0).max(86_400_000).default(300_000).describe('how long a write waits for a broker that went away before it fails, ms'),
    ackTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long to wait for the stream to acknowledge a message, ms'),
  })
  .strict();

type Config = z.output<typeof configSchema>;

const PLACEHOLDER = /\{([^{}]+)\}/g;

class NatsSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private nc?: NatsConnection;
  private js?: JetStreamClient;

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    const { config, nodeId } = this.ctx;
    const entry = resolveEntry(nodeId, config.connection, this.ctx.connection);
    const nc = (this.nc = await connectNats(nodeId, entry));
    await openOrClose(
      async () => {
        const jsm = await js.jetstreamManager(nc);
        await ensureStream(jsm, nodeId, config.stream, config.subjects ?? [config.subject.replace(PLACEHOLDER, '*')]);
        this.js = js.jetstream(nc, { timeout: config.ackTimeoutMs });
      },
      () => this.close(),
    );
  }

  async write(records: SluiceRecord[]): Promise<void> {
    const js = this.js;
    if (!js) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    const { config, signal } = this.ctx;
    const deadline = Date.now() + config.maxWaitMs;
    let todo = records;
    for (let attempt = 0; ; attempt++) {
      const results = await Promise.allSettled(todo.map((r) => this.publish(js, r)));
      const failed: SluiceRecord[] = [];
      let firstError: unknown;
      results.forEach((res, i) => {
        if (res.status === 'rejected') {
          failed.push(todo[i]);
          firstError ??= res.reason;
        }
      });
      if (!failed.length) return;
      // the de-duplication ids make publishing the failed ones again safe
      if (!this.transient(firstError) || Date.now() > deadline || signal.aborted) {
        throw new NodeError(this.ctx.nodeId, `${failed.length} of ${records.length} message(s) not acknowledged by stream ${config.stream}: ${errorMessage(firstError)}`, { cause: firstError });
      }
      if (attempt === 0) this.ctx.log.warn(`publishing to ${config.stream} failed (${errorMessage(firstError)}): waiting for the broker`);
      await sleep(Math.min(2000, 100 * 2 ** attempt), signal);
      todo = failed;
    }
  }

  /** errors of a broker that is away or busy (retried), as opposed to a refusal (not retried) */
  private transient(err: unknown): boolean {
    const m = errorMessage(err).toLowerCase();
    return /timeout|timed out|no responders|disconnect|reconnect|closed|connection|503/.test(m);
  }

  private publish(js: JetStreamClient, record: SluiceRecord): Promise<PubAck> {
    const { config } = this.ctx;
    const subject = this.subjectFor(record);
    const data = encodePayload(record, config.format, config.envelope);
    const meta = record.meta;
    let h;
    if (meta.headers && typeof meta.headers === 'object') {
      h = transport.headers();
      for (const [k, v] of Object.entries(meta.headers as Record<string, unknown>)) if (typeof v === 'string' && !k.startsWith('Nats-')) h.set(k, v);
    }
    const msgID = this.msgIdFor(record, data);
    return js.publish(subject, data, { ...(msgID ? { msgID } : {}), ...(h ? { headers: h } : {}) });
  }

  private subjectFor(record: SluiceRecord): string {
    const { config, nodeId } = this.ctx;
    if (!config.subject.includes('{')) return config.subject;
    const row = record.value ?? record.before ?? {};
    return config.subject.replace(PLACEHOLDER, (_m, field: string) => {
      const v = field === 'table' ? record.meta.table : row[field];
      if (v === undefined || v === null || v === '') throw new NodeError(nodeId, `subject ${config.subject}: the record has no ${field} (key ${JSON.stringify(record.key)})`);
      return String(v).replace(/[.*>\s]/g, '_');
    });
  }

  private msgIdFor(record: SluiceRecord, data: Uint8Array): string | undefined {
    const { config } = this.ctx;
    if (config.msgId === 'none') return undefined;
    const h = createHash('sha256');
    h.update(JSON.stringify(record.key ?? null));
    if (config.msgId === 'record') {
      h.update('\0');
      h.update(JSON.stringify([record.meta.source ?? null, record.meta.position ?? null, record.op]));
      h.update('\0');
      h.update(data);
    }
    return h.digest('base64url');
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    if (nc) await nc.drain().catch(() => nc.close());
  }
}

export const natsSink = defineNode({
  type: 'nats.sink',
  category: 'sink',
  title: 'NATS JetStream sink',
  description: 'Publishes each record to a JetStream subject with a de-duplication id; a batch is written once the stream acknowledged every message. Creates the stream when missing.',
  icon: 'radio',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => new NatsSink(ctx),
});
