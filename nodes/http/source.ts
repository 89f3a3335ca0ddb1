/**
 * http.source: a webhook. A deployed flow's node is served by the server at `POST /hooks/FLOW/NODE`; each
 * request's body (a JSON object, a JSON array of objects, or JSON Lines) becomes records, and the answer
 * waits until their batch is committed (every sink acknowledged it): **202** means durably taken.
 *
 * - Authentication: the host (the server, or in cluster mode the agent that runs the flow) lets through an
 *   API key with the editor role and hands over its principal; without one the request must carry
 *   `X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the body>` with the connection's `hmacSecret`.
 * - **429** with Retry-After when the flow is behind (too many records or requests waiting to be
 *   committed): the caller sends again later, nothing was taken. **400** names what is wrong with the body
 *   (the line of a JSON Lines body); nothing of it was taken.
 * - **503** when the flow stops (or the commit takes longer than `commitTimeoutMs`) before the records were
 *   committed: they may or may not have been written (at-least-once): the caller sends again.
 * - Served by the server for a deployed flow (in cluster mode by `sluice agent --hooks-port N`), or by
 *   `sluice run --hooks-port N` (signed requests only: there are no API keys without the server's user
 *   store). A test run shows nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, defineNode, type EndpointAnswer, type EndpointRequest, type NodeContext, type SluiceRecord, type SourceBatch, type SourceInstance, type SourceProgress } from '../../runtime/index.js';
import { sleep, Wakeup } from '../shared/abort.js';
import { parseBody } from './body.js';
import { connectionField, resolveEntry } from './connection.js';

const configSchema = z
  .object({
    connection: connectionField.optional().describe('an http connection whose hmacSecret signs the requests (callers without an API key)'),
    signatureHeader: z.string().min(1).default('x-sluice-signature').describe('header carrying sha256=<hex HMAC-SHA256 of the body>'),
    format: z.enum(['auto', 'json', 'jsonl']).default('auto').describe('auto: JSON Lines for Content-Type application/x-ndjson or application/jsonl, else JSON'),
    keyField: z.string().min(1).optional().describe('value field that is the record key'),
    maxRecords: z.number().int().min(1).max(1_000_000).default(100_000).describe('records one request may carry'),
    maxPendingRecords: z.number().int().min(1).default(20_000).describe('records taken but not yet committed before the node answers 429'),
    maxPendingRequests: z.number().int().min(1).default(1000).describe('requests waiting for their commit before the node answers 429'),
    retryAfterS: z.number().int().min(1).max(3600).default(1).describe('Retry-After of a 429 answer, seconds'),
    commitTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).describe('longest wait for the commit before answering 503'),
  })
  .strict();

type Config = z.output<typeof configSchema>;

interface Waiting {
  records: SluiceRecord[];
  done: (answer: EndpointAnswer) => void;
}

interface Position {
  run: string;
  batch: number;
}

class HttpSource implements SourceInstance {
  readonly kind = 'source' as const;
  private readonly run = randomBytes(6).toString('hex');
  private queue: Waiting[] = [];
  private inFlight = new Map<number, Waiting[]>();
  private pendingRecords = 0;
  private pendingRequests = 0;
  private batchNo = 0;
  private readonly arrived = new Wakeup();
  private unregister?: () => void;
  private secret?: string;
  private stats = { requests: 0, records: 0, refused: 0, behind: 0 };

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    const { config, nodeId, endpoints } = this.ctx;
    this.secret = resolveEntry(nodeId, config.connection, this.ctx.connection)?.hmacSecret;
    if (this.ctx.preview) return;
    if (!endpoints) {
      throw new ConfigError(nodeId, '', 'http.source receives requests at POST /hooks/FLOW/NODE: deploy the flow with `sluice serve`, or run it with `sluice run --hooks-port N`');
    }
    if (endpoints.apiKeys === false && !this.secret) {
      throw new ConfigError(nodeId, 'connection', 'without the server there are no API keys: give the node a connection with hmacSecret, so that callers can sign their requests');
    }
    this.unregister = endpoints.register(this.ctx.flowName, nodeId, (req) => this.handle(req));
  }

  private async handle(req: EndpointRequest): Promise<EndpointAnswer> {
    const { config } = this.ctx;
    if (!req.principal && !this.signed(req)) {
      this.stats.refused++;
      return {
        status: 401,
        body: { error: this.secret ? `missing or wrong ${config.signatureHeader} signature (sha256=<hex HMAC-SHA256 of the body>), and no API key` : 'send an API key (Authorization: Bearer sluice_…): this node has no HMAC secret (its connection\'s hmacSecret)' },
      };
    }
    const parsed = parseBody(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength), req.headers['content-type'], config.format, config.maxRecords);
    if (!parsed.ok) {
      this.stats.refused++;
      return { status: 400, body: { error: parsed.error } };
    }
    const records = parsed.values.map((value, i): SluiceRecord => ({
      key: config.keyField !== undefined ? (value[config.keyField] ?? null) : null,
      value,
      op: 'c',
      meta: { source: this.ctx.nodeId, ts: Date.now(), line: i + 1 },
    }));
    if (this.ctx.signal.aborted) return { status: 503, body: { error: 'the flow is stopping: send again later' }, headers: { 'retry-after': String(config.retryAfterS) } };
    const behind = this.pendingRequests >= config.maxPendingRequests || (this.pendingRecords > 0 && this.pendingRecords + records.length > config.maxPendingRecords);
    if (behind) {
      this.stats.behind++;
      return {
        status: 429,
        body: { error: `the flow is behind (${this.pendingRecords} records waiting to be committed): send again in ${config.retryAfterS} s` },
        headers: { 'retry-after': String(config.retryAfterS) },
      };
    }
    this.pendingRecords += records.length;
    this.pendingRequests++;
    const answered = new Promise<EndpointAnswer>((done) => this.queue.push({ records, done }));
    this.arrived.wake();
    const timeout = new AbortController();
    const timer = sleep(config.commitTimeoutMs, timeout.signal).then((timedOut) =>
      timedOut ? ({ status: 503, body: { error: `not committed within ${config.commitTimeoutMs} ms: the records may still be written; send again (at-least-once)` } } as EndpointAnswer) : undefined,
    );
    const answer = await Promise.race([answered, timer.then((a) => a ?? answered)]);
    timeout.abort();
    return answer;
  }

  private signed(req: EndpointRequest): boolean {
    if (!this.secret) return false;
    const given = req.headers[this.ctx.config.signatureHeader.toLowerCase()];
    if (!given) return false;
    const hex = given.replace(/^sha256=/i, '').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
    const want = createHmac('sha256', this.secret).update(req.body).digest();
    return timingSafeEqual(want, Buffer.from(hex, 'hex'));
  }

  async read(): Promise<SourceBatch | null> {
    const { signal, settings } = this.ctx;
    if (this.ctx.preview) return null;
    while (this.queue.length === 0) {
      if (signal.aborted) return null;
      await this.arrived.wait(signal);
    }
    // requests waiting together go in one batch (up to the batch size, a big request alone)
    const taken: Waiting[] = [this.queue.shift()!];
    let n = taken[0].records.length;
    while (this.queue.length && n + this.queue[0].records.length <= settings.batchSize) {
      const w = this.queue.shift()!;
      n += w.records.length;
      taken.push(w);
    }
    const position: Position = { run: this.run, batch: ++this.batchNo };
    this.inFlight.set(position.batch, taken);
    return { records: taken.length === 1 ? taken[0].records : taken.flatMap((w) => w.records), position };
  }

  committed(position: unknown): void {
    const p = position as Partial<Position> | undefined;
    if (!p || p.run !== this.run || typeof p.batch !== 'number') return;
    for (const [n, waiting] of this.inFlight) {
      if (n > p.batch) continue;
      this.inFlight.delete(n);
      for (const w of waiting) {
        this.pendingRecords -= w.records.length;
        this.pendingRequests--;
        this.stats.requests++;
        this.stats.records += w.records.length;
        w.done({ status: 202, body: { accepted: w.records.length } });
      }
    }
  }

  progress(): SourceProgress {
    return {
      tables: [{ name: `/hooks/${this.ctx.flowName}/${this.ctx.nodeId}`, phase: 'streaming', done: this.stats.records }],
      detail: { requests: this.stats.requests, refused: this.stats.refused, behind: this.stats.behind, waiting: this.pendingRecords },
    };
  }

  async close(): Promise<void> {
    this.unregister?.();
    this.unregister = undefined;
    const stopped: EndpointAnswer = { status: 503, body: { error: 'the flow stopped before the records were committed: send again (they may have been written: at-least-once)' }, headers: { 'retry-after': String(this.ctx.config.retryAfterS) } };
    for (const w of this.queue) w.done(stopped);
    for (const waiting of this.inFlight.values()) for (const w of waiting) w.done(stopped);
    this.queue = [];
    this.inFlight.clear();
    this.pendingRecords = this.pendingRequests = 0;
  }
}

export const httpSource = defineNode({
  type: 'http.source',
  category: 'source',
  title: 'HTTP webhook',
  description: 'Receives records at POST /hooks/FLOW/NODE (JSON or JSON Lines; an API key or an HMAC signature); answers 202 once they are committed, 429 when the flow is behind.',
  icon: 'globe',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'one record per JSON object: op c; meta.line is its place in the body' }],
  create: (ctx) => new HttpSource(ctx),
});
