/**
 * cluster.failover: agents as real processes over a private redis-server; an agent running flows is
 * SIGKILLed 20 times (a new one started each time) and each of its flows is timed from the kill to the
 * first batch the new owner commits. The baseline is the lease time: failover can never be shorter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { K } from '../../../runtime/cluster/redis-keys.js';
import { counterFlow, eventually, range, sharedStores, startAgent, type AgentProcess } from '../../helpers/cluster.js';
import { startRedis } from '../../setup/servers.js';
import type { BenchCase, Figure } from '../harness.js';

const LEASE = 2000;
const KILLS = Number(process.env.SLUICE_BENCH_KILLS ?? 20);

async function failover(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-cluster-'));
  const own = await startRedis(join(dir, 'redis'));
  const redis = new Redis(own.url);
  const data = join(dir, 'data');
  const stores = sharedStores(data);
  const live: AgentProcess[] = [];
  let n = 0;
  const agent = () => {
    const a = startAgent({ name: `b${++n}`, redis: own.url, store: data, leaseMs: LEASE });
    live.push(a);
    return a;
  };
  const times: number[] = [];
  try {
    const flows = range(4).map((i) => `bench-${i}`);
    for (const f of flows) await stores.deploy(counterFlow(f, 1_000_000_000, 200));
    agent();
    agent();
    const settled = async () => {
      const assignment = await redis.hgetall(K.assignment);
      const names = live.map((a) => a.name);
      const counts = names.map((name) => Object.values(assignment).filter((o) => o === name).length);
      if (Object.keys(assignment).length !== flows.length || counts.some((c) => c !== 2)) return false;
      const statuses = await redis.hmget(K.statuses, ...flows);
      return statuses.every((s, i) => s !== null && JSON.parse(s).agent === assignment[flows[i]] && JSON.parse(s).status === 'running');
    };
    for (let kill = 0; kill < KILLS; kill++) {
      await eventually(settled, 30_000, 'two flows running on each agent');
      const assignment = await redis.hgetall(K.assignment);
      const victim = live.shift()!;
      const held = flows.filter((f) => assignment[f] === victim.name);
      const at = await Promise.all(held.map((f) => stores.position(f)));
      const t0 = Date.now();
      victim.signal('SIGKILL');
      await victim.exited;
      const pending = new Set(held);
      while (pending.size > 0) {
        for (const [i, f] of held.entries()) {
          if (pending.has(f) && (await stores.position(f)) > at[i]) {
            times.push(Date.now() - t0);
            pending.delete(f);
          }
        }
        if (Date.now() - t0 > 30_000) throw new Error(`flows ${[...pending].join(', ')} did not resume within 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      agent();
    }
  } finally {
    for (const a of live) a.signal('SIGKILL');
    await Promise.all(live.map((a) => a.exited));
    redis.disconnect();
    await stores.close();
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)];
  const baseline = { label: 'the lease time', value: LEASE };
  return [
    { metric: 'failover p50 (SIGKILL → first batch committed by the new owner)', value: p50, unit: 'ms', baseline, note: `${times.length} flow failovers over ${KILLS} kills` },
    { metric: 'failover max', value: times[times.length - 1], unit: 'ms', baseline },
  ];
}

export const clusterCases: BenchCase[] = [
  { name: 'cluster.failover', description: `SIGKILL of an agent holding 2 of 4 flows, ${KILLS} times: time until the new owner commits (lease ${LEASE} ms)`, run: failover },
];
