/**
 * kafka.source: reads Kafka topics in a consumer group. Partitions are fetched in parallel (kafkajs
 * `partitionsConsumedConcurrently`) into a bounded buffer that read() drains; a partition's messages stay
 * in order. Nothing is committed when it is read: the position (the next offset per partition) is kept
 * in the checkpoint, and committed to Kafka by committed() once every sink acknowledged the batches up to
 * it, so the group never moves past a message that was not delivered (at-least-once).
 *
 * Where a partition starts when the flow (re)starts:
 * - with a saved position: the larger of the group's committed offset and the checkpoint's (a crash
 *   between the checkpoint and the Kafka commit loses neither; a partition another flow of the group
 *   moved on is not read again);
 * - without one (first run, `--from-start`): the group's committed offset, unless this very node
 *   committed it (its commits carry `sluice:FLOW/NODE` as metadata): then the flow was reset, and the
 *   partition starts over from `start`;
 * - a partition with no committed offset starts at `start` (earliest, latest, or a time).
 *
 * Backpressure without blocking kafkajs: when the buffer is full the topics are paused (and resumed once
 * read() drained half of it), so eachBatch always returns at once and kafkajs keeps heartbeating and
 * takes part in a rebalance as soon as one starts, however slow the sinks are.
 *
 * Rebalances: at every (re)join, batches buffered but not yet handed out are dropped; a partition this
 * member keeps goes on after its last handed-out batch, any other starts at its committed offset. Batches
 * of a revoked partition already handed out are finished by the flow but never committed: commits only
 * cover partitions this member owns and read in the current membership. Commits to Kafka are sent at most
 * every COMMIT_EVERY_MS (the checkpoint has every position at once; a restart takes the larger of both).
 *
 * Records: key and value decoded as JSON (default), text or bytes; a JSON object value is the record
 * value, other values are `{ value }`. A message kafka.sink wrote with `envelope: true` is read back as the
 * change it carries (op, key, value, before, table). A tombstone (null value) is a delete (op d). Meta:
 * topic, partition, offset, ts, headers. A message that is not JSON, or larger than `maxMessageBytes`,
 * goes to the error port with its topic, partition and offset.
 */
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, NodeError, defineNode, errorMessage, type NodeContext, type SluiceRecord, type SourceBatch, type SourceInstance, type SourceProgress } from '../../runtime/index.js';
import { DecodeError, ENVELOPE_HEADER, decodeKey, decodeValue, formatSchema, fromEnvelope, headersToMeta } from './codec.js';
import { client, clusterError, clusterFields, isPermanent, oneCluster, resolveCluster, type Cluster } from './connection.js';
import { matchTopics } from './topics.js';
import { sleep } from '../shared/abort.js';
import { kafkaPositionText } from './position-text.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    ...clusterFields,
    topics: z.array(z.string().min(1)).min(1, 'name at least one topic').describe("topics to read, by name, or patterns with * and ? such as 'orders.*' (matched once, at open)"),
    group: z.string().min(1).describe('consumer group: flows in one group share the partitions; its committed offsets say where reading resumes'),
    start: z
      .union([z.enum(['earliest', 'latest']), z.iso.datetime({ offset: true }), z.number().int().min(0)])
      .default('earliest')
      .describe('where a partition with no committed offset starts: earliest, latest, or a time (ISO 8601, or ms since the epoch)'),
    keyFormat: formatSchema.default('json').describe('how keys are read: json, text, or bytes ({ $base64 })'),
    valueFormat: formatSchema.default('json').describe('how values are read: json (an object is the record value; anything else is { value }), text ({ value }), or bytes ({ $base64 })'),
    maxMessageBytes: z.number().int().min(1).default(1_048_576).describe('a message larger than this (key and value) goes to the error port instead of the flow'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('partitions fetched and decoded at the same time'),
    sessionTimeoutMs: z
      .number()
      .int()
      .min(6000)
      .max(300_000)
      .default(10_000)
      .describe('a member silent this long leaves the group: how soon a crashed flow\'s partitions go to the others (or to itself, restarted)'),
  })
  .strict()
  .superRefine(oneCluster);

type Config = z.output<typeof configSchema>;

/** next offset to read per topic and partition (offsets as decimal strings, as Kafka's are 64-bit) */
type Offsets = Record<string, Record<string, string>>;
interface Position {
  offsets: Offsets;
}

interface Entry {
  tp: string;
  topic: string;
  partition: number;
  records: SluiceRecord[];
  errors: SluiceRecord[];
  /** the offset after the batch's last message */
  next: string;
}

