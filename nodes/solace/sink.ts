/**
 * solace.sink: publishes each record as a guaranteed (persistent) message to a topic or queue; the batch
 * counts as written when the broker acknowledged every message. A message the broker rejects (queue full,
 * no permission …) is that record's error: it goes to the dead letters with the broker's reason, the rest
 * of the batch is written. A session that goes down fails the batch (the runtime retries it, on a new
 * session): the position is not committed, so nothing is lost.
 */
import { z } from 'zod';
import { defineNode, NodeError, type NodeContext, type SinkInstance, type SinkWriteResult, type SluiceRecord } from '../../runtime/index.js';
import { encodePayload, payloadFormat } from '../shared/message-codec.js';
import type { SolaceAdapter, SolaceSession } from './adapter.js';
import { solclientAdapter } from './solclient.js';
import { connectOptions, connectionField, resolveEntry } from './connection.js';

const PLACEHOLDER = /\{([^{}]+)\}/g;

const configSchema = z
  .object({
    connection: connectionField,
    topic: z.string().min(1).optional().describe('topic to publish to; {field} takes a value field (orders/{country}), {table} the source table'),
    queue: z.string().min(1).optional().describe('queue to publish to, instead of a topic'),
    format: payloadFormat,
    envelope: z.boolean().default(false).describe('publish { op, key, value, before } instead of the value alone'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.topic === undefined) === (c.queue === undefined)) ctx.addIssue({ code: 'custom', path: ['topic'], message: 'set either topic or queue' });
  });

type Config = z.output<typeof configSchema>;

class SolaceSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private session?: SolaceSession;
  private down = false;

  constructor(private readonly ctx: NodeContext<Config>, private readonly adapter: SolaceAdapter) {}

  async open(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<SolaceSession> {
    const entry = resolveEntry(this.ctx.nodeId, this.ctx.config.connection, this.ctx.connection);
    const session = await this.adapter.connect(connectOptions(entry));
    session.onEvent((e) => {
      if (e.type === 'down' && this.session === session) {
        this.down = true;
        this.ctx.log.warn(`Solace session down (${e.info}): the next write reconnects`);
      }
    });
    this.session = session;
    this.down = false;
    return session;
  }

  async write(records: SluiceRecord[]): Promise<SinkWriteResult> {
    const { config, nodeId } = this.ctx;
    const session = !this.session || this.down ? await this.connect() : this.session;
    const results = await Promise.allSettled(
      records.map((r) => {
        const destination = config.queue !== undefined ? { kind: 'queue' as const, name: config.queue } : { kind: 'topic' as const, name: this.topicFor(r) };
        const properties = r.meta.properties && typeof r.meta.properties === 'object' ? (r.meta.properties as Record<string, string>) : undefined;
        return session.publish(destination, encodePayload(r, config.format, config.envelope), { properties });
      }),
    );
    if (this.down) {
      // the session went down under the batch: whatever was not acknowledged is published again
      throw new NodeError(nodeId, 'the Solace session went down before every message was acknowledged: the batch is retried on a new session');
    }
    const rejected: SluiceRecord[] = [];
    results.forEach((res, i) => {
      if (res.status === 'rejected') {
        const r = records[i];
        rejected.push({ ...r, meta: { ...r.meta, error: { node: nodeId, message: (res.reason as Error).message } } });
      }
    });
    return { rejected };
  }

  private topicFor(r: SluiceRecord): string {
    const { config, nodeId } = this.ctx;
    const topic = config.topic!;
    if (!topic.includes('{')) return topic;
    const row = r.value ?? r.before ?? {};
    return topic.replace(PLACEHOLDER, (_m, field: string) => {
      const v = field === 'table' ? r.meta.table : row[field];
      if (v === undefined || v === null || v === '') throw new NodeError(nodeId, `topic ${topic}: the record has no ${field} (key ${JSON.stringify(r.key)})`);
      return String(v);
    });
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close().catch(() => undefined);
  }
}

export function solaceSinkWith(adapter: SolaceAdapter) {
  return defineNode({
    type: 'solace.sink',
    category: 'sink',
    title: 'Solace sink',
    description: 'Publishes each record as a guaranteed message to a topic or queue; a batch is written once the broker acknowledged every message; a rejected message is that record\'s error.',
    icon: 'radio',
    configSchema,
    inputs: [{ name: 'in', required: true }],
    outputs: [],
    create: (ctx) => new SolaceSink(ctx, adapter),
  });
}

export const solaceSink = solaceSinkWith(solclientAdapter);
