/**
 * http.sink ("custom API"): one request per record (or per batch, as a JSON array), with the method, URL,
 * headers and body filled from the record by `{field}` templates, so the common case needs no code; for
 * the rest, a sandboxed `request` function returns any of them per record (called once per batch).
 *
 * - 2xx: written. 429 and 5xx (and a network error or timeout): retried with exponential backoff, a
 *   `Retry-After` answer honoured; when the retries run out the batch fails (the runtime retries it, and
 *   the position is not committed: nothing is lost). Any other status (400, 404, 422 …): the record is
 *   refused for good and goes to the dead letters with the status and the answer's body.
 * - `rateLimit` caps requests per second across the node; `concurrency` requests run at once.
 * - `idempotencyKey` sends an Idempotency-Key header derived from the record, so an API that honours it
 *   ignores the replay of a batch after a crash.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CODE_MARK, ConfigError, defineNode, NodeError, type CallResult, type NodeContext, type SinkInstance, type SinkWriteResult, type SluiceRecord, type UserFunction } from '../../runtime/index.js';
import { sleep } from '../shared/abort.js';
import { connectionField, connectionHeaders, resolveEntry, type HttpEntry } from './connection.js';
import { hasPlaceholders, MissingField, render, renderJson } from './template.js';

const configSchema = z
  .object({
    connection: connectionField.optional(),
    method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE', 'GET']).default('POST').describe('HTTP method'),
    url: z.string().min(1).describe('URL, or a path under the connection\'s baseUrl; {field} takes a value field (/orders/{id}), {key}, {op}, {meta.table}'),
    methodByOp: z
      .object({ c: z.string().optional(), u: z.string().optional(), d: z.string().optional(), r: z.string().optional() })
      .strict()
      .optional()
      .describe('a method per operation instead of `method` (d: DELETE, u: PUT …)'),
    body: z
      .enum(['value', 'record', 'template', 'none'])
      .default('value')
      .describe('value: the record\'s value as JSON; record: { key, op, value, before }; template: bodyTemplate filled from the record; none'),
    bodyTemplate: z.string().optional().describe('body: template: JSON with {field} placeholders ({"id": "{id}", "total": "{amount}"}); a whole-string placeholder keeps its type'),
    headers: z.record(z.string(), z.string()).optional().describe('more headers, {field} templates allowed (secrets belong in the connection)'),
    request: z
      .string()
      .min(1)
      .optional()
      .meta(CODE_MARK)
      .describe(
        'for what templates cannot say: a JavaScript function (record) => ({ method, url, headers, body }), run in the sandbox once per batch for its records; each field it returns replaces the one from the config (url may be relative to the connection\'s baseUrl; body any JSON); null skips the record. Example: (r) => ({ url: `orders/${r.key.id}`, body: { total: r.value.amount * 1.2 } })',
      ),
    batch: z.boolean().default(false).describe('one request per batch whose body is the JSON array of the bodies (the URL must not depend on the record)'),
    idempotencyKey: z.boolean().default(false).describe('send Idempotency-Key: a hash of the record (or of the batch)'),
    rateLimit: z.number().positive().optional().describe('requests per second at most'),
    concurrency: z.number().int().min(1).max(256).default(4).describe('requests in flight at once'),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('per request, ms'),
    retries: z.number().int().min(0).max(100).default(5).describe('retries of a request answered 429 or 5xx (or not answered)'),
    backoffMs: z.number().int().min(0).max(600_000).default(200).describe('first wait between retries; doubles each time'),
    maxBackoffMs: z.number().int().min(0).max(3_600_000).default(30_000).describe('longest wait between retries (and longest Retry-After honoured)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.body === 'template' && c.bodyTemplate === undefined) ctx.addIssue({ code: 'custom', path: ['bodyTemplate'], message: 'body: template needs bodyTemplate' });
    if (c.bodyTemplate !== undefined) {
      try {
        JSON.parse(c.bodyTemplate);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['bodyTemplate'], message: `not JSON: ${(err as Error).message}` });
      }
    }
    if (c.batch && hasPlaceholders(c.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'batch: one request carries many records, so the URL cannot take {fields} from one' });
    if (c.batch && c.request !== undefined) ctx.addIssue({ code: 'custom', path: ['request'], message: 'batch: one request carries many records, so a request function (one request per record) does not apply' });
  });

type Config = z.output<typeof configSchema>;

interface Request {
  records: SluiceRecord[];
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** what went wrong with a request: `retry` for 429/5xx/network, else refused for good */
interface Failure {
  status?: number;
  body: string;
  message: string;
  retry: boolean;
  retryAfterMs?: number;
}

