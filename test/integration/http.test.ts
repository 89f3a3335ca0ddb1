/**
 * http.sink against a real local HTTP server (node:http in the test: it answers as told and records what
 * it got), and http.source served by a real in-process Sluice server at POST /hooks/FLOW/NODE.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli, startCli, until } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink, retryAfter } from '../../nodes/http/sink.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import type { SinkInstance, SinkWriteResult } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer, type SluiceServer } from '../../server/server.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { adminKey, keyFor, type Credential } from '../helpers/auth.js';
import { create, rec, tempDir } from '../helpers/node-harness.js';
import { collector, memorySink, testRegistry } from '../helpers/test-nodes.js';
import { NODE_TYPES } from '../../nodes/catalog.js';
import { CONNECTORS } from '../../nodes/connectors.js';
import { NodeRegistry } from '../../runtime/registry.js';
import type { NodeType } from '../../runtime/node-api.js';

interface Got {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** a local API: `answer` decides each reply; every request is kept in `got` */
class LocalApi {
  got: Got[] = [];
  answer: (g: Got, res: ServerResponse) => void = (_g, res) => res.writeHead(200).end('{}');
  private server?: Server;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const g = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
        this.got.push(g);
        this.answer(g, res);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server!.close(() => r()));
  }
}

const errorOf = async (r: Response) => ((await r.json()) as { error: string }).error;

const api = new LocalApi();
beforeAll(() => api.start());
afterAll(() => api.stop());

const connections = (extra: Record<string, unknown> = {}) => ({
  connection: (name: string) => (name === 'shop' ? { type: 'http', baseUrl: `${api.url}/v1/`, token: 'secret-token', headers: { 'x-team': 'data' }, ...extra } : undefined),
});

async function sink(config: Record<string, unknown>, extra?: Record<string, unknown>): Promise<SinkInstance> {
  const s = await create<SinkInstance>(httpSink, { connection: 'shop', backoffMs: 1, ...config }, connections(extra));
  await s.open();
  return s;
}

