/**
 * The `http` connection: where an API is (baseUrl), how to authenticate to it (a bearer token, basic
 * user/password, or an API key header: each secret declared with `secret()`), plain headers, and the
 * HMAC secret http.source checks webhook signatures with. Its test says what the base URL answered.
 */
import { z } from 'zod';
import { CONNECTION_MARK, ConfigError, errorMessage, secret, type ConnectionTestResult } from '../../runtime/index.js';

export const connectionEntrySchema = z
  .object({
    type: z.literal('http').describe('http'),
    baseUrl: z.string().url().optional().describe('base of relative URLs in http.sink (https://api.example.com/v1)'),
    headers: z.record(z.string(), z.string()).optional().describe('headers sent with every request (no secrets here: use token, apiKey or password)'),
    token: secret(z.string().min(1).optional().describe('bearer token: sent as Authorization: Bearer <token>')),
    user: z.string().min(1).optional().describe('user name for basic authentication'),
    password: secret(z.string().optional().describe('password for basic authentication')),
    apiKeyHeader: z.string().min(1).optional().describe('header that carries apiKey (X-API-Key)'),
    apiKey: secret(z.string().min(1).optional().describe('API key, sent in apiKeyHeader')),
    hmacSecret: secret(z.string().min(8).optional().describe('http.source: secret of the webhook signature (HMAC-SHA256 of the body) its callers send')),
  })
  .strict();

export type HttpEntry = z.output<typeof connectionEntrySchema>;

export const connectionField = z
  .string()
  .min(1)
  .describe("name of a connection in the flow's `connections:` map (type http): base URL and secrets stay out of the flow")
  .meta(CONNECTION_MARK);

export function resolveEntry(nodeId: string, name: string | undefined, lookup: (name: string) => Record<string, unknown> | undefined): HttpEntry | undefined {
  if (name === undefined) return undefined;
  const raw = lookup(name);
  if (!raw) throw new ConfigError(nodeId, 'connection', `the flow has no connection named ${JSON.stringify(name)}: add it under \`connections:\` (type: http, baseUrl: ...)`);
  const parsed = connectionEntrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(nodeId, 'connection', `connection ${JSON.stringify(name)}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
  }
  return parsed.data;
}

/** the headers a connection adds to every request: its plain headers and its credentials */
export function connectionHeaders(entry: HttpEntry | undefined): Record<string, string> {
  if (!entry) return {};
  const h: Record<string, string> = { ...entry.headers };
  if (entry.token !== undefined) h.authorization = `Bearer ${entry.token}`;
  else if (entry.user !== undefined) h.authorization = `Basic ${Buffer.from(`${entry.user}:${entry.password ?? ''}`).toString('base64')}`;
  if (entry.apiKey !== undefined) h[(entry.apiKeyHeader ?? 'x-api-key').toLowerCase()] = entry.apiKey;
  return h;
}

/** a HEAD (then GET) of the base URL: reachable, and what it answered (a 401 says the credentials are wrong) */
export async function testConnection(config: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<ConnectionTestResult> {
  const { url, ...rest } = config;
  const parsed = connectionEntrySchema.safeParse({ type: 'http', ...rest, ...(typeof url === 'string' ? { baseUrl: url } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue.path.join('.') || 'connection'}: ${issue.message}` };
  }
  const entry = parsed.data;
  if (!entry.baseUrl) return { ok: true, message: 'no baseUrl to reach: nodes give whole URLs (headers and secrets are set)' };
  const started = Date.now();
  try {
    const res = await fetch(entry.baseUrl, { method: 'GET', headers: connectionHeaders(entry), signal: AbortSignal.timeout(options.timeoutMs ?? 10_000), redirect: 'manual' });
    await res.body?.cancel();
    const ms = Date.now() - started;
    if (res.status === 401 || res.status === 403) return { ok: false, error: `reached ${entry.baseUrl}, which answered ${res.status}: the credentials were refused`, hint: 'check token, user/password or apiKey of the connection' };
    return { ok: true, message: `reached ${entry.baseUrl}: HTTP ${res.status} in ${ms} ms`, details: { status: res.status, ms, server: res.headers.get('server') ?? undefined } };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, error: `cannot reach ${entry.baseUrl}: ${cause?.code ?? cause?.message ?? errorMessage(err)}`, hint: 'check the host name and port, and that the service runs' };
  }
}
