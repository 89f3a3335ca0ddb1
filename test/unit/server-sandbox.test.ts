/**
 * User code that kills its sandbox process, through the server: a test run and a deployment of the
 * memory bomb leave the server answering, and a deployment that cannot be restored at start is marked
 * failed instead of being tried at every start. Real worker processes; the server in process.
 */
import { afterEach, expect, it } from 'vitest';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer } from '../../server/server.js';
import { adminKey } from '../helpers/auth.js';
import { silentLog } from '../../server/log.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { DeployService } from '../../server/deployments.js';
import { canonicalDocument } from '../../server/flow-format.js';
import { tempDir } from '../helpers/node-harness.js';

const open: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of open.splice(0).reverse()) await fn();
});

async function start() {
  const dir = tempDir();
  const store = new SqliteControlStore(join(dir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
  const server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints }), log: silentLog, cwd: dir, env: {} });
  const { port } = await server.listen(0, '127.0.0.1');
  open.push(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });
  const url = `http://127.0.0.1:${port}`;
  const admin = await adminKey(server);
  /** every HTTP call of this file goes through here, as an admin */
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, { method, headers: body === undefined ? admin.headers : { ...admin.headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  return { dir, api };
}

const BOMB = '(v) => (v.n === 7 ? { a: new Array(1e9).fill(1).length } : v)';
const bombFlow = (dir: string) => ({
  apiVersion: 'sluice/v1',
  name: 'bomb',
  settings: { batchSize: 10 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 20 } },
    { id: 'user', type: 'core.map', config: { code: BOMB } },
    { id: 'out', type: 'file.sink', config: { path: join(dir, 'out.jsonl') } },
  ],
  edges: [
    { from: 'gen', to: 'user' },
    { from: 'user', to: 'out' },
  ],
});

it('a test run of the memory bomb completes with the bad record on its node, and /api/health answers', async () => {
  const { dir, api } = await start();
  const r = await api('POST', '/api/flows/bomb/preview?wait=true', { document: bombFlow(dir) });
  expect(r.status).toBe(200);
  expect(r.json.status).toBe('completed');
  expect(r.json.nodes.user).toMatchObject({ in: 20, out: 19, errors: 1 });
  expect(JSON.stringify(r.json.preview.user.errors)).toMatch(/the sandbox process ran out of memory on this record/);
  expect((await api('GET', '/api/health')).json.ok).toBe(true);
});

it('a deployment of the memory bomb completes with the bad record dead-lettered, and /api/health answers', async () => {
  const { dir, api } = await start();
  expect((await api('POST', '/api/flows', bombFlow(dir))).status).toBe(201);
  expect((await api('POST', '/api/flows/bomb/deploy')).status).toBe(202);
  let status: any;
  for (let i = 0; i < 300; i++) {
    status = (await api('GET', '/api/flows/bomb/status')).json;
    expect((await api('GET', '/api/health')).json.ok).toBe(true);
    if (status.status === 'completed' || status.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toMatchObject({ status: 'completed', deadLetters: 1 });
  const dead = (await api('GET', '/api/flows/bomb/dead-letters')).json;
  expect(JSON.stringify(dead)).toMatch(/the sandbox process ran out of memory on this record/);
});

it('a deployment that cannot be restored at start is marked failed with the reason, and not tried again at the next start', async () => {
  const dir = tempDir();
  const boot = () => {
    const store = new SqliteControlStore(join(dir, 'sluice.db'));
    const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    const manager = new DeploymentManager({ store: checkpoints });
    const deployments = new DeployService({ store, manager, registry: createRegistry(), env: {}, policy: {}, log: silentLog });
    const shutdown = async () => {
      await manager.stopAll();
      deployments.close();
      await checkpoints.close();
      store.close();
    };
    return { store, manager, deployments, shutdown };
  };
  const a = boot();
  await a.store.createFlow('bomb', (v) => canonicalDocument(bombFlow(dir), v));
  await a.store.setDeployment('bomb', 9, 'running'); // a version that is gone: restoring it must fail
  await a.deployments.restore();
  expect(a.manager.status('bomb')).toMatchObject({ status: 'failed', version: 9, error: expect.stringMatching(/^could not be restored at server start: flow "bomb" has no version 9/) });
  expect(a.manager.list().map((s) => [s.flowId, s.status])).toEqual([['bomb', 'failed']]);
  expect((await a.store.deployments()).map((d) => [d.flowId, d.state])).toEqual([['bomb', 'stopped']]);
  await a.shutdown();

  const b = boot();
  open.push(b.shutdown);
  await b.deployments.restore();
  expect(b.manager.status('bomb').status).toBe('not-deployed');
  // deploying it again clears the failure
  await b.deployments.deploy('bomb');
  expect(b.manager.status('bomb').status).not.toBe('failed');
});