describe('http.sink (custom API) against a local HTTP server', () => {
  it('fills method, URL, headers and body from each record; the connection adds its base URL and secret', async () => {
    api.got = [];
    api.answer = (_g, res) => res.writeHead(204).end();
    const s = await sink({
      url: 'orders/{id}?country={customer.country}',
      method: 'PUT',
      methodByOp: { d: 'DELETE' },
      body: 'template',
      bodyTemplate: '{"order": "{id}", "total": "{amount}", "note": "order {id} of {customer.name}", "op": "{op}"}',
      headers: { 'x-order': '{id}' },
    });
    const r1 = rec({ id: 7, amount: 12.5, customer: { country: 'DE & AT', name: 'Ann' } });
    const r2 = { ...rec({ id: 8, amount: 1, customer: { country: 'FR', name: 'Bo' } }), op: 'd' as const };
    expect(await s.write([r1, r2])).toEqual({ rejected: [] });
    const byUrl = Object.fromEntries(api.got.map((g) => [g.url, g]));
    const put = byUrl['/v1/orders/7?country=DE%20%26%20AT'];
    expect(put.method).toBe('PUT');
    expect(JSON.parse(put.body)).toEqual({ order: 7, total: 12.5, note: 'order 7 of Ann', op: 'c' });
    expect(put.headers).toMatchObject({ authorization: 'Bearer secret-token', 'x-team': 'data', 'x-order': '7', 'content-type': 'application/json' });
    expect(byUrl['/v1/orders/8?country=FR'].method).toBe('DELETE');
  });

  it('a sandboxed request function sets method, URL, headers and body per record; null skips one; a throw refuses only that record', async () => {
    api.got = [];
    api.answer = (_g, res) => res.writeHead(200).end('{}');
    const s = await sink({
      url: 'unused/{id}',
      headers: { 'x-static': 'yes' },
      request: `(r) => r.value.skip ? null : r.value.boom ? r.value.nothing.here : ({
        method: r.op === 'd' ? 'DELETE' : 'POST',
        url: 'carts/' + r.key + '/items',
        headers: { 'x-lines': String(r.value.lines.length) },
        body: { sku: r.value.lines.map((l) => l.sku).join('+'), total: r.value.lines.reduce((n, l) => n + l.price, 0) },
      })`,
    });
    const { rejected } = (await s.write([
      rec({ id: 1, lines: [{ sku: 'a', price: 2 }, { sku: 'b', price: 3 }] }),
      rec({ id: 2, skip: true }),
      rec({ id: 3, boom: true }),
    ])) as SinkWriteResult;
    expect(api.got).toHaveLength(1);
    const [g] = api.got;
    expect(g.method).toBe('POST');
    expect(g.url).toBe('/v1/carts/1/items');
    expect(JSON.parse(g.body)).toEqual({ sku: 'a+b', total: 5 });
    expect(g.headers).toMatchObject({ 'x-lines': '2', 'x-static': 'yes', authorization: 'Bearer secret-token', 'content-type': 'application/json' });
    expect(rejected).toHaveLength(1);
    expect(rejected![0].key).toBe(3);
    expect(rejected![0].meta.error!.message).toMatch(/^cannot build the request: the request function threw: .*here/);
    await s.close();
    expect(() => httpSink.configSchema.parse({ url: 'https://x', batch: true, request: '(r) => ({})' })).toThrow(/request function/);
    const broken = await create<SinkInstance>(httpSink, { url: 'https://x', request: '(r) => {' });
    await expect(broken.open()).rejects.toThrow(/request/);
  });

  it('retries 5xx and 429, honouring Retry-After, then succeeds', async () => {
    api.got = [];
    let n = 0;
    api.answer = (_g, res) => {
      n++;
      if (n === 1) return res.writeHead(503).end('busy');
      if (n === 2) return res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      res.writeHead(201).end('{}');
    };
    const s = await sink({ url: 'items', retries: 3 });
    expect(await s.write([rec({ id: 1 })])).toEqual({ rejected: [] });
    expect(api.got).toHaveLength(3);
    // backoff is 1 ms, so the second wait is Retry-After's second
    expect(api.got[2].at - api.got[1].at).toBeGreaterThanOrEqual(950);
    expect(retryAfter('2')).toBe(2000);
    expect(retryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
  });

  it('a record the API refuses (4xx) is rejected with status and body; the others are written', async () => {
    api.got = [];
    api.answer = (g, res) => (JSON.parse(g.body).id === 2 ? res.writeHead(422).end('{"error":"amount must be positive"}') : res.writeHead(200).end());
    const s = await sink({ url: 'items' });
    const { rejected } = (await s.write([rec({ id: 1 }), rec({ id: 2 }), rec({ id: 3 })])) as SinkWriteResult;
    expect(api.got).toHaveLength(3);
    expect(rejected).toHaveLength(1);
    expect(rejected![0].key).toBe(2);
    expect(rejected![0].meta.error!.message).toBe('HTTP 422: {"error":"amount must be positive"}');
    expect(rejected![0].meta.http).toEqual({ status: 422, body: '{"error":"amount must be positive"}' });
  });

  it('fails the batch when 5xx answers outlast the retries (the runtime retries it; nothing is committed)', async () => {
    api.answer = (_g, res) => res.writeHead(500).end('down');
    const s = await sink({ url: 'items', retries: 2 });
    await expect(s.write([rec({ id: 1 })])).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/items: HTTP 500: down \(after 3 attempts\)/);
  });

  it('batch mode: one request per batch, its body the JSON array of the records', async () => {
    api.got = [];
    api.answer = (_g, res) => res.writeHead(200).end();
    const s = await sink({ url: 'bulk', batch: true, idempotencyKey: true });
    await s.write([rec({ id: 1, a: 'x' }), rec({ id: 2, a: 'y' })]);
    expect(api.got).toHaveLength(1);
    expect(JSON.parse(api.got[0].body)).toEqual([
      { id: 1, a: 'x' },
      { id: 2, a: 'y' },
    ]);
    expect(api.got[0].headers['idempotency-key']).toMatch(/^[\w-]{43}$/);
  });

  it('keeps to the rate limit', async () => {
    api.got = [];
    api.answer = (_g, res) => res.writeHead(200).end();
    const s = await sink({ url: 'items', rateLimit: 20, concurrency: 8 });
    const t0 = Date.now();
    await s.write(Array.from({ length: 11 }, (_, i) => rec({ id: i })));
    const arrivals = api.got.map((g) => g.at).sort((a, b) => a - b);
    // 11 requests at 20/s: the last is sent at least 10 × 50 ms after the write began. Measured from the write,
    // not from the first arrival: a loaded machine may delay the first request's connection, not the pace
    expect(arrivals).toHaveLength(11);
    expect(arrivals.at(-1)! - t0).toBeGreaterThanOrEqual(490);
  });

  it('a URL that needs a field the record lacks is that record\'s error; a bad config names the field', async () => {
    api.got = [];
    const s = await sink({ url: 'orders/{id}' });
    const { rejected } = (await s.write([rec({ name: 'no id' }, 'c', 1)])) as SinkWriteResult;
    expect(rejected![0].meta.error!.message).toBe('cannot build the request: the record has no id');
    expect(() => httpSink.configSchema.parse({ url: 'x/{id}', batch: true })).toThrow(/URL cannot take \{fields\}/);
    const noBase = await create<SinkInstance>(httpSink, { url: 'relative/path' });
    await expect(noBase.open()).rejects.toThrow(/nodes\[n1\]\.url: relative\/path is not an http\(s\):\/\/ URL/);
  });

  it('in a flow, refused records become dead letters with the status and body', async () => {
    api.answer = (g, res) => (JSON.parse(g.body).n % 2 ? res.writeHead(400).end('odd ids are refused') : res.writeHead(200).end());
    const plan = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'http-dead',
        nodes: [
          { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 10 } },
          { id: 'out', type: 'http.sink', config: { url: `${api.url}/items`, backoffMs: 1 } },
        ],
        edges: [{ from: 'gen', to: 'out' }],
      },
      testRegistry(),
    );
    const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    const summary = await new FlowRun(plan, { store }).run();
    expect(summary.status, summary.error).toBe('completed');
    expect(summary.deadLetters).toBe(5);
    const letters = await store.deadLetters('http-dead');
    expect(letters.map((l) => l.error)).toEqual(Array(5).fill('HTTP 400: odd ids are refused'));
    expect(letters[0].record.meta.http).toEqual({ status: 400, body: 'odd ids are refused' });
    await store.close();
  });
});

