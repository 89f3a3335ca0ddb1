/**
 * An agent's operations, with real `sluice agent` processes over a private redis-server and a shared
 * data directory: a flow whose start fails is started again with backoff a bounded number of times,
 * then marked failed with the reason (what the server's status and Cluster page show); the agent's
 * own GET /metrics (--metrics-port) reports the flows it runs under the server's metric names; and its
 * webhooks (--hooks-port) take signed requests and API keys it checks itself, straight or via the server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { K } from '../../runtime/cluster/redis-keys.js';
import { counterFlow, eventually, sharedStores, startAgent, type AgentProcess } from '../helpers/cluster.js';
import { tempDir } from '../helpers/node-harness.js';
import { startRedis } from '../setup/servers.js';
import { startServer } from '../helpers/server-process.js';
import { AuthService } from '../../server/auth/service.js';

const LEASE = 2000;
const closers: (() => Promise<unknown>)[] = [];
const agents: AgentProcess[] = [];
afterAll(async () => {
  for (const a of agents.splice(0)) {
    a.signal('SIGKILL');
    await a.exited;
  }
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

async function cluster() {
  const dir = tempDir('sluice-cluster-ops-');
  const own = await startRedis(join(dir, 'redis'));
  const redis = new Redis(own.url);
  const dataDir = join(dir, 'data');
  const stores = sharedStores(dataDir);
  closers.push(() => own.stop(), async () => redis.disconnect(), () => stores.close());
  const agent = (name: string, args: string[] = []) => {
    const a = startAgent({ name, redis: own.url, store: dataDir, leaseMs: LEASE, args });
    agents.push(a);
    return a;
  };
  return { redis, stores, dataDir, agent, redisUrl: own.url };
}

type Status = { status: string; error?: string; agent?: string };
const statusOf = async (redis: Redis, flow: string): Promise<Status | undefined> => {
  const raw = await redis.hget(K.statuses, flow);
  return raw ? (JSON.parse(raw) as Status) : undefined;
};

describe('cluster agent operations (real agent processes, a private Redis)', () => {
  it('a failed start is retried with backoff; it runs once the cause is gone, and is failed with the reason after --start-retries', async () => {
    const { redis, stores, dataDir, agent } = await cluster();
    // the sink's database path is a directory: opening the sink fails at every start
    mkdirSync(join(dataDir, 'files', 'heals.db'), { recursive: true });
    mkdirSync(join(dataDir, 'files', 'stays.db'), { recursive: true });
    await stores.deploy(counterFlow('heals', 200, 1000));
    await stores.deploy(counterFlow('stays', 200, 1000));
    const a = agent('a', ['--start-retries', '2', '--start-retry-ms', '300']);

    // the first failed start: shown as starting, with the reason and the next attempt
    await a.waitFor(/flow heals: start 1 of 3 failed on agent a: .*starting again in 300 ms/, 60_000);
    await eventually(async () => /start \d of 3 failed on agent a/.test((await statusOf(redis, 'heals'))?.error ?? ''), 10_000, 'the retry in the status');
    expect((await statusOf(redis, 'heals'))?.status).toBe('starting');
    // the cause goes away: a later attempt runs the flow to its end
    rmSync(join(dataDir, 'files', 'heals.db'), { recursive: true });
    await eventually(async () => (await stores.position('heals')) === 200, 60_000, 'heals to run to its end').catch((err) => {
      throw new Error(`${(err as Error).message}\n${a.output().split('\n').slice(-40).join('\n')}`);
    });
    expect(stores.sinkRows('heals')).toHaveLength(200);

    // the one that keeps failing: 1 + 2 attempts, waits of 300 then 600 ms, then failed with the reason
    await a.waitFor(/flow stays: start 2 of 3 failed on agent a: .*starting again in 600 ms/, 60_000);
    await eventually(async () => (await statusOf(redis, 'stays'))?.status === 'failed', 60_000, 'stays to be failed');
    const failed = (await statusOf(redis, 'stays'))!;
    expect(failed.error).toMatch(/could not be started on agent a \(3 attempts\): /);
    expect(failed.agent).toBe('a');
    expect(a.output()).not.toMatch(/flow stays: start 3 of 3 failed/);
    // recorded as no longer deployed: not started again, by this agent or another
    await eventually(async () => (await stores.control.deployments()).find((d) => d.flowId === 'stays')?.state === 'stopped', 10_000, 'stays recorded stopped');
    const attempts = (a.output().match(/flow stays: start \d of 3 failed/g) ?? []).length;
    await new Promise((r) => setTimeout(r, 1500));
    expect((a.output().match(/flow stays: start \d of 3 failed/g) ?? []).length).toBe(attempts);
    expect(await stores.position('stays')).toBe(0);
  }, 180_000);

  it('--metrics-port: the agent serves the metrics of the flows it runs, under the server\'s metric names', async () => {
    const { stores, agent } = await cluster();
    await stores.deploy(counterFlow('metered', 100_000, 200));
    const a = agent('m', ['--metrics-port', '0']);
    await a.waitFor(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 60_000);
    const port = Number(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(a.output())![1]);
    await eventually(async () => (await stores.position('metered')) > 0, 60_000, 'the flow to commit');
    let text = '';
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        text = await res.text();
        return res.ok && /sluice_node_records_out_total\{[^}]*flow="metered"[^}]*node="gen"[^}]*\} [1-9]/.test(text);
      },
      30_000,
      'records counted in the agent\'s metrics',
    );
    expect(text).toMatch(/sluice_deployment_state\{[^}]*flow="metered"[^}]*state="running"[^}]*\} 1/);
    expect(text).toMatch(/process_resident_memory_bytes \d/);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  }, 120_000);

  it('--hooks-port: the agent that runs an http.source flow serves its webhook, advertised in its membership; signed requests, or API keys the agent checks itself', async () => {
    const { redis, stores, dataDir, agent, redisUrl } = await cluster();
    const SECRET = 'cluster-hook-secret';
    await stores.control.createConnection('hook', 'http', { hmacSecret: SECRET });
    const inbox = {
      apiVersion: 'sluice/v1',
      name: 'inbox',
      settings: { batchSize: 100 },
      nodes: [
        { id: 'hook', type: 'http.source', config: { connection: 'hook', keyField: 'id' } },
        { id: 'sink', type: 'sqlite.sink', config: { path: 'inbox.db', table: 'got', keys: ['id'] } },
      ],
      edges: [{ from: 'hook', to: 'sink' }],
    };
    await stores.deploy(inbox);
    // no hmacSecret (no connection at all), as single mode allows: API keys are the only way in
    const keyedFlow = {
      apiVersion: 'sluice/v1',
      name: 'keyed',
      settings: { batchSize: 100 },
      nodes: [
        { id: 'hook', type: 'http.source', config: { keyField: 'id' } },
        { id: 'sink', type: 'sqlite.sink', config: { path: 'keyed.db', table: 'got', keys: ['id'] } },
      ],
      edges: [{ from: 'hook', to: 'sink' }],
    };
    await stores.deploy(keyedFlow);
    // users and keys in the cluster's shared store, where the server makes them
    const auth = new AuthService(stores.control.auth);
    const keyOf = async (name: string, role: 'viewer' | 'editor' | 'admin') => {
      await auth.createUser(name, role, `password-of-${name}`);
      return auth.createKey((await auth.store.getUser(name))!, role, 'hooks test');
    };
    const editorKey = await keyOf('ed', 'editor');
    const viewerKey = await keyOf('vi', 'viewer');
    const revokedKey = await keyOf('gone', 'admin');
    await auth.store.revokeKey(revokedKey.id);
    const bearer = (k: { key: string }) => ({ authorization: `Bearer ${k.key}` });
    const UNKNOWN = { error: 'the API key is unknown or revoked' };
    const TOO_LOW = { error: 'POST /hooks needs the editor role (vi is viewer)' };
    // the rows at the sink: none while it has written nothing (no table yet)
    const keyedRows = () => {
      const db = new Database(join(dataDir, 'files', 'keyed.db'), { readonly: true });
      try {
        return db.prepare("SELECT name FROM sqlite_master WHERE name = 'got'").get() ? db.prepare('SELECT id, a FROM got ORDER BY id').all() : [];
      } finally {
        db.close();
      }
    };
    const a = agent('h', ['--hooks-port', '0']);
    await a.waitFor(/webhooks at http:\/\/127\.0\.0\.1:\d+\/hooks/, 60_000);
    let url = '';
    await eventually(async () => (url = (JSON.parse((await redis.hget(K.members, 'h')) ?? '{}') as { hooks?: string }).hooks ?? '') !== '', 20_000, 'the hooks URL in the membership');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const body = '{"id": 1, "a": "x"}\n{"id": 2, "a": "y"}\n';
    const sign = (b: string) => `sha256=${createHmac('sha256', SECRET).update(b).digest('hex')}`;
    const post = (b: string, headers: Record<string, string>) => fetch(`${url}/hooks/inbox/hook`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body: b });
    // the flow may still be starting: 404 until its node registered
    let res: Response | undefined;
    await eventually(async () => (res = await post(body, { 'x-sluice-signature': sign(body) })).status !== 404, 60_000, 'the flow\'s webhook to be served');
    expect(res!.status).toBe(202);
    const db = new Database(join(dataDir, 'files', 'inbox.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT id, a FROM got ORDER BY id').all()).toEqual([{ id: 1, a: 'x' }, { id: 2, a: 'y' }]);
    } finally {
      db.close();
    }
    expect((await post(body, { 'x-sluice-signature': sign('{"id": 3}') })).status).toBe(401);
    expect((await post(body, {})).status).toBe(401);
    expect((await post(body, { authorization: 'Bearer sluice_anything' })).status).toBe(401);
    expect((await fetch(`${url}/hooks/nope/hook`, { method: 'POST', body })).status).toBe(404);

    // API keys straight at the agent: it checks them against the shared store, with the server's messages
    const keyed = (b: string, headers: Record<string, string>, base = url) => fetch(`${base}/hooks/keyed/hook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });
    await eventually(async () => (res = await keyed('{"id": 1, "a": "direct"}', bearer(editorKey))).status !== 404, 60_000, 'the keyed flow\'s webhook to be served');
    expect(res!.status).toBe(202);
    expect(keyedRows()).toEqual([{ id: 1, a: 'direct' }]);
    expect((await auth.store.getKey(editorKey.id))?.lastUsedAt).toBeGreaterThan(0);
    const unknown = await keyed('{"id": 2}', { authorization: 'Bearer sluice_not-a-key' });
    expect([unknown.status, await unknown.json()]).toEqual([401, UNKNOWN]);
    const revoked = await keyed('{"id": 2}', bearer(revokedKey));
    expect([revoked.status, await revoked.json()]).toEqual([401, UNKNOWN]);
    const low = await keyed('{"id": 2}', bearer(viewerKey));
    expect([low.status, await low.json()]).toEqual([403, TOO_LOW]);
    // a header naming a user is no key: the node without a secret refuses
    expect((await keyed('{"id": 2}', { 'x-forwarded-user': 'ed', 'x-sluice-user': 'ed' })).status).toBe(401);
    expect(keyedRows()).toHaveLength(1);

    // the control plane forwards POST /hooks/FLOW/NODE to the agent that runs the flow, answer and all
    const server = await startServer({ dataDir, admin: false, args: ['--cluster', '--redis', redisUrl, '--lease-ms', String(LEASE)] });
    closers.push(() => server.stop());
    const viaServer = (b: string, headers: Record<string, string>) => fetch(`${server.url}/hooks/inbox/hook`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body: b });
    const more = '{"id": 7, "a": "z"}\n';
    const forwarded = await viaServer(more, { 'x-sluice-signature': sign(more) });
    expect(forwarded.status).toBe(202);
    expect(await forwarded.json()).toEqual({ accepted: 1 });
    const again = new Database(join(dataDir, 'files', 'inbox.db'), { readonly: true });
    try {
      expect(again.prepare('SELECT id FROM got WHERE id = 7').all()).toEqual([{ id: 7 }]);
    } finally {
      again.close();
    }
    expect((await viaServer(more, { 'x-sluice-signature': sign(body) })).status).toBe(401);
    expect((await fetch(`${server.url}/hooks/nope/hook`, { method: 'POST', body: more })).status).toBe(404);

    // API keys via the server: forwarded with the Authorization header, checked by the agent
    const viaKey = await keyed('{"id": 3, "a": "forwarded"}', bearer(editorKey), server.url);
    expect([viaKey.status, await viaKey.json()]).toEqual([202, { accepted: 1 }]);
    expect(keyedRows()).toEqual([{ id: 1, a: 'direct' }, { id: 3, a: 'forwarded' }]);
    const unknownVia = await keyed('{"id": 4}', { authorization: 'Bearer sluice_not-a-key' }, server.url);
    expect([unknownVia.status, await unknownVia.json()]).toEqual([401, UNKNOWN]);
    const lowVia = await keyed('{"id": 4}', bearer(viewerKey), server.url);
    expect([lowVia.status, await lowVia.json()]).toEqual([403, TOO_LOW]);
    expect(keyedRows()).toHaveLength(2);
  }, 120_000);
});
