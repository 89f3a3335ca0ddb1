/** The server in process: the error handler, the log, JSON of bigints, and which deployments a restart brings back. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createRegistry, NODE_TYPES } from '../../nodes/catalog.js';
import { CONNECTORS } from '../../nodes/connectors.js';
import { defineNode, type NodeType } from '../../runtime/index.js';
import { NodeRegistry } from '../../runtime/registry.js';
import { DeploymentManager, type DeploymentStatus } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer, type SluiceServer } from '../../server/server.js';
import { stdoutLog } from '../../server/log.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { DeployService } from '../../server/deployments.js';
import { canonicalDocument } from '../../server/flow-format.js';
import { silentLog } from '../../server/log.js';
import { tempDir } from '../helpers/node-harness.js';
import { adminKey } from '../helpers/auth.js';

const open: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of open.splice(0).reverse()) await fn();
});

/** a source that emits, as its one record, the connection its config names (as a node sees it) */
const connectionEcho = defineNode({
  type: 'test.connection-echo',
  category: 'source',
  title: 'Connection echo',
  description: 'emits ctx.connection(name)',
  configSchema: z.object({ name: z.string() }).strict(),
  inputs: [],
  outputs: [{ name: 'out' }],
  create(ctx) {
    let done = false;
    return {
      kind: 'source',
      async open() {},
      async read() {
        if (done) return null;
        done = true;
        return { records: [{ key: 1, value: ctx.connection(ctx.config.name) ?? null, op: 'r', meta: {} }], position: 1 };
      },
      async close() {},
    };
  },
});