describe('http.source: POST /hooks/FLOW/NODE of a deployed flow', () => {
  let server: SluiceServer;
  let url: string;
  let editor: Credential;
  let viewer: Credential;
  let checkpoints: SqliteCheckpointStore;
  let store: SqliteControlStore;
  const SECRET = 'hook-secret-123';
  const got = collector('hooked');

  beforeAll(async () => {
    const dir = tempDir();
    store = new SqliteControlStore(join(dir, 'sluice.db'));
    checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    server = createSluiceServer({ registry: new NodeRegistry([...NODE_TYPES, memorySink as NodeType], CONNECTORS), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
    url = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
    const admin = await adminKey(server);
    editor = await keyFor(server, 'ed', 'editor');
    viewer = await keyFor(server, 'vi', 'viewer');
    const post = async (path: string, body: unknown) => {
      const res = await fetch(url + path, { method: 'POST', headers: { ...admin.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    };
    await post('/api/connections', { name: 'hook', type: 'http', config: { hmacSecret: SECRET } });
    await post('/api/flows', {
      apiVersion: 'sluice/v1',
      name: 'inbox',
      settings: { batchSize: 1000 },
      nodes: [
        { id: 'hook', type: 'http.source', config: { connection: 'hook', keyField: 'id', maxPendingRecords: 50, retryAfterS: 2 } },
        { id: 'out', type: 'test.memory', config: { name: 'hooked' } },
      ],
      edges: [{ from: 'hook', to: 'out' }],
    });
    await post('/api/flows/inbox/deploy', {});
    const deadline = Date.now() + 20_000;
    while (!server.context.manager.endpoints!.handler('inbox', 'hook') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }, 60_000);

  afterAll(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });

  const hook = (body: string, headers: Record<string, string>) => fetch(`${url}/hooks/inbox/hook`, { method: 'POST', headers, body });
  const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const keys = () => got.batches.flat().map((r: SluiceRecord) => r.key);

  it('202 with an API key once the records are committed (they are at the sink by then)', async () => {
    const res = await hook(JSON.stringify([{ id: 1, a: 'x' }, { id: 2 }]), { ...editor.headers, 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2 });
    expect(keys()).toEqual(expect.arrayContaining([1, 2]));
  });

  it('202 with the HMAC signature of a JSON Lines body; 401 with a wrong one, 403 for a viewer key', async () => {
    const body = '{"id": 3}\n{"id": 4}\n';
    const ok = await hook(body, { 'content-type': 'application/x-ndjson', 'x-sluice-signature': sign(body) });
    expect(ok.status).toBe(202);
    expect(keys()).toEqual(expect.arrayContaining([3, 4]));
    const bad = await hook(body, { 'content-type': 'application/x-ndjson', 'x-sluice-signature': sign('{"id": 5}') });
    expect(bad.status).toBe(401);
    expect((await errorOf(bad))).toMatch(/x-sluice-signature/);
    expect((await hook(body, { 'content-type': 'application/x-ndjson' })).status).toBe(401);
    expect((await hook(body, { ...viewer.headers, 'content-type': 'application/x-ndjson' })).status).toBe(403);
    expect((await hook(body, { authorization: 'Bearer sluice_nope' })).status).toBe(401);
  });

  it('400 with the reason for a bad body; nothing of it taken', async () => {
    const before = keys().length;
    const body = '{"id": 10}\n{"id": 11\n';
    const res = await hook(body, { 'content-type': 'application/x-ndjson', 'x-sluice-signature': sign(body) });
    expect(res.status).toBe(400);
    expect((await errorOf(res))).toMatch(/^line 2: not JSON/);
    const notObj = await hook('[1, 2]', { ...editor.headers, 'content-type': 'application/json' });
    expect((await errorOf(notObj))).toBe('[0]: a record must be a JSON object');
    expect(keys().length).toBe(before);
  });

  it('429 with Retry-After while the flow is behind, 202 again once it caught up', async () => {
    let open!: () => void;
    got.gate = new Promise<void>((r) => (open = r));
    const first = hook(JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: 100 + i }))), { ...editor.headers, 'content-type': 'application/json' });
    // the first request's 40 records wait at the gated sink: 20 more exceed maxPendingRecords (50)
    const deadline = Date.now() + 10_000;
    while (got.writes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const behind = await hook(JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: 200 + i }))), { ...editor.headers, 'content-type': 'application/json' });
    expect(behind.status).toBe(429);
    expect(behind.headers.get('retry-after')).toBe('2');
    expect((await errorOf(behind))).toMatch(/behind/);
    open();
    got.gate = undefined;
    expect((await first).status).toBe(202);
    const again = await hook(JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: 200 + i }))), { ...editor.headers, 'content-type': 'application/json' });
    expect(again.status).toBe(202);
    expect(keys()).toEqual(expect.arrayContaining([139, 219]));
  });

  it('404 for a flow that does not run such a node', async () => {
    const res = await fetch(`${url}/hooks/nope/hook`, { method: 'POST', headers: { ...editor.headers }, body: '{}' });
    expect(res.status).toBe(404);
    expect((await errorOf(res))).toMatch(/deploy the flow first/);
  });
});

