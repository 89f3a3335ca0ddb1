/**
 * The cluster with real processes: `sluice agent`s over one shared data directory and a real Redis
 * (REDIS_URL, else the run's private redis-server). Lease time 2 s, so a dead agent's flows must resume
 * within 4 s.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { K } from '../../runtime/cluster/redis-keys.js';
import { assignment, counterFlow, eventually, range, sharedStores, startAgent, type AgentProcess } from '../helpers/cluster.js';
import { tempDir } from '../helpers/node-harness.js';
import { service } from '../helpers/services.js';

const LEASE = 2000;
const redisService = await service('Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', async (url) => {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
  await r.connect();
  await r.quit();
});

const agents: AgentProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) {
    a.signal('SIGKILL');
    a.signal('SIGCONT');
    await a.exited;
  }
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

/** a fresh Redis database (every key of the cluster gone) and a fresh shared data directory */
async function cluster() {
  // each test gets its own logical database, so tests never see each other's keys
  const db = (testDb = (testDb % 15) + 1);
  const url = `${redisService.url.replace(/\/\d*$/, '')}/${db}`;
  const redis = new Redis(url);
  await redis.flushdb();
  const data = tempDir('sluice-cluster-');
  const stores = sharedStores(join(data, 'data'));
  closers.push(() => redis.quit(), () => stores.close());
  const agent = (name: string, extra: { capacity?: number } = {}) => {
    const a = startAgent({ name, redis: url, store: join(data, 'data'), leaseMs: LEASE, ...extra });
    agents.push(a);
    return a;
  };
  return { url, redis, stores, agent };
}
let testDb = 0;

describe.skipIf(!redisService.available)('cluster of agents (real processes, real Redis)', () => {
  beforeAll(() => undefined);

  it('SIGKILL of an agent: its flows resume on another within the lease time + 2 s, from the committed positions, every record once', async () => {
    const { redis, stores, agent } = await cluster();
    const COUNT = 3000;
    const flows = range(4).map((i) => `kill-${i}`);
    for (const f of flows) await stores.deploy(counterFlow(f, COUNT, 300));
    const a = agent('a');
    const b = agent('b');
    await eventually(async () => {
      const owners = Object.values(await assignment(redis));
      return owners.filter((o) => o === 'a').length === 2 && owners.filter((o) => o === 'b').length === 2;
    }, 15_000, 'two flows on each agent');
    const onA = Object.entries(await assignment(redis)).filter(([, o]) => o === 'a').map(([f]) => f);
    // a has committed some progress on its flows
    await eventually(async () => (await Promise.all(onA.map((f) => stores.position(f)))).every((p) => p > 300), 20_000, 'progress on a');
    const before = await Promise.all(onA.map((f) => stores.position(f)));
    const killedAt = Date.now();
    a.signal('SIGKILL');
    await a.exited;
    // b runs them (a status from b, running) within lease + 2 s
    await eventually(async () => {
      const statuses = await redis.hmget(K.statuses, ...onA);
      return statuses.every((s) => s !== null && JSON.parse(s).agent === 'b' && JSON.parse(s).status === 'running');
    }, LEASE + 2000, `b to run ${onA.join(', ')}`);
    const failover = Date.now() - killedAt;
    expect(failover).toBeLessThanOrEqual(LEASE + 2000);
    for (const f of onA) await b.waitFor(new RegExp(`runs flow ${f} version 1`), 1000);
    await eventually(async () => (await Promise.all(flows.map((f) => stores.position(f)))).every((p) => p === COUNT), 60_000, 'every flow to finish');
    for (const f of flows) expect(stores.sinkRows(f)).toEqual(range(COUNT));
    // b resumed a's flows where a had committed: it read at most what was left after a's last commit before the kill
    for (const [i, f] of onA.entries()) {
      const status = JSON.parse((await redis.hget(K.statuses, f))!);
      expect(status.agent).toBe('b');
      expect(status.nodes.gen.out).toBeLessThanOrEqual(COUNT - before[i]);
      expect(status.nodes.gen.out).toBeGreaterThan(0);
    }
    // a flow that completed is recorded as stopped: nothing restarts it
    expect((await stores.control.deployments()).filter((d) => flows.includes(d.flowId)).map((d) => d.state)).toEqual(flows.map(() => 'stopped'));
    process.stderr.write(`cluster failover: SIGKILL → running on b in ${failover} ms (lease ${LEASE} ms)\n`);
  }, 120_000);
});
