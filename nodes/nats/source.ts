/**
 * nats.source: reads a JetStream stream through a durable pull consumer with explicit acks.
 *
 * - Messages are acked only in `committed()`, i.e. after every sink downstream acknowledged their batch:
 *   a flow killed mid-run leaves them unacked and the server redelivers them (at-least-once; the
 *   redeliveries are counted in the status and `meta.redeliveries`). While a batch is in flight its
 *   messages are kept alive with "working" acks, so a slow sink does not cause redeliveries.
 * - The durable consumer holds the position; the flow's checkpoint keeps the last stream sequence only for
 *   show. `maxAckPending` bounds what the node holds (read, in flight, not yet committed).
 * - A payload that does not decode (not JSON) goes to the error port with stream, subject and sequence,
 *   and is acked with its batch like any other message.
 * - A test run reads a sample through an ordered (ephemeral) consumer and touches nothing.
 */
import { randomBytes } from 'node:crypto';
import type { ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { js as jetstreams, transport } from './driver.js';
import { z } from 'zod';
import { ConfigError, defineNode, errorMessage, NodeError, type NodeContext, type SluiceRecord, type SourceBatch, type SourceInstance, type SourceProgress } from '../../runtime/index.js';
import { sleep, Wakeup } from '../shared/abort.js';
import { decodePayload, payloadFormat } from '../shared/message-codec.js';
import { connectionField, connectNats, resolveEntry } from './connection.js';
import { ensureStream, subjectCovered } from './stream.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    connection: connectionField,
    stream: z.string().min(1).describe('JetStream stream to read'),
    subjects: z
      .array(z.string().min(1))
      .optional()
      .describe('subjects to read (filters within the stream, wildcards allowed); the stream is created on them when missing. Default: all of the stream'),
    durable: z.string().min(1).regex(/^[^.*>\s]+$/, 'no ".", "*", ">" or spaces').optional().describe('durable consumer name: keeps the position on the server (default: sluice-<flow>-<node>)'),
    deliver: z.enum(['all', 'new']).default('all').describe('where a new durable consumer starts: all (the stream\'s first message) or new (messages from now on)'),
    format: payloadFormat,
    keyField: z.string().min(1).optional().describe('value field that is the record key (default: the stream sequence)'),
    ackWaitMs: z.number().int().min(1000).max(3_600_000).default(30_000).describe('how long the server waits for an ack before redelivering, ms'),
    maxAckPending: z.number().int().min(1).max(1_000_000).default(20_000).describe('messages held unacked at most (read and not yet committed): the read-ahead'),
    previewWaitMs: z.number().int().min(100).max(60_000).default(2000).describe('test run: how long to wait for messages before showing what came'),
  })
  .strict();

type Config = z.output<typeof configSchema>;

/** the checkpoint: `run` and `batch` tie a commit to this run's messages; `seq` is the last stream sequence, for show */
interface Position {
  run: string;
  batch: number;
  seq: number;
}

