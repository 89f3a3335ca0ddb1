/**
 * kafka.sink: writes records as Kafka messages, one batch per write, acknowledged only when the brokers
 * acknowledged every message of it (acks: all). The producer is idempotent, so a retried send never
 * duplicates within a partition; a batch sent again after a crash is absorbed by keyed consumers
 * (at-least-once, like every sink).
 *
 * - `topic`: a name, or a template routed per source table (`cdc.{table}`: `shop.orders` → `cdc.orders`).
 * - key: the record key, or the fields `keyFields` of the row; as JSON (default), text or bytes.
 * - value: the row as JSON; with `envelope: true` the whole change `{ op, key, value, before, table, ts }`
 *   (marked by the `sluice-envelope` header, so kafka.source reads it back as a change). A delete
 *   becomes a tombstone (null value) when `tombstones` is on (default without envelope); with the
 *   envelope the tombstone follows the delete's envelope (for compacted topics).
 * - headers from `meta.headers` (kafka.source fills it), compression gzip or none.
 */
import type { CompressionTypes as CompressionTypesT, Message, Producer, TopicMessages } from 'kafkajs';
import { z } from 'zod';
import { ConfigError, NodeError, defineNode, rowOf, type NodeContext, type SinkInstance, type SluiceRecord } from '../../runtime/index.js';
import { resolveTableName, routesByTable } from '../shared/table-router.js';
import { ENVELOPE_HEADER, DecodeError, encodeJson, encodeKey, envelopeOf, formatSchema, metaToHeaders } from './codec.js';
import { client, kafkajs, clusterError, clusterFields, oneCluster, resolveCluster, type Cluster } from './connection.js';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    ...clusterFields,
    topic: z.string().min(1).describe('topic to write to; `{table}` / `{schema}` route each record by its source table (`cdc.{table}`)'),
    keyFields: z.array(z.string().min(1)).min(1).optional().describe('build the message key from these fields of the row (default: the record key)'),
    keyFormat: formatSchema.default('json').describe('how keys are written: json, text (a scalar as it is), bytes (keys given as { $base64 })'),
    envelope: z.boolean().default(false).describe('write the whole change { op, key, value, before } instead of the row, so deletes and updates travel as such'),
    tombstones: z.boolean().optional().describe('write a delete as a tombstone (null value); default: on without envelope, off with it'),
    headers: z.boolean().default(true).describe('write meta.headers (kafka.source fills it) as message headers'),
    compression: z.enum(['none', 'gzip']).default('none').describe('compress message batches'),
    timeoutMs: z.number().int().min(1000).max(600_000).default(30_000).describe('how long the brokers may take to acknowledge a batch, ms'),
  })
  .strict()
  .superRefine(oneCluster);

type Config = z.output<typeof configSchema>;

class KafkaSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private producer?: Producer;
  private cluster!: Cluster;
  private readonly routed: boolean;
  private readonly tombstones: boolean;
  /** deletes dropped (no envelope, tombstones off): said once in the log */
  private droppedDeletes = 0;

  constructor(private readonly ctx: NodeContext<Config>) {
    this.routed = routesByTable(ctx.config.topic);
    this.tombstones = ctx.config.tombstones ?? !ctx.config.envelope;
  }

  async open(): Promise<void> {
    const cluster = (this.cluster = resolveCluster(this.ctx, this.ctx.config, { retries: 8, initialRetryTime: 300, maxRetryTime: 5000 }));
    const producer = client(cluster).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
    await openOrClose(
      () => producer.connect(),
      () => producer.disconnect(),
      (err) => clusterError(this.ctx.nodeId, cluster, err, 'connecting the producer'),
    );
    this.producer = producer;
  }

  async write(records: SluiceRecord[]): Promise<void> {
    if (!this.producer) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const topic = this.topicOf(r);
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      for (const m of this.messagesOf(r)) list.push(m);
    }
    const topicMessages: TopicMessages[] = [...byTopic].filter(([, m]) => m.length > 0).map(([topic, messages]) => ({ topic, messages }));
    if (topicMessages.length === 0) return;
    const { compression, timeoutMs } = this.ctx.config;
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1, timeout: timeoutMs, compression: (compression === 'gzip' ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None) as CompressionTypesT });
    } catch (err) {
      const e = clusterError(this.ctx.nodeId, this.cluster, err, `writing ${records.length} record(s) to ${topicMessages.map((t) => t.topic).join(', ')}`);
      if (/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|larger than/i.test(String((err as Error).message))) {
        throw new ConfigError(this.ctx.nodeId, 'topic', `${e.message.replace(/^node \S+: /, '')}: a message is larger than the broker accepts (message.max.bytes / max.message.bytes of the topic)`);
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (this.droppedDeletes > 0) this.ctx.log.warn(`${this.droppedDeletes} delete(s) not written: tombstones is off and there is no envelope`);
    await p?.disconnect().catch(() => undefined);
  }

  private topicOf(r: SluiceRecord): string {
    const { topic } = this.ctx.config;
    if (!this.routed) return topic;
    const table = r.meta.table;
    if (typeof table !== 'string' || table === '') {
      throw new NodeError(this.ctx.nodeId, `topic ${JSON.stringify(topic)} is routed by the record's source table, but a record (key ${JSON.stringify(r.key)}) has none (meta.table): use a fixed topic`);
    }
    return resolveTableName(topic, table);
  }

  private messagesOf(r: SluiceRecord): Message[] {
    const { config } = this.ctx;
    let key: Buffer | null;
    try {
      key = encodeKey(this.keyOf(r), config.keyFormat);
    } catch (err) {
      if (err instanceof DecodeError) throw new ConfigError(this.ctx.nodeId, 'keyFormat', err.message);
      throw err;
    }
    const headers: Record<string, string> = config.headers ? metaToHeaders(r.meta) : {};
    if (config.envelope) {
      const out: Message[] = [{ key, value: encodeJson(envelopeOf(r)), headers: { ...headers, [ENVELOPE_HEADER]: '1' } }];
      if (r.op === 'd' && this.tombstones) out.push({ key, value: null, headers: { [ENVELOPE_HEADER]: '1' } });
      return out;
    }
    if (r.op === 'd') {
      if (this.tombstones) return [{ key, value: null, headers }];
      this.droppedDeletes++;
      return [];
    }
    return [{ key, value: encodeJson(r.value), headers }];
  }

  private keyOf(r: SluiceRecord): unknown {
    const fields = this.ctx.config.keyFields;
    if (!fields) return r.key;
    const row = rowOf(r) ?? {};
    const key: Record<string, unknown> = {};
    for (const f of fields) key[f] = row[f] ?? null;
    return fields.length === 1 ? key[fields[0]] : key;
  }
}

export const kafkaSink = defineNode({
  type: 'kafka.sink',
  category: 'sink',
  title: 'Kafka sink',
  description: 'Writes records to a Kafka topic (or one per source table): JSON rows or change envelopes, tombstones for deletes, idempotent producer, acknowledged by every broker.',
  icon: 'sink',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => new KafkaSink(ctx),
});

export default kafkaSink;
