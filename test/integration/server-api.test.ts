/**
 * The server over real HTTP and socket.io: the process `sluice serve` as users start it (build first:
 * `npx tsc -p .`), every route of server/API.md with its happy path and its bad inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { io, type Socket } from 'socket.io-client';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { probePostgres, service } from '../helpers/services.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

let server: ServerProcess;
const seen: string[] = []; // every response body, to prove a secret never comes back

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** a request as the server's admin (its API key), to `at` */
async function callAt(at: ServerProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const raw = typeof body === 'string';
  const res = await at.fetch(path, {
    method,
    headers: body === undefined || raw ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  seen.push(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => callAt(server, method, path, body, headers);

const flowDoc = (name: string, extra: { count?: number; rate?: number } = {}) => ({
  apiVersion: 'sluice/v1',
  name,
  description: `test flow ${name}`,
  settings: { batchSize: 100 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: extra.count ?? 1000, ...(extra.rate ? { rate: extra.rate } : {}) }, position: { x: 0, y: 0 } },
    { id: 'double', type: 'core.map', config: { code: '(v) => ({ n: v.n, twice: v.n * 2 })' }, position: { x: 200, y: 0 } },
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` }, position: { x: 400, y: 0 } },
  ],
  edges: [
    { from: 'gen', to: 'double' },
    { from: 'double', to: 'out' },
  ],
});

async function connect(at = server): Promise<Socket> {
  const socket = io(at.url, { transports: ['websocket'], reconnection: false, extraHeaders: at.admin!.headers });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** the first `event` whose payload passes `pred` */
function next<T = any>(socket: Socket, event: string, pred: (payload: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (payload: T) => {
      if (!pred(payload)) return;
      socket.off(event, on);
      resolve(payload);
    };
    socket.on(event, on);
  });
}

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  const code = await server?.stop('SIGTERM');
  expect(code, server?.output()).toBe(0);
});

describe('server basics', () => {
  it('answers health with the version and uptime', async () => {
    const r = await call('GET', '/api/health');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true, version: pkg.version, uptimeMs: expect.any(Number) });
  });

  it('lists node types with their JSON Schema configs', async () => {
    const r = await call('GET', '/api/node-types');
    expect(r.status).toBe(200);
    const gen = (r.json as { type: string }[]).find((t) => t.type === 'core.generate');
    expect(gen).toMatchObject({ category: 'source', title: expect.any(String), inputs: [], outputs: [{ name: 'out' }], configSchema: { type: 'object' } });
    expect((gen as unknown as { configSchema: { properties: object } }).configSchema.properties).toHaveProperty('count');
  });

  it('seeds the demo flow on first start', async () => {
    const r = await call('GET', '/api/flows');
    expect(r.json).toContainEqual(expect.objectContaining({ id: 'orders-demo', name: 'orders-demo', version: 1, nodes: 5, deployment: null, description: expect.any(String) }));
  });

  it('answers unknown API routes with 404 JSON, a body that is not JSON with 400 naming it, and / with HTML', async () => {
    expect(await call('GET', '/api/nope')).toMatchObject({ status: 404, json: { error: 'no route GET /api/nope' } });
    const bad = await call('POST', '/api/flows', '{"apiVersion": ', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^request body is not valid JSON/);
    const home = await call('GET', '/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toMatch(/text\/html/);
    if (!existsSync('dist/editor/index.html')) expect(home.text).toContain('npm run build:editor');
  });
});

describe('flows', () => {
  it('creates a flow as version 1, and refuses the same name, non-JSON, no body and invalid documents', async () => {
    const r = await call('POST', '/api/flows', flowDoc('alpha'));
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ id: 'alpha', name: 'alpha', version: 1, updatedAt: expect.any(String), document: { name: 'alpha', version: 1 } });
    expect(Object.keys(r.json.document)).toEqual(['apiVersion', 'name', 'version', 'description', 'settings', 'nodes', 'edges']);

    expect(await call('POST', '/api/flows', flowDoc('alpha'))).toMatchObject({ status: 409, json: { error: expect.stringMatching(/exists/), current: 1 } });
    expect((await call('POST', '/api/flows')).status).toBe(400);
    expect((await call('POST', '/api/flows', [1, 2])).json.details[0].message).toMatch(/flow document/);

    const invalid = flowDoc('beta') as { nodes: { config: Record<string, unknown> }[] };
    invalid.nodes[0].config.count = 'many';
    invalid.nodes[1].config = {};
    const bad = await call('POST', '/api/flows', invalid);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^invalid flow: nodes\[gen\]\.config\.count: /);
    expect(bad.json.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'nodes[gen].config.count', nodeId: 'gen', severity: 'error', message: expect.any(String) }),
        expect.objectContaining({ path: 'nodes[double].config.code', nodeId: 'double', message: 'required' }),
      ]),
    );
    expect((await call('GET', '/api/flows/beta')).status).toBe(404);
    const fromEnv = await call('POST', '/api/flows', flowDoc('${env:SLUICE_FLOW_TEST_NAME:-theta}'));
    expect(fromEnv).toMatchObject({ status: 400, json: { details: [{ path: 'name' }] } });
  });

  it('saves new versions against the latest only (409 with the current one), keeps every version, refuses renames', async () => {
    await call('POST', '/api/flows?message=first%20cut', flowDoc('gamma'));
    const doc = { ...flowDoc('gamma'), description: 'second' };
    const tooLong = await call('PUT', '/api/flows/gamma', { baseVersion: 1, document: doc, message: 'x'.repeat(501) });
    expect(tooLong).toMatchObject({ status: 400, json: { details: [{ path: 'message', message: 'must be at most 500 characters' }] } });
    const v2 = await call('PUT', '/api/flows/gamma', { baseVersion: 1, document: doc, message: '  a second description  ' });
    expect(v2).toMatchObject({ status: 200, json: { version: 2, author: 'admin', message: 'a second description', document: { description: 'second', version: 2 } } });
    expect(await call('PUT', '/api/flows/gamma', { baseVersion: 1, document: doc })).toMatchObject({ status: 409, json: { current: 2 } });
    expect(await call('PUT', '/api/flows/gamma', {})).toMatchObject({
      status: 400,
      json: { details: [{ path: 'baseVersion', message: 'required' }, { path: 'document', message: 'required' }] },
    });
    expect((await call('PUT', '/api/flows/gamma', { baseVersion: 'two', document: doc })).json.details[0].path).toBe('baseVersion');
    const renamed = await call('PUT', '/api/flows/gamma', { baseVersion: 2, document: { ...doc, name: 'delta' } });
    expect(renamed.status).toBe(400);
    expect(renamed.json.error).toMatch(/cannot be renamed/);
    const broken = await call('PUT', '/api/flows/gamma', { baseVersion: 2, document: { ...doc, edges: [{ from: 'gen', to: 'nowhere' }] } });
    expect(broken).toMatchObject({ status: 400, json: { details: expect.arrayContaining([expect.objectContaining({ path: 'edges[0].to' })]) } });
    expect((await call('PUT', '/api/flows/nope', { baseVersion: 1, document: flowDoc('nope') })).status).toBe(404);

    expect((await call('GET', '/api/flows/gamma')).json.version).toBe(2);
    const versions = await call('GET', '/api/flows/gamma/versions');
    expect(versions.json.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.json[0]).toEqual({ version: 2, savedAt: expect.any(String), author: 'admin', message: 'a second description', nodes: 3, edges: 2 });
    expect(versions.json[1]).toMatchObject({ version: 1, author: 'admin', message: 'first cut' });
    const v1 = await call('GET', '/api/flows/gamma/versions/1');
    expect(v1.json).toMatchObject({ version: 1, document: { description: 'test flow gamma', version: 1 } });
    expect((await call('GET', '/api/flows/gamma/versions/9')).json.error).toMatch(/no version 9 \(the latest is 2\)/);
    expect((await call('GET', '/api/flows/gamma/versions/abc')).status).toBe(400);
    expect((await call('GET', '/api/flows/nope/versions')).status).toBe(404);
  });

  it('validates documents and texts without saving them: 200 with the issues', async () => {
    expect(await call('POST', '/api/flows/validate', flowDoc('v'))).toMatchObject({ status: 200, json: { valid: true } });
    const bad = await call('POST', '/api/flows/validate', { ...flowDoc('v'), nodes: [{ id: 'x', type: 'core.nope' }] });
    expect(bad).toMatchObject({ status: 200, json: { valid: false, issues: expect.arrayContaining([expect.objectContaining({ path: 'nodes[x].type', severity: 'error', nodeId: 'x' })]) } });
    const text = await call('POST', '/api/flows/validate', { text: 'apiVersion: sluice/v1\nname: t\nnodes:\n  - id: a\n    type: core.map\n    config: {code: "(v) => v"\n', format: 'yaml' });
    expect(text.json.valid).toBe(false);
    expect(text.json.issues[0]).toMatchObject({ message: expect.stringMatching(/YAML syntax error/), line: expect.any(Number) });
    const raw = await call('POST', '/api/flows/validate', 'apiVersion: sluice/v1\nname: t\nnodes:\n  - id: a\n    type: core.generate\n    config: { count: -1 }\n', { 'content-type': 'application/yaml' });
    expect(raw.json).toMatchObject({ valid: false, issues: expect.arrayContaining([expect.objectContaining({ path: 'nodes[a].config.count', line: 6 })]) });
  });

  it('exports YAML and JSON as downloads, and imports them back to the same document', async () => {
    await call('POST', '/api/flows', flowDoc('epsilon'));
    const yaml = await call('GET', '/api/flows/epsilon/export');
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get('content-disposition')).toBe('attachment; filename="epsilon.yaml"');
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    const json = await call('GET', '/api/flows/epsilon/export?format=json&version=1');
    expect(json.headers.get('content-disposition')).toBe('attachment; filename="epsilon.json"');
    expect(json.json).toEqual(parseYaml(yaml.text));
    expect((await call('GET', '/api/flows/epsilon/export?format=xml')).status).toBe(400);
    expect((await call('GET', '/api/flows/epsilon/export?version=7')).status).toBe(404);

    // round trip: export, delete, import the text, export again
    const original = (await call('GET', '/api/flows/epsilon')).json.document;
    expect((await call('DELETE', '/api/flows/epsilon')).status).toBe(204);
    expect((await call('DELETE', '/api/flows/epsilon')).status).toBe(404);
    const imported = await call('POST', '/api/flows/import', yaml.text, { 'content-type': 'application/yaml' });
    expect(imported.status).toBe(201);
    expect(imported.json.document).toEqual(original);
    const again = await call('GET', '/api/flows/epsilon/export');
    expect(again.text).toBe(yaml.text);
    expect(parseYaml(again.text)).toEqual(parseYaml(yaml.text));

    // the same name again: 409 unless overwrite, which saves the next version
    expect(await call('POST', '/api/flows/import', { text: json.text, format: 'json' })).toMatchObject({ status: 409, json: { current: 1 } });
    const overwritten = await call('POST', '/api/flows/import?overwrite=true', { text: yaml.text });
    expect(overwritten).toMatchObject({ status: 200, json: { version: 2 } });
    expect({ ...overwritten.json.document, version: 1 }).toEqual(original);

    // a document object, and text with a syntax error (400 with the line)
    expect((await call('POST', '/api/flows/import', flowDoc('zeta'))).status).toBe(201);
    const broken = await call('POST', '/api/flows/import', 'apiVersion: sluice/v1\nname: [x\n', { 'content-type': 'text/yaml' });
    expect(broken.status).toBe(400);
    expect(broken.json.error).toMatch(/^cannot import: YAML syntax error.*\(line \d+\)/);
    expect(broken.json.details[0].line).toEqual(expect.any(Number));
    const invalid = await call('POST', '/api/flows/import', { text: '{"apiVersion": "sluice/v1", "name": "eta", "nodes": [{"id": "a", "type": "core.generate", "config": {"count": -1}}]}' });
    expect(invalid).toMatchObject({ status: 400, json: { details: expect.arrayContaining([expect.objectContaining({ path: 'nodes[a].config.count', line: 1 })]) } });
  });
});

describe('connections', () => {
  const secret = 's3cret-never-returned';

  it('keeps secrets write-only: flags in every response, kept when a save leaves them out, removed with null', async () => {
    const created = await call('POST', '/api/connections', { name: 'shop-pg', type: 'postgres', config: { host: 'db', user: 'app', password: secret, tls: { passphrase: secret } } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: 'shop-pg', name: 'shop-pg', type: 'postgres', config: { host: 'db', user: 'app', hasPassword: true, tls: { hasPassphrase: true } } });
    expect((await call('GET', '/api/connections')).json).toEqual([created.json]);
    expect((await call('GET', '/api/connections/shop-pg')).json).toEqual(created.json);

    const updated = await call('PUT', '/api/connections/shop-pg', { config: { ...created.json.config, host: 'db2' } });
    expect(updated.json.config).toEqual({ host: 'db2', user: 'app', hasPassword: true, tls: { hasPassphrase: true } });
    const db = new Database(join(server.dataDir, 'sluice.db'), { readonly: true });
    try {
      // kept, and stored encrypted (test/integration/secrets.test.ts has the rest)
      const stored = JSON.parse((db.prepare('SELECT config FROM connections WHERE id = ?').get('shop-pg') as { config: string }).config);
      expect(stored).toEqual({ host: 'db2', user: 'app', password: expect.stringMatching(/^sluice-secret:v1:/), tls: { passphrase: expect.stringMatching(/^sluice-secret:v1:/) } });
    } finally {
      db.close();
    }
    const cleared = await call('PUT', '/api/connections/shop-pg', { config: { host: 'db2', password: null } });
    expect(cleared.json.config).toEqual({ host: 'db2' });
    expect(seen.some((t) => t.includes(secret))).toBe(false);
  });

  it('refuses bad bodies, duplicates, renames and unknown ids', async () => {
    const bad = await call('POST', '/api/connections', { name: 'has space', config: [] });
    expect(bad.status).toBe(400);
    expect(bad.json.details.map((d: { path: string }) => d.path).sort()).toEqual(['config', 'name', 'type']);
    await call('POST', '/api/connections', { name: 'dup', type: 'mysql', config: {} });
    expect((await call('POST', '/api/connections', { name: 'dup', type: 'mysql', config: {} })).status).toBe(409);
    expect((await call('PUT', '/api/connections/dup', { name: 'other', config: {} })).json.error).toMatch(/cannot be renamed/);
    expect((await call('PUT', '/api/connections/dup', { config: {}, extra: 1 })).json.details).toEqual([{ path: '', message: 'unknown field "extra"' }]);
    expect((await call('GET', '/api/connections/nope')).status).toBe(404);
    expect((await call('PUT', '/api/connections/nope', { config: {} })).status).toBe(404);
    expect((await call('POST', '/api/connections/nope/test')).status).toBe(404);
    expect((await call('DELETE', '/api/connections/dup')).status).toBe(204);
    expect((await call('DELETE', '/api/connections/dup')).status).toBe(404);
  });

  it('lists the connection types with their fields as JSON Schema, and refuses a type without a connector', async () => {
    const types = await call('GET', '/api/connection-types');
    expect(types.status).toBe(200);
    expect(types.json.map((t: { type: string }) => t.type)).toEqual(expect.arrayContaining(['postgres', 'mysql', 'mongodb', 'sqlite']));
    const postgres = types.json.find((t: { type: string }) => t.type === 'postgres');
    expect(postgres).toMatchObject({ title: 'PostgreSQL', aliases: ['postgresql'], schemes: ['postgres', 'postgresql'] });
    expect(Object.keys(postgres.configSchema.properties)).toEqual(expect.arrayContaining(['url', 'host', 'port', 'user', 'password', 'database', 'tls']));
    const unknown = await call('POST', '/api/connections', { name: 'mq', type: 'redis', config: { url: 'redis://localhost:6379' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ error: expect.stringMatching(/^no connector for type redis \(known: postgres, postgresql, mysql, mariadb, mongodb, sqlite, kafka, nats, http, solace\b/), details: [{ path: 'type' }] });
    await call('POST', '/api/connections', { name: 'typed', type: 'sqlite', config: { path: 'x.db' } });
    expect((await call('PUT', '/api/connections/typed', { type: 'redis', config: {} })).status).toBe(400);
  });

  it.skipIf(!PG.available)('tests a postgres connection: the server and CDC readiness, or the error with a hint', async () => {
    await call('POST', '/api/connections', { name: 'local-pg', type: 'postgres', config: { url: PG.url } });
    expect(await call('POST', '/api/connections/local-pg/test')).toMatchObject({ status: 200, json: { ok: true, message: expect.stringMatching(/^connected to PostgreSQL \d+.*CDC/) } });
    const u = new URL(PG.url);
    await call('POST', '/api/connections', { name: 'wrong-pg', type: 'postgres', config: { host: u.hostname, port: Number(u.port || 5432), user: 'no_such_role_sluice', password: secret, database: 'postgres' } });
    const wrong = await call('POST', '/api/connections/wrong-pg/test');
    expect(wrong.json).toMatchObject({ ok: false, error: expect.stringMatching(/no_such_role_sluice/), hint: expect.stringMatching(/CREATE ROLE/) });
    expect(JSON.stringify(wrong.json)).not.toContain(secret);
  });

  it('tests a sqlite connection by opening the file (inside the file roots only)', async () => {
    new Database(join(server.dataDir, 'files', 'shop.db')).exec('CREATE TABLE t (id INTEGER)').close();
    await call('POST', '/api/connections', { name: 'shop', type: 'sqlite', config: { path: 'shop.db' } });
    expect(await call('POST', '/api/connections/shop/test')).toMatchObject({ status: 200, json: { ok: true, message: expect.stringMatching(/^opened .*shop\.db: 1 table$/) } });
    await call('POST', '/api/connections', { name: 'state', type: 'sqlite', config: { path: join(server.dataDir, 'sluice.db') } });
    expect(await call('POST', '/api/connections/state/test')).toMatchObject({ status: 200, json: { ok: false, error: expect.stringMatching(/^path: .* is inside the server's data directory/) } });
    await call('POST', '/api/connections', { name: 'gone', type: 'sqlite', config: { path: './missing.db' } });
    expect(await call('POST', '/api/connections/gone/test')).toMatchObject({ status: 200, json: { ok: false, error: expect.stringMatching(/no such file/), hint: expect.any(String) } });
  });
});

describe('test runs (preview)', () => {
  it('streams preview:records to the asking socket, then preview:done with the sample in the summary; writes nothing', async () => {
    const socket = await connect();
    try {
      await call('POST', '/api/flows', flowDoc('prev'));
      const records: any[] = [];
      socket.on('preview:records', (e) => records.push(e));
      const done = next(socket, 'preview:done');
      const r = await call('POST', '/api/flows/prev/preview', { limit: 50, sample: 10, socketId: socket.id });
      expect(r.status).toBe(202);
      const { previewId, summary, logs } = await done;
      expect(previewId).toBe(r.json.previewId);
      expect(records.length).toBeGreaterThan(0);
      expect(records.every((e) => e.previewId === previewId && e.flowId === 'prev')).toBe(true);
      const doubled = records.filter((e) => e.node === 'double' && e.direction === 'out').flatMap((e) => e.records);
      expect(doubled).toHaveLength(10);
      expect(doubled[0]).toMatchObject({ op: 'c', value: { n: 1, twice: 2 } });
      expect(summary).toMatchObject({ status: 'completed', nodes: { gen: { out: 50 }, out: { in: 50 } } });
      expect(summary.preview.double.output.out).toHaveLength(10);
      expect(summary.preview.double.output.out[9].value).toEqual({ n: 10, twice: 20 });
      expect(summary.preview.out.wouldWrite.ops.c).toBe(50);
      expect(Array.isArray(logs)).toBe(true);
      expect(existsSync(join(server.dataDir, 'files', 'out-prev.jsonl'))).toBe(false);
    } finally {
      socket.close();
    }
  });

  it('runs the unsaved document when given one, streams to the flow’s subscribers without a socketId, and waits with ?wait=true', async () => {
    const socket = await connect();
    try {
      socket.emit('subscribe', { flowId: 'unsaved' });
      await next(socket, 'status', (s) => s.flowId === 'unsaved');
      const done = next(socket, 'preview:done');
      const started = await call('POST', '/api/flows/unsaved/preview', { document: flowDoc('unsaved'), limit: 5 });
      expect(started.status).toBe(202);
      expect((await done).summary.nodes.gen.out).toBe(5);

      const waited = await call('POST', '/api/flows/unsaved/preview?wait=true', { document: flowDoc('unsaved'), limit: 7, sample: 3 });
      expect(waited.status).toBe(200);
      expect(waited.json).toMatchObject({ status: 'completed', nodes: { gen: { out: 7 } }, preview: { gen: { output: { out: expect.any(Array) } } } });
      expect(waited.json.preview.gen.output.out).toHaveLength(3);
    } finally {
      socket.close();
    }
  });

  it('refuses an invalid document, bad options and an unknown saved flow', async () => {
    const bad = await call('POST', '/api/flows/x/preview', { document: { ...flowDoc('x'), nodes: [{ id: 'gen', type: 'core.generate', config: { count: 'all' } }] } });
    expect(bad.status).toBe(400);
    expect(bad.json.details[0].path).toBe('nodes[gen].config.count');
    expect((await call('POST', '/api/flows/x/preview', { limit: 0 })).json.details).toEqual([{ path: 'limit', message: expect.any(String) }]);
    expect((await call('POST', '/api/flows/never-saved/preview', {})).status).toBe(404);
    expect((await call('POST', '/api/previews/nope/stop')).status).toBe(404);
  });

  it('stops a running test run on request', async () => {
    const socket = await connect();
    try {
      const done = next(socket, 'preview:done');
      const doc = flowDoc('slowprev', { count: 100_000, rate: 50 });
      const started = await call('POST', '/api/flows/slowprev/preview', { document: doc, limit: 10_000, socketId: socket.id });
      expect(started.status).toBe(202);
      await next(socket, 'preview:records');
      expect((await call('POST', `/api/previews/${started.json.previewId}/stop`)).json).toEqual({ stopped: true });
      const { summary } = await done;
      expect(summary.status).toBe('stopped');
      expect(summary.nodes.gen.out).toBeLessThan(10_000);
    } finally {
      socket.close();
    }
  });
});

describe('deployments', () => {
  it('deploys a saved flow, status counts move over socket.io, pause, resume, stop', async () => {
    await call('POST', '/api/flows', flowDoc('live', { count: 1_000_000, rate: 2000 }));
    const socket = await connect();
    try {
      const ack = await socket.emitWithAck('subscribe', { flowId: 'live' });
      expect(ack).toEqual({ ok: true });
      const refused = { ok: false, error: 'subscribe needs { flowId: string } (at most 128 characters)' };
      expect(await socket.emitWithAck('subscribe', {})).toEqual(refused);
      expect(await socket.emitWithAck('subscribe', { flowId: 'x'.repeat(129) })).toEqual(refused);

      expect((await call('GET', '/api/flows/live/status')).json).toMatchObject({ flowId: 'live', status: 'not-deployed' });
      expect((await call('POST', '/api/flows/live/pause')).status).toBe(409);
      expect((await call('POST', '/api/flows/live/stop')).status).toBe(409);

      const logged = next(socket, 'log', (l) => l.flowId === 'live' && l.message === 'deploying version 1');
      const moving = next(socket, 'status', (s) => s.flowId === 'live' && s.status === 'running' && s.nodes.out.in > 0 && s.nodes.gen.rate > 0);
      const deployed = await call('POST', '/api/flows/live/deploy', {});
      expect(deployed.status).toBe(202);
      expect(deployed.json).toMatchObject({ flowId: 'live', status: expect.stringMatching(/^(starting|running)$/), version: 1 });
      await logged;
      const running = await moving;
      expect(running).toMatchObject({ version: 1, edges: [expect.any(Number), expect.any(Number)], deadLetters: 0, startedAt: expect.any(String) });

      const listed = (await call('GET', '/api/flows')).json.find((f: { id: string }) => f.id === 'live');
      expect(listed.deployment).toEqual({ status: 'running', version: 1 });
      expect((await call('DELETE', '/api/flows/live')).status).toBe(409);

      const pausedEvent = next(socket, 'status', (s) => s.status === 'paused');
      expect((await call('POST', '/api/flows/live/pause')).json.status).toBe('paused');
      await pausedEvent;
      expect((await call('GET', '/api/flows/live/status')).json.status).toBe('paused');
      const resumedAt = (await call('POST', '/api/flows/live/resume')).json;
      expect(resumedAt.status).toBe('running');
      await next(socket, 'status', (s) => s.status === 'running' && s.nodes.gen.out > resumedAt.nodes.gen.out);

      const stopped = await call('POST', '/api/flows/live/stop');
      expect(stopped.json).toMatchObject({ status: 'stopped', endedAt: expect.any(String) });
      expect((await call('POST', '/api/flows/live/stop')).json.status).toBe('stopped');
      expect((await call('POST', '/api/flows/live/resume')).status).toBe(409);
      const logs = await call('GET', '/api/flows/live/logs');
      expect(logs.json.map((l: { message: string }) => l.message)).toEqual(expect.arrayContaining(['deploying version 1', 'paused', 'resumed']));
      expect((await call('GET', '/api/flows/live/dead-letters')).json).toEqual([]);
      expect((await call('DELETE', '/api/flows/live')).status).toBe(204);
    } finally {
      socket.close();
    }
  });

  it('refuses unknown flows and versions, bad bodies and invalid saved documents', async () => {
    expect((await call('POST', '/api/flows/nope/deploy')).status).toBe(404);
    expect((await call('POST', '/api/flows/nope/stop')).status).toBe(404);
    expect((await call('GET', '/api/flows/nope/status')).status).toBe(404);
    await call('POST', '/api/flows', flowDoc('kappa'));
    expect((await call('POST', '/api/flows/kappa/deploy', { version: 9 })).json.error).toMatch(/no version 9/);
    expect((await call('POST', '/api/flows/kappa/deploy', { version: 'x' })).json.details[0].path).toBe('version');
    expect((await call('GET', '/api/flows/kappa/logs?limit=0')).status).toBe(400);
  });
});

describe('graceful shutdown', () => {
  const numbers = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('stops deployments on SIGTERM so they commit, exits 0, and resumes them on the next start from where they stopped', async () => {
    const a = await startServer();
    const out = join(a.dataDir, 'files', 'out-resume-me.jsonl'); // relative paths resolve in the first file root
    await callAt(a, 'POST', '/api/flows', flowDoc('resume-me', { count: 1_000_000, rate: 2000 }));
    const s1 = await connect(a);
    await s1.emitWithAck('subscribe', { flowId: 'resume-me' });
    const moving = next(s1, 'status', (st) => st.nodes.out?.in >= 200);
    await callAt(a, 'POST', '/api/flows/resume-me/deploy', {});
    await moving;
    s1.close();
    expect(await a.stop('SIGTERM'), a.output()).toBe(0);
    expect(a.output()).toMatch(/SIGTERM: stopping/);
    const first = numbers(out);
    expect(first).toEqual(upTo(first.length)); // what was written is what was committed: nothing read past it

    const b = await startServer({ cwd: a.cwd, dataDir: a.dataDir });
    try {
      const s2 = await connect(b);
      await s2.emitWithAck('subscribe', { flowId: 'resume-me' });
      await next(s2, 'status', (st) => st.status === 'running' && st.nodes.out.in > 0);
      s2.close();
      expect((await callAt(b, 'POST', '/api/flows/resume-me/stop')).json.status).toBe('stopped');
      expect(b.output()).toMatch(/restored deployment of resume-me version 1 \(running\)/);
      const all = numbers(out);
      expect(all.length).toBeGreaterThan(first.length);
      expect(all).toEqual(upTo(all.length)); // went on from the committed position: no gap, nothing twice
    } finally {
      expect(await b.stop('SIGTERM'), b.output()).toBe(0);
    }
  });
});
