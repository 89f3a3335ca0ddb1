/**
 * The cluster's chaos test, with real processes: `sluice agent`s over one shared data directory and a real
 * Redis (REDIS_URL, else the run's private redis-server), lease time 2 s. A file of its own (the rest is in
 * cluster.test.ts) because it runs for a minute and a half of kills: the two files run on two workers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { clusterFixture, counterFlow, eventually, range, type AgentProcess } from '../helpers/cluster.js';
import { probeRedis, service } from '../helpers/services.js';

const LEASE = 2000;
const redisService = await service('Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', probeRedis);

// Redis database 9 (cluster.test.ts has 1–8)
const { cluster, cleanup, closers } = clusterFixture(redisService.url, [9], LEASE);
afterEach(cleanup);

describe.skipIf(!redisService.available)('cluster of agents under chaos (real processes, real Redis)', () => {
  it('chaos: 3 agents, 12 flows, an agent SIGKILLed every 3 s 20 times (a new one started each time): every record once, positions and fences never go back', async () => {
    const { stores, agent, dataDir } = await cluster();
    const COUNT = 6000;
    const flows = range(12).map((i) => `chaos-${String(i).padStart(2, '0')}`);
    for (const f of flows) await stores.deploy(counterFlow(f, COUNT, 80));
    let next = 0;
    const live: AgentProcess[] = [agent(`c${++next}`), agent(`c${++next}`), agent(`c${++next}`)];
    const state = new Database(join(dataDir, 'sluice-state.db'), { readonly: true });
    closers.push(async () => state.close());
    const last = new Map<string, { fence: number; position: number }>();
    const backwards: string[] = [];
    const sample = () => {
      for (const row of state.prepare('SELECT flow, fence, positions FROM checkpoints').all() as { flow: string; fence: number; positions: string }[]) {
        const now = { fence: row.fence, position: Number(JSON.parse(row.positions).gen ?? 0) };
        const before = last.get(row.flow);
        if (before && (now.fence < before.fence || now.position < before.position)) backwards.push(`${row.flow}: ${JSON.stringify(before)} → ${JSON.stringify(now)}`);
        last.set(row.flow, now);
      }
    };
    const sampler = setInterval(sample, 20);
    closers.push(async () => clearInterval(sampler));
    // a fixed sequence of victims, so a failure replays
    let seed = 13;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let kill = 0; kill < 20; kill++) {
      await new Promise((r) => setTimeout(r, 3000));
      const victim = live.splice(Math.floor(random() * live.length), 1)[0];
      victim.signal('SIGKILL');
      await victim.exited;
      live.push(agent(`c${++next}`));
    }
    await eventually(async () => (await Promise.all(flows.map((f) => stores.position(f)))).every((p) => p === COUNT), 120_000, 'every flow to finish');
    sample();
    clearInterval(sampler);
    expect(backwards).toEqual([]);
    for (const f of flows) expect(stores.sinkRows(f)).toEqual(range(COUNT));
  }, 300_000);
});