class NatsSource implements SourceInstance {
  readonly kind = 'source' as const;
  private nc?: NatsConnection;
  private messages?: ConsumerMessages;
  private readonly run = randomBytes(6).toString('hex');
  private buffer: JsMsg[] = [];
  private readonly arrived = new Wakeup();
  /** messages of batches read but not committed, by batch number */
  private pending = new Map<number, JsMsg[]>();
  private batchNo = 0;
  private keepAlive?: NodeJS.Timeout;
  private stats = { read: 0, redelivered: 0, errors: 0, acked: 0, lastSeq: 0, disconnects: 0 };
  private durable = '';
  private closing = false;

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    const { config, nodeId } = this.ctx;
    const entry = resolveEntry(nodeId, config.connection, this.ctx.connection);
    const nc = (this.nc = await connectNats(nodeId, entry));
    void this.watchStatus(nc);
    await openOrClose(
      async () => {
        const jsm = await jetstreams.jetstreamManager(nc);
        // a test run creates nothing: a missing stream is an error there
        const { info } = await ensureStream(jsm, nodeId, config.stream, this.ctx.preview ? undefined : config.subjects);
        for (const s of config.subjects ?? []) {
          if (!subjectCovered(s, info.config.subjects ?? [])) {
            throw new ConfigError(nodeId, 'subjects', `${s} is not within stream ${config.stream}'s subjects (${(info.config.subjects ?? []).join(', ')})`);
          }
        }
        const js = jetstreams.jetstream(nc);
        if (this.ctx.preview) {
          const consumer = await js.consumers.get(config.stream, config.subjects?.length ? { filter_subjects: config.subjects } : {});
          this.messages = await consumer.fetch({ max_messages: this.ctx.settings.batchSize, expires: Math.max(1000, config.previewWaitMs) });
          return;
        }
        this.durable = config.durable ?? `sluice-${this.ctx.flowName}-${nodeId}`.replace(/[.*>\s]/g, '_');
        await this.ensureConsumer(jsm);
        const consumer = await js.consumers.get(config.stream, this.durable);
        this.messages = await consumer.consume({
          max_messages: Math.min(config.maxAckPending, Math.max(100, this.ctx.settings.batchSize * 2)),
          callback: (m) => {
            // a pull still open when the node closes: hand the message straight back
            if (this.closing) return m.nak();
            this.buffer.push(m);
            this.arrived.wake();
          },
        });
        // keep the messages held by the flow from being redelivered while a slow sink works on them
        this.keepAlive = setInterval(() => this.touch(), Math.max(500, Math.floor(config.ackWaitMs / 3)));
        this.keepAlive.unref();
      },
      () => this.close(),
    );
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const { config } = this.ctx;
    const filter = config.subjects?.length === 1 ? { filter_subject: config.subjects[0] } : config.subjects?.length ? { filter_subjects: config.subjects } : {};
    const settings = { ack_wait: transport.nanos(config.ackWaitMs), max_ack_pending: config.maxAckPending, ...filter };
    let exists = false;
    try {
      await jsm.consumers.info(config.stream, this.durable);
      exists = true;
    } catch {
      /* not there yet */
    }
    if (exists) {
      await jsm.consumers.update(config.stream, this.durable, settings);
      return;
    }
    await jsm.consumers.add(config.stream, {
      durable_name: this.durable,
      ack_policy: jetstreams.AckPolicy.Explicit,
      deliver_policy: config.deliver === 'new' ? jetstreams.DeliverPolicy.New : jetstreams.DeliverPolicy.All,
      ...settings,
    });
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.stats.disconnects++;
        this.ctx.log.warn(`disconnected from NATS (${'server' in s ? s.server : ''}): waiting for it to come back`);
      } else if (s.type === 'reconnect') this.ctx.log.info(`reconnected to NATS (${'server' in s ? s.server : ''})`);
    }
  }

  private touch(): void {
    for (const msgs of this.pending.values()) for (const m of msgs) m.working();
    for (const m of this.buffer) m.working();
  }

  async read(): Promise<SourceBatch | null> {
    if (!this.messages) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    if (this.ctx.preview) return this.readPreview();
    const { signal } = this.ctx;
    while (this.buffer.length === 0) {
      if (signal.aborted) return null;
      await this.arrived.wait(signal);
    }
    // let the rest of a socket chunk's messages arrive before cutting the batch
    await new Promise((r) => setImmediate(r));
    const msgs = this.buffer.splice(0, this.ctx.settings.batchSize);
    const batch = this.toBatch(msgs);
    this.pending.set(this.batchNo, msgs);
    return batch;
  }

  private previewDone = false;

  private async readPreview(): Promise<SourceBatch | null> {
    if (this.previewDone) return null;
    this.previewDone = true;
    const msgs: JsMsg[] = [];
    for await (const m of this.messages!) {
      msgs.push(m);
      if (msgs.length >= this.ctx.settings.batchSize) break;
    }
    return msgs.length ? this.toBatch(msgs) : null;
  }

  private toBatch(msgs: JsMsg[]): SourceBatch {
    const { config, nodeId } = this.ctx;
    const records: SluiceRecord[] = [];
    const errors: SluiceRecord[] = [];
    const position: Position = { run: this.run, batch: ++this.batchNo, seq: this.stats.lastSeq };
    for (const m of msgs) {
      const info = m.info;
      const seq = info.streamSequence;
      if (seq > position.seq) position.seq = seq;
      const redeliveries = info.deliveryCount - 1;
      if (redeliveries > 0 && info.deliveryCount > 0) this.stats.redelivered++;
      const headers = m.headers ? Object.fromEntries([...m.headers.keys()].map((k) => [k, m.headers!.get(k)])) : undefined;
      const meta = {
        source: nodeId,
        table: m.subject,
        stream: info.stream,
        subject: m.subject,
        seq,
        ts: Math.floor(info.timestampNanos / 1e6),
        ...(redeliveries > 0 ? { redeliveries } : {}),
        ...(headers ? { headers } : {}),
        position: { stream: info.stream, seq },
      };
      const decoded = decodePayload(m.data, config.format);
      if (!decoded.ok) {
        errors.push({ key: seq, value: decoded.raw, op: 'c', meta: { ...meta, error: { node: nodeId, message: `${decoded.error} (stream ${info.stream}, subject ${m.subject}, seq ${seq})` } } });
        continue;
      }
      const key = config.keyField !== undefined ? (decoded.value[config.keyField] ?? seq) : seq;
      records.push({ key, value: decoded.value, op: 'c', meta });
    }
    this.stats.read += msgs.length;
    this.stats.errors += errors.length;
    this.stats.lastSeq = position.seq;
    return { records, errors, position };
  }

  committed(position: unknown): void {
    const p = position as Partial<Position> | undefined;
    if (!p || p.run !== this.run || typeof p.batch !== 'number') return; // a position of an earlier run
    for (const [n, msgs] of this.pending) {
      if (n > p.batch) continue;
      for (const m of msgs) m.ack();
      this.stats.acked += msgs.length;
      this.pending.delete(n);
    }
  }

  progress(): SourceProgress {
    const { config } = this.ctx;
    return {
      tables: [{ name: config.stream, phase: 'streaming', done: this.stats.read }],
      detail: {
        durable: this.durable,
        lastSeq: this.stats.lastSeq,
        acked: this.stats.acked,
        redelivered: this.stats.redelivered,
        notJson: this.stats.errors,
        held: this.buffer.length + [...this.pending.values()].reduce((n, b) => n + b.length, 0),
        disconnects: this.stats.disconnects,
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.keepAlive);
    const nc = this.nc;
    this.nc = undefined;
    if (!nc) return;
    this.closing = true;
    try {
      await this.messages?.close();
      await this.messages?.closed();
      // read but never handed to the flow, or handed but not committed: back to the server at once
      // (nak), so the next run gets them without waiting for ackWait
      for (const m of this.buffer) m.nak();
      for (const msgs of this.pending.values()) for (const m of msgs) m.nak();
      this.buffer = [];
      this.pending.clear();
      await Promise.race([nc.drain(), sleep(2000, AbortSignal.timeout(2500))]);
    } catch (err) {
      this.ctx.log.warn(`closing the NATS connection: ${errorMessage(err)}`);
    } finally {
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    }
  }
}

export const natsSource = defineNode({
  type: 'nats.source',
  category: 'source',
  title: 'NATS JetStream source',
  description: 'Reads a JetStream stream through a durable pull consumer; acks each message only after every sink acknowledged it (at-least-once).',
  icon: 'radio',
  configSchema,
  inputs: [],
  outputs: [
    { name: 'out', description: 'one record per message: op c, key = keyField or the stream sequence; meta.subject, seq, headers, redeliveries' },
    { name: 'error', description: 'messages whose payload does not decode (not JSON), with the raw payload and where it was' },
  ],
  create: (ctx) => new NatsSource(ctx),
});