const RETRY = { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 };
/** a preview reads what arrives within this long, then ends */
const PREVIEW_WAIT_MS = 3000;
/** offsets go to Kafka at most this often: one round trip per checkpoint would slow the flow down */
const COMMIT_EVERY_MS = 1000;
/**
 * how long kafkajs waits when every partition is paused (and the broker holds an empty fetch): short, so
 * reading resumes soon after read() made room
 */
const FETCH_WAIT_MS = 100;

const tpOf = (topic: string, partition: number | string) => `${topic}/${partition}`;

class KafkaSource implements SourceInstance {
  readonly kind = 'source' as const;
  private cluster!: Cluster;
  private consumer?: Consumer;
  private admin?: Admin;
  private topics: string[] = [];
  /** what commits carry as metadata: tells this node's own commits from another consumer's */
  private readonly tag: string;
  private groupId = '';

  private readonly buffer: Entry[] = [];
  private buffered = 0;
  private readonly capacity: number;
  /** the topics are paused because the buffer is full */
  private paused = false;
  private wake?: () => void;
  private changed = new Promise<void>((r) => (this.wake = r));

  /** offsets to seek to when a partition's first batch arrives (see the top of the file) */
  private readonly overrides = new Map<string, string>();
  /** the position as of the last batch handed out */
  private readonly next: Offsets = {};
  private generation = 0;
  private memberId = '';
  private assigned = new Set<string>();
  /** the generation since which this member holds each partition it handed a batch of out */
  private readonly touched = new Map<string, number>();
  private readonly lastCommitted = new Map<string, string>();
  /** the newest position the runtime committed, not yet sent to Kafka */
  private pending?: Position;
  private lastCommitAt = 0;
  private commitTimer?: NodeJS.Timeout;
  private commitChain: Promise<void> = Promise.resolve();
  private failure?: Error;
  private closed = false;
  /** a rebalance began: nothing more is handed out until the join */
  private revoking = false;
  private stats = { messages: 0, errors: 0, rebalances: 0 };

  constructor(private readonly ctx: NodeContext<Config>) {
    this.tag = `sluice:${ctx.flowName}/${ctx.nodeId}`;
    this.capacity = Math.max(16 * ctx.settings.batchSize, 16_000);
  }

  progress(): SourceProgress {
    return {
      detail: {
        group: this.groupId,
        partitions: [...this.assigned].sort().join(' ') || 'none',
        messages: this.stats.messages,
        rebalances: this.stats.rebalances,
        ...(this.stats.errors ? { badMessages: this.stats.errors } : {}),
      },
    };
  }