async function start(editorDir?: string): Promise<{ server: SluiceServer; url: string; store: SqliteControlStore; logged: string[]; headers: Record<string, string> }> {
  const dir = tempDir();
  const store = new SqliteControlStore(join(dir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
  const logged: string[] = [];
  const server = createSluiceServer({
    registry: new NodeRegistry([...NODE_TYPES, connectionEcho as NodeType], CONNECTORS),
    store,
    manager: new DeploymentManager({ store: checkpoints }),
    log: stdoutLog((l) => logged.push(l)),
    cwd: dir,
    env: {},
    editorDir,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  open.push(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });
  return { server, url: `http://127.0.0.1:${port}`, store, logged, headers: (await adminKey(server)).headers };
}

it('answers a failure that is not the user’s with 500, a generic message and the stack in the log only', async () => {
  const { url, store, logged, headers } = await start();
  store.close(); // every store call now throws: a bug or a broken disk, not a user mistake
  const res = await fetch(`${url}/api/flows`, { headers });
  expect(res.status).toBe(500);
  const body = (await res.json()) as { error: string };
  expect(body).toEqual({ error: 'internal error: the server log has the details' });
  expect(logged.join('')).toMatch(/ERROR GET \/api\/flows: TypeError: The database connection is not open\n\s+at /);
});

it('serves the built editor: its files, index.html for client-side routes, 404 for missing files', async () => {
  const editor = tempDir();
  mkdirSync(join(editor, 'assets'));
  writeFileSync(join(editor, 'index.html'), '<!doctype html><title>editor</title>');
  writeFileSync(join(editor, 'assets', 'app-1234.js'), 'console.log(1)');
  const { url, headers } = await start(editor);
  for (const path of ['/', '/flows/orders-demo']) {
    const res = await fetch(url + path);
    expect([res.status, await res.text(), res.headers.get('cache-control')]).toEqual([200, '<!doctype html><title>editor</title>', 'no-cache']);
  }
  const asset = await fetch(`${url}/assets/app-1234.js`);
  expect([asset.status, await asset.text(), asset.headers.get('cache-control')]).toEqual([200, 'console.log(1)', 'public, max-age=31536000, immutable']);
  expect((await fetch(`${url}/assets/gone.js`)).status).toBe(404);
  // index.html at a deep path names its assets relatively (vite base './'): /flows/assets/… is the same file
  const deep = await fetch(`${url}/flows/orders-demo/assets/app-1234.js`);
  expect([deep.status, await deep.text()]).toEqual([200, 'console.log(1)']);
  expect((await fetch(`${url}/flows/assets/gone.js`)).status).toBe(404);
  const nope = await fetch(`${url}/api/nope`, { headers });
  expect([nope.status, nope.headers.get('content-type')]).toEqual([404, expect.stringMatching(/json/)]);
});

it('writes plain log lines: time, level, request, status, duration', async () => {
  const { url, logged } = await start();
  await fetch(`${url}/api/health`);
  expect(logged.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO GET \/api\/health 200 \d+\.\dms\n$/);
});

it('sends 64-bit integers (bigint) as strings instead of failing', async () => {
  const { server, url } = await start();
  server.app.get('/bigint', (_req, res) => {
    res.json({ id: 9007199254740993n });
  });
  const res = await fetch(`${url}/bigint`); // added last: reached because nothing before it answers /bigint
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ id: '9007199254740993' });
});

it('hands the stored connections to the nodes of a run, a connection the flow defines itself first', async () => {
  const { url, headers } = await start();
  const post = (path: string, body: unknown) =>
    fetch(url + path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  expect((await post('/api/connections', { name: 'shop', type: 'postgres', config: { host: 'db', password: 'pw' } })).status).toBe(201);
  const doc = (connections?: unknown) => ({
    apiVersion: 'sluice/v1',
    name: 'echo',
    ...(connections ? { connections } : {}),
    nodes: [
      { id: 'echo', type: 'test.connection-echo', config: { name: 'shop' } },
      { id: 'out', type: 'file.sink', config: { path: 'never-written.jsonl' } },
    ],
    edges: [{ from: 'echo', to: 'out' }],
  });
  const seenBy = async (d: unknown) => (await post('/api/flows/echo/preview?wait=true', { document: d })).json.preview.echo.output.out[0].value;
  expect(await seenBy(doc())).toEqual({ host: 'db', password: 'pw', type: 'postgres' });
  expect(await seenBy(doc({ shop: { type: 'postgres', host: 'inline' } }))).toEqual({ type: 'postgres', host: 'inline' });
});

describe('deployments across a restart', () => {
  const registry = createRegistry();
  const flow = (name: string, dir: string, gen: Record<string, unknown>) => ({
    apiVersion: 'sluice/v1',
    name,
    nodes: [
      { id: 'gen', type: 'core.generate', config: { dataset: 'counter', ...gen } },
      { id: 'out', type: 'file.sink', config: { path: join(dir, `${name}.jsonl`) } },
    ],
    edges: [{ from: 'gen', to: 'out' }],
  });
  /** one "process": a store, a checkpoint store, a manager and the deploy service over them */
  function boot(dir: string) {
    const store = new SqliteControlStore(join(dir, 'sluice.db'));
    const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    const manager = new DeploymentManager({ store: checkpoints, statusIntervalMs: 20 });
    const deployments = new DeployService({ store, manager, registry, env: {}, policy: {}, log: silentLog });
    const shutdown = async () => {
      await manager.stopAll();
      deployments.close();
      await checkpoints.close();
      store.close();
    };
    return { store, manager, deployments, shutdown };
  }
  const until = (m: DeploymentManager, pred: (s: DeploymentStatus) => boolean) =>
    new Promise<DeploymentStatus>((resolve) => {
      const off = m.onStatus((s) => pred(s) && (off(), resolve(s)));
    });

  it('brings back what was running or paused, not what completed or was stopped', async () => {
    const dir = tempDir();
    const a = boot(dir);
    const save = (name: string, gen: Record<string, unknown>) => a.store.createFlow(name, (v) => canonicalDocument(flow(name, dir, gen), v));
    await save('runs', { count: 1_000_000, rate: 1000 });
    await save('paused', { count: 1_000_000, rate: 1000 });
    await save('done', { count: 10 });
    await save('stopped', { count: 1_000_000, rate: 1000 });
    const done = until(a.manager, (s) => s.flowId === 'done' && s.status === 'completed');
    for (const name of ['runs', 'paused', 'done', 'stopped']) await a.deployments.deploy(name);
    await done;
    await until(a.manager, (s) => s.flowId === 'paused' && s.status === 'running');
    await a.deployments.pause('paused');
    await a.deployments.stop('stopped');
    expect((await a.store.deployments()).map((d) => [d.flowId, d.state])).toEqual([
      ['done', 'stopped'],
      ['paused', 'paused'],
      ['runs', 'running'],
      ['stopped', 'stopped'],
    ]);
    await a.shutdown(); // like SIGTERM: the flows stop, what the user asked for stays

    const b = boot(dir);
    open.push(b.shutdown);
    const paused = until(b.manager, (s) => s.flowId === 'paused' && s.status === 'paused');
    await b.deployments.restore();
    await paused;
    expect(b.manager.list().map((s) => s.flowId).sort()).toEqual(['paused', 'runs']);
    expect(b.manager.isActive('runs')).toBe(true);
  });
});