/** spaces the starts of requests `1000 / perSecond` ms apart, across every request of the node */
class Pace {
  private next = 0;
  constructor(private readonly intervalMs: number) {}
  async take(signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now, signal);
  }
}

class HttpSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private entry?: HttpEntry;
  private baseHeaders: Record<string, string> = {};
  private template: unknown;
  private pace?: Pace;
  private fn?: UserFunction;

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    const { config, nodeId } = this.ctx;
    this.entry = resolveEntry(nodeId, config.connection, this.ctx.connection);
    this.baseHeaders = connectionHeaders(this.entry);
    if (!/^https?:\/\//i.test(config.url) && !this.entry?.baseUrl) {
      throw new ConfigError(nodeId, 'url', `${config.url} is not an http(s):// URL, and there is no connection with a baseUrl to resolve it against`);
    }
    if (config.bodyTemplate !== undefined) this.template = JSON.parse(config.bodyTemplate);
    if (config.rateLimit) this.pace = new Pace(1000 / config.rateLimit);
    if (config.request !== undefined) this.fn = await this.ctx.compile(config.request, 'request');
  }

  async write(records: SluiceRecord[]): Promise<SinkWriteResult> {
    const { config } = this.ctx;
    const rejected: SluiceRecord[] = [];
    const requests: Request[] = [];
    if (config.batch) {
      const bodies = records.map((r) => this.bodyOf(r));
      requests.push(this.request(records, records[0], `[${bodies.map((b) => b ?? 'null').join(',')}]`));
    } else {
      const made = this.fn ? await this.fn.callBatch(records.map((r) => [{ key: r.key ?? null, op: r.op, value: r.value, before: r.before ?? null, meta: r.meta }])) : undefined;
      records.forEach((r, i) => {
        try {
          const custom = made && this.custom(made[i]);
          if (custom === null) return; // the function skipped it
          const req = this.request([r], r, custom?.body !== undefined ? JSON.stringify(custom.body) : this.bodyOf(r), custom);
          requests.push(req);
        } catch (err) {
          if (!(err instanceof MissingField) && !(err instanceof BadRequestFunction)) throw err;
          rejected.push(refused(r, this.ctx.nodeId, `cannot build the request: ${err.message}`));
        }
      });
    }
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const req = requests[next++];
        const failure = await this.send(req);
        if (failure) for (const r of req.records) rejected.push(refused(r, this.ctx.nodeId, failure.message, { status: failure.status, body: failure.body }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, requests.length) }, worker));
    return { rejected };
  }

  private bodyOf(r: SluiceRecord): string | undefined {
    const { config } = this.ctx;
    switch (config.body) {
      case 'none':
        return undefined;
      case 'record':
        return JSON.stringify({ key: r.key, op: r.op, value: r.value, before: r.before ?? null });
      case 'template':
        return JSON.stringify(renderJson(this.template, r));
      default:
        return JSON.stringify(r.op === 'd' ? (r.value ?? r.before ?? null) : r.value);
    }
  }

  /** what the request function returned for one record: null to skip it; BadRequestFunction when it threw or returned something else */
  private custom(result: CallResult): CustomRequest | null {
    if (!result.ok) throw new BadRequestFunction(`the request function threw: ${result.error}`);
    const v = result.value;
    if (v === null || v === undefined) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequestFunction(`the request function must return { method, url, headers, body } or null, not ${JSON.stringify(v).slice(0, 100)}`);
    const o = v as Record<string, unknown>;
    for (const f of ['method', 'url'] as const) {
      if (o[f] !== undefined && typeof o[f] !== 'string') throw new BadRequestFunction(`the request function returned a ${f} that is not a string: ${JSON.stringify(o[f]).slice(0, 100)}`);
    }
    const h = o.headers;
    if (h !== undefined && (h === null || typeof h !== 'object' || Array.isArray(h) || Object.values(h).some((x) => typeof x !== 'string'))) {
      throw new BadRequestFunction('the request function returned headers that are not an object of strings');
    }
    return { method: o.method as string | undefined, url: o.url as string | undefined, headers: h as Record<string, string> | undefined, body: o.body };
  }

  private request(records: SluiceRecord[], first: SluiceRecord, body: string | undefined, custom?: CustomRequest): Request {
    const { config } = this.ctx;
    const path = custom?.url ?? render(config.url, first, true);
    if (!/^https?:\/\//i.test(path) && !this.entry?.baseUrl) throw new BadRequestFunction(`${path.slice(0, 200)} is not an http(s):// URL, and there is no connection with a baseUrl to resolve it against`);
    let url: string;
    try {
      url = /^https?:\/\//i.test(path) ? path : new URL(path.replace(/^\//, ''), this.entry!.baseUrl!.replace(/\/?$/, '/')).toString();
    } catch {
      throw new BadRequestFunction(`${path.slice(0, 200)} is not a URL`);
    }
    const headers: Record<string, string> = { ...this.baseHeaders };
    for (const [k, v] of Object.entries(config.headers ?? {})) headers[k.toLowerCase()] = render(v, first, false);
    for (const [k, v] of Object.entries(custom?.headers ?? {})) headers[k.toLowerCase()] = v;
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    if (config.idempotencyKey) {
      const h = createHash('sha256');
      for (const r of records) h.update(JSON.stringify([r.meta.source ?? null, r.meta.position ?? null, r.key ?? null, r.op, body ?? null]));
      headers['idempotency-key'] = h.digest('base64url');
    }
    const method = (custom?.method ?? config.methodByOp?.[first.op] ?? config.method).toUpperCase();
    return { records, method, url, headers, body: method === 'GET' ? undefined : body };
  }

  /** sends one request with retries; undefined when it was written, else why not (after the retries: throws) */
  private async send(req: Request): Promise<Failure | undefined> {
    const { config, signal, nodeId } = this.ctx;
    for (let attempt = 0; ; attempt++) {
      await this.pace?.take(signal);
      const failure = await this.once(req);
      if (!failure) return undefined;
      if (!failure.retry) return failure;
      if (attempt >= config.retries || signal.aborted) {
        throw new NodeError(nodeId, `${req.method} ${req.url}: ${failure.message} (after ${attempt + 1} attempts)`);
      }
      const backoff = Math.min(config.maxBackoffMs, config.backoffMs * 2 ** attempt);
      const wait = failure.retryAfterMs !== undefined ? Math.min(config.maxBackoffMs, failure.retryAfterMs) : backoff;
      if (!(await sleep(wait, signal))) throw new NodeError(nodeId, `${req.method} ${req.url}: stopped while waiting to retry (${failure.message})`);
    }
  }

  private async once(req: Request): Promise<Failure | undefined> {
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.any([this.ctx.signal, AbortSignal.timeout(this.ctx.config.timeoutMs)]) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { body: '', message: `no answer: ${cause?.code ?? cause?.message ?? (err as Error).message}`, retry: true };
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return undefined;
    const retry = res.status === 429 || res.status >= 500;
    const body = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
    return { status: res.status, body, message: `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`, retry, retryAfterMs: retryAfter(res.headers.get('retry-after')) };
  }

  async close(): Promise<void> {
    this.fn?.dispose();
    this.fn = undefined;
  }
}

/** a request function's result, its fields over the config's */
interface CustomRequest {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** the request function failed for a record: that record is refused, the others go on */
class BadRequestFunction extends Error {}

/** Retry-After as seconds or an HTTP date, in ms */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function refused(r: SluiceRecord, node: string, message: string, http?: { status?: number; body: string }): SluiceRecord {
  return { ...r, meta: { ...r.meta, error: { node, message }, ...(http ? { http } : {}) } };
}

export const httpSink = defineNode({
  type: 'http.sink',
  category: 'sink',
  title: 'HTTP (custom API)',
  description: 'Calls an API for each record (or batch): method, URL, headers and body from {field} templates; retries 429/5xx honouring Retry-After, rate limit; refused records become dead letters with status and body.',
  icon: 'globe',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => new HttpSink(ctx),
});