  async open(position: unknown): Promise<void> {
    const saved = this.parsePosition(position);
    const { config, nodeId, preview } = this.ctx;
    this.cluster = resolveCluster(this.ctx, config, RETRY);
    const kafka = client(this.cluster);
    // a preview joins a group of its own: it takes no partition from a running flow and commits nothing
    this.groupId = preview ? `${config.group}.preview.${randomUUID()}` : config.group;
    await openOrClose(
      async () => {
        this.admin = kafka.admin();
        await this.admin.connect();
        this.topics = matchTopics(nodeId, config.topics, await this.admin.listTopics());
        await this.planStart(saved);
        const consumer = (this.consumer = kafka.consumer({
          groupId: this.groupId,
          allowAutoTopicCreation: true,
          retry: RETRY,
          maxBytesPerPartition: 1_048_576,
          sessionTimeout: config.sessionTimeoutMs,
          heartbeatInterval: Math.floor(config.sessionTimeoutMs / 10),
          rebalanceTimeout: 30_000,
          maxWaitTimeInMs: FETCH_WAIT_MS,
        }));
        consumer.on(consumer.events.GROUP_JOIN, (e) => this.onJoin(e.payload.memberId, e.payload.memberAssignment));
        consumer.on(consumer.events.REBALANCING, () => {
          this.revoking = true; // buffered batches are dropped at the join: hand none out meanwhile
          void this.flushCommits().catch(() => undefined); // what was delivered, committed before the partitions may move
        });
        consumer.on(consumer.events.CRASH, (e) => {
          if (e.payload.restart && !isPermanent(e.payload.error)) return; // kafkajs reconnects and rejoins by itself
          this.failure = clusterError(nodeId, this.cluster, e.payload.error, `consuming ${this.topics.join(', ')}`);
          this.signal();
        });
        await consumer.connect();
        await consumer.subscribe({ topics: this.topics, fromBeginning: config.start !== 'latest' });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: config.concurrency,
          eachBatch: (p) => this.onBatch(p),
        });
      },
      () => this.close(),
      (err) => clusterError(nodeId, this.cluster, err, `opening the consumer of group ${this.groupId}`),
    );
  }

  async read(): Promise<SourceBatch | null> {
    const { signal, preview, settings } = this.ctx;
    const deadline = preview ? Date.now() + PREVIEW_WAIT_MS : Infinity;
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.buffer.length > 0 && !this.revoking) return this.take(settings.batchSize);
      if (signal.aborted || this.closed || Date.now() >= deadline) return null;
      await this.waitChange(Math.min(1000, deadline - Date.now()));
    }
  }

  async committed(position: unknown): Promise<void> {
    if (this.ctx.preview || !this.consumer || this.closed) return;
    this.pending = position as Position;
    const wait = this.lastCommitAt + COMMIT_EVERY_MS - Date.now();
    if (wait <= 0) return this.flushCommits();
    this.commitTimer ??= setTimeout(() => void this.flushCommits().catch((err) => this.ctx.log.warn(`could not commit offsets to Kafka: ${errorMessage(err)}`)), wait);
  }

  /** sends the pending position's offsets to Kafka, one commit at a time */
  private flushCommits(): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (!p || !this.consumer) return this.commitChain;
    this.lastCommitAt = Date.now();
    const run = () => this.commitOffsets(p);
    this.commitChain = this.commitChain.then(run, run);
    return this.commitChain;
  }

  private async commitOffsets(p: Position): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const list: { topic: string; partition: number; offset: string; metadata: string }[] = [];
    for (const [topic, parts] of Object.entries(p.offsets)) {
      for (const [partition, offset] of Object.entries(parts)) {
        const tp = tpOf(topic, partition);
        // only partitions this member owns and read in its current membership: never one another member has now
        if (!this.assigned.has(tp) || this.touched.get(tp) !== this.generation || this.lastCommitted.get(tp) === offset) continue;
        list.push({ topic, partition: Number(partition), offset, metadata: this.tag });
      }
    }
    if (list.length === 0) return;
    await consumer.commitOffsets(list);
    for (const o of list) this.lastCommitted.set(tpOf(o.topic, o.partition), o.offset);
  }

  async close(): Promise<void> {
    if (!this.closed && this.pending) await this.flushCommits().catch((err) => this.ctx.log.warn(`could not commit offsets to Kafka: ${errorMessage(err)}`));
    this.closed = true;
    clearTimeout(this.commitTimer);
    this.signal();
    const { consumer, admin } = this;
    this.consumer = this.admin = undefined;
    await consumer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    if (this.ctx.preview && admin) {
      // the preview's own group is of no further use
      const a = client(this.cluster).admin();
      await a
        .connect()
        .then(() => a.deleteGroups([this.groupId]))
        .catch(() => undefined)
        .finally(() => a.disconnect().catch(() => undefined));
    }
  }

  // ---- start offsets -----------------------------------------------------------------------------------

  /** fills `overrides`: where partitions start instead of the group's committed offset (top of the file) */
  private async planStart(saved: Position | undefined): Promise<void> {
    const admin = this.admin!;
    const { start } = this.ctx.config;
    const existing = new Set(await admin.listTopics());
    const topics = this.topics.filter((t) => existing.has(t));
    if (topics.length === 0) return;
    const group = await this.groupOffsets(topics);
    const startCache = new Map<string, Map<number, string>>();
    const startOf = async (topic: string, partition: number): Promise<string | undefined> => {
      let offsets = startCache.get(topic);
      if (!offsets) {
        if (typeof start === 'string' && (start === 'earliest' || start === 'latest')) {
          const all = await admin.fetchTopicOffsets(topic);
          offsets = new Map(all.map((o) => [o.partition, start === 'earliest' ? o.low : o.high]));
        } else {
          const at = typeof start === 'number' ? start : Date.parse(start);
          offsets = new Map((await admin.fetchTopicOffsetsByTimestamp(topic, at)).map((o) => [o.partition, o.offset]));
        }
        startCache.set(topic, offsets);
      }
      return offsets.get(partition);
    };
    const timed = typeof start === 'number' || (start !== 'earliest' && start !== 'latest');
    for (const { topic, partitions } of group) {
      for (const { partition, offset, metadata } of partitions) {
        const tp = tpOf(topic, partition);
        const committed = offset === '-1' ? undefined : BigInt(offset);
        const mine = saved?.offsets[topic]?.[String(partition)];
        let at: string | undefined;
        if (saved && mine !== undefined && (committed === undefined || BigInt(mine) > committed)) at = mine;
        else if (!saved && committed !== undefined && metadata === this.tag) at = await startOf(topic, partition);
        else if (committed === undefined && timed) at = await startOf(topic, partition);
        if (at !== undefined) this.overrides.set(tp, at);
      }
    }
  }

  /** the group's committed offsets, asked again while its coordinator moves or loads (a fresh broker creates the offsets topic on first use) */
  private async groupOffsets(topics: string[]): ReturnType<Admin['fetchOffsets']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.admin!.fetchOffsets({ groupId: this.groupId, topics });
      } catch (err) {
        if (attempt >= 8 || (err as { retriable?: boolean }).retriable !== true) throw err;
        if (!(await sleep(Math.min(3000, 200 * 2 ** attempt), this.ctx.signal))) throw err;
      }
    }
  }

  // ---- the consumer side -------------------------------------------------------------------------------

  private onJoin(memberId: string, assignment: Record<string, number[]>): void {
    const previous = this.generation;
    // the same member id: this member held its partitions without a gap (kicked out, it gets a new one)
    const continuous = memberId === this.memberId;
    this.memberId = memberId;
    this.generation++;
    this.stats.rebalances++;
    this.revoking = false;
    this.assigned = new Set(Object.entries(assignment).flatMap(([topic, ps]) => ps.map((p) => tpOf(topic, p))));
    // not handed out yet: dropped, and fetched again
    this.buffer.length = 0;
    this.buffered = 0;
    this.resume();
    for (const tp of this.overrides.keys()) if (!this.assigned.has(tp) && this.generation > 1) this.overrides.delete(tp);
    // a partition kept goes on after its last batch handed out (kafkajs would start at the committed
    // offset, and the flow would read again what it has in flight); its pending commits stay valid
    for (const tp of this.assigned) {
      if (!continuous || this.touched.get(tp) !== previous || previous === 0) continue;
      const slash = tp.lastIndexOf('/');
      const next = this.next[tp.slice(0, slash)]?.[tp.slice(slash + 1)];
      if (next === undefined) continue;
      this.overrides.set(tp, next);
      this.touched.set(tp, this.generation);
    }
    this.signal();
  }

  /** pauses fetching while the buffer is full (kafkajs goes on heartbeating) */
  private pause(): void {
    if (this.paused || !this.consumer) return;
    this.paused = true;
    this.consumer.pause(this.topics.map((topic) => ({ topic })));
  }

  private resume(): void {
    if (!this.paused || !this.consumer) return;
    this.paused = false;
    this.consumer.resume(this.topics.map((topic) => ({ topic })));
  }

  /** never waits: a full buffer pauses the topics instead, so rebalances and heartbeats are never held up */
  private async onBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty() || !isRunning() || isStale() || this.closed || this.revoking) return;
    const { topic, partition } = batch;
    const tp = tpOf(topic, partition);
    if (!this.assigned.has(tp)) return;
    const override = this.overrides.get(tp);
    if (override !== undefined) {
      this.overrides.delete(tp);
      if (override !== batch.firstOffset()) {
        this.consumer?.seek({ topic, partition, offset: override });
        return;
      }
    }
    const records: SluiceRecord[] = [];
    const errors: SluiceRecord[] = [];
    for (const m of batch.messages) this.decode(topic, partition, m, records, errors);
    this.buffer.push({ tp, topic, partition, records, errors, next: (BigInt(batch.lastOffset()) + 1n).toString() });
    this.buffered += records.length + errors.length;
    resolveOffset(batch.lastOffset());
    if (this.buffered >= this.capacity) this.pause();
    this.signal();
  }

  private decode(topic: string, partition: number, m: KafkaMessage, records: SluiceRecord[], errors: SluiceRecord[]): void {
    const { config, nodeId } = this.ctx;
    const meta: SluiceRecord['meta'] = { source: nodeId, table: topic, topic, partition, offset: m.offset, ts: Number(m.timestamp) };
    const headers = m.headers && headersToMeta(m.headers);
    if (headers) meta.headers = headers;
    const size = (m.key?.length ?? 0) + (m.value?.length ?? 0);
    if (size > config.maxMessageBytes) return this.bad(m, meta, `message of ${size} bytes is larger than maxMessageBytes (${config.maxMessageBytes})`, { size }, errors);
    this.stats.messages++;
    try {
      const key = decodeKey(m.key, config.keyFormat);
      const envelope = m.headers !== undefined && m.headers[ENVELOPE_HEADER] !== undefined;
      if (m.value === null) {
        // the tombstone kafka.sink writes after an envelope delete: the delete itself came just before
        if (!envelope) records.push({ key, value: null, op: 'd', meta });
        return;
      }
      const value = decodeValue(m.value, envelope ? 'json' : config.valueFormat);
      if (!envelope) {
        records.push({ key, value, op: 'c', meta });
        return;
      }
      const e = fromEnvelope(value);
      if (e.table !== undefined) meta.table = e.table;
      const r: SluiceRecord = { key: e.key, value: e.value, op: e.op, meta };
      if (e.before !== undefined) r.before = e.before;
      records.push(r);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.stats.messages--;
      this.bad(m, meta, err.message, { value: m.value!.length <= 4096 ? m.value!.toString('utf8') : `${m.value!.subarray(0, 4096).toString('utf8')}...` }, errors);
    }
  }

  /** a message that cannot be a record: to the error port, saying where it is */
  private bad(m: KafkaMessage, meta: SluiceRecord['meta'], message: string, value: SluiceRecord['value'], errors: SluiceRecord[]): void {
    this.stats.errors++;
    const key = m.key === null ? null : m.key.length <= 1024 ? m.key.toString('utf8') : null;
    errors.push({ key, value, op: 'c', meta: { ...meta, error: { node: this.ctx.nodeId, message: `${meta.topic} partition ${meta.partition} offset ${m.offset}: ${message}` } } });
  }

  // ---- handing out -------------------------------------------------------------------------------------

  /** up to `max` records from the buffer, in order per partition; a fetched batch larger than that is split */
  private take(max: number): SourceBatch {
    const records: SluiceRecord[] = [];
    const errors: SluiceRecord[] = [];
    while (this.buffer.length > 0 && records.length < max) {
      const e = this.buffer[0];
      const room = max - records.length;
      let next = e.next;
      if (e.records.length <= room) {
        this.buffer.shift();
        this.buffered -= e.records.length + e.errors.length;
        for (const r of e.records) records.push(r);
        for (const r of e.errors) errors.push(r);
      } else {
        const part = e.records.splice(0, room);
        const last = BigInt(part[part.length - 1].meta.offset as string);
        const errs = e.errors.filter((r) => BigInt(r.meta.offset as string) < last);
        if (errs.length > 0) e.errors = e.errors.slice(errs.length);
        this.buffered -= part.length + errs.length;
        for (const r of part) records.push(r);
        for (const r of errs) errors.push(r);
        next = (last + 1n).toString();
      }
      (this.next[e.topic] ??= {})[String(e.partition)] = next;
      this.touched.set(e.tp, this.generation);
    }
    const position: Position = { offsets: Object.fromEntries(Object.entries(this.next).map(([t, p]) => [t, { ...p }])) };
    if (this.buffered <= this.capacity / 2) this.resume();
    this.signal();
    return errors.length > 0 ? { records, errors, position } : { records, position };
  }

  private signal(): void {
    const wake = this.wake;
    this.changed = new Promise<void>((r) => (this.wake = r));
    wake?.();
  }

  private waitChange(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => this.signal();
    this.ctx.signal.addEventListener('abort', onAbort, { once: true });
    return Promise.race([this.changed, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]).finally(() => {
      clearTimeout(timer);
      this.ctx.signal.removeEventListener('abort', onAbort);
    });
  }

  private parsePosition(position: unknown): Position | undefined {
    if (position === undefined || position === null) return undefined;
    const p = position as Position;
    const ok =
      typeof p === 'object' &&
      p.offsets !== null &&
      typeof p.offsets === 'object' &&
      Object.values(p.offsets).every((parts) => parts !== null && typeof parts === 'object' && Object.values(parts).every((o) => typeof o === 'string' && /^\d+$/.test(o)));
    if (!ok) throw new NodeError(this.ctx.nodeId, `position ${JSON.stringify(position).slice(0, 200)} is not one kafka.source writes: was the node's type changed? Reset the flow's position (sluice run --from-start)`);
    for (const t of Object.keys(p.offsets)) this.next[t] = { ...p.offsets[t] };
    return p;
  }
}

export const kafkaSource = defineNode({
  type: 'kafka.source',
  category: 'source',
  title: 'Kafka source',
  description: 'Reads Kafka topics in a consumer group: partitions in parallel, offsets committed only after the sinks acknowledged, change envelopes and tombstones read back as changes.',
  icon: 'source',
  configSchema,
  inputs: [],
  outputs: [
    { name: 'out', description: 'one record per message: op c (or the op of a change envelope), d for a tombstone; meta topic, partition, offset, headers' },
    { name: 'error', description: 'messages that could not be read (not JSON, too large), with topic, partition and offset' },
  ],
  position: kafkaPositionText,
  create: (ctx) => new KafkaSource(ctx),
});

export default kafkaSource;