describe('http.source in `sluice run --hooks-port` (no server)', () => {
  const SECRET = 'run-hook-secret';
  const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const flowText = (dir: string, secret: boolean) => `apiVersion: sluice/v1
name: run-hooks
settings: { batchSize: 100 }
connections:
  hook: { type: http${secret ? `, hmacSecret: ${SECRET}` : ''} }
nodes:
  - { id: in, type: http.source, config: { connection: hook, keyField: id } }
  - { id: db, type: sqlite.sink, config: { path: ${join(dir, 'out.db')}, table: items, keys: [id] } }
edges:
  - { from: in, to: db }
`;

  it('serves POST /hooks/FLOW/NODE: 202 for a signed body once committed, 401 unsigned, 404 elsewhere, 405 for GET; SIGTERM ends it cleanly', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const file = join(dir, 'flow.yaml');
    writeFileSync(file, flowText(dir, true));
    const run = startCli(['run', file, '--state', join(dir, 'state.db'), '--quiet', '--hooks-port', '0']);
    let stderr = '';
    run.child.stderr!.on('data', (d) => (stderr += d));
    await until(() => /webhooks at (http:\S+)\/hooks\//.test(stderr) || run.child.exitCode !== null, 30_000, 'the webhook address');
    const base = /webhooks at (http:\S+)\/hooks\//.exec(stderr)?.[1];
    expect(base, stderr).toBeDefined();
    const body = '{"id":1,"v":"a"}\n{"id":2,"v":"b"}\n';
    const post = (path: string, b: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { method: 'POST', body: b, headers: { 'content-type': 'application/x-ndjson', ...headers } });

    const ok = await post('/hooks/run-hooks/in', body, { 'x-sluice-signature': sign(body) });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ accepted: 2 });
    const db = new Database(join(dir, 'out.db'), { readonly: true });
    expect(db.prepare('SELECT id FROM items ORDER BY id').all()).toEqual([{ id: 1 }, { id: 2 }]); // committed before the 202
    db.close();

    expect((await post('/hooks/run-hooks/in', body)).status).toBe(401);
    expect((await post('/hooks/run-hooks/in', body, { 'x-sluice-signature': sign('other') })).status).toBe(401);
    // no user store, no API keys: a bearer key is no way in, only the signature (the node's 401, not a key check's)
    const keyOnly = await post('/hooks/run-hooks/in', body, { authorization: 'Bearer sluice_any-key' });
    expect(keyOnly.status).toBe(401);
    expect(((await keyOnly.json()) as { error: string }).error).toMatch(/x-sluice-signature/);
    const bad = await post('/hooks/run-hooks/in', '{not json', { 'x-sluice-signature': sign('{not json') });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/JSON/);
    const missing = await post('/hooks/run-hooks/nope', body, { 'x-sluice-signature': sign(body) });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/nope/);
    expect((await post('/elsewhere', body)).status).toBe(404);
    expect((await fetch(`${base}/hooks/run-hooks/in`)).status).toBe(405);

    run.child.kill('SIGTERM');
    const end = await run.done;
    expect(end.code, end.stderr).toBe(0);
  });

  it('refuses to run without --hooks-port, or without an hmacSecret (no API keys without the server), saying how to fix it', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const signed = join(dir, 'signed.yaml');
    writeFileSync(signed, flowText(dir, true));
    const noPort = await runCli(['run', signed, '--state', join(dir, 'a.db'), '--quiet']);
    expect(noPort.code).toBe(2);
    expect(noPort.stderr).toMatch(/--hooks-port/);
    expect(noPort.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const unsigned = join(dir, 'unsigned.yaml');
    writeFileSync(unsigned, flowText(dir, false));
    const noSecret = await runCli(['run', unsigned, '--state', join(dir, 'b.db'), '--quiet', '--hooks-port', '0']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/hmacSecret/);

    const badPort = await runCli(['run', signed, '--state', join(dir, 'c.db'), '--hooks-port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/port number/);
  });
});
