/**
 * cluster.failover: agents as real processes over a private redis-server; an agent running flows is
 * SIGKILLed 20 times (a new one started each time) and each of its flows is timed from the kill to the
 * first batch the new owner commits. The baseline is the lease time: failover can never be shorter.
 *
 * cluster.throughput: 12 unpaced flows (generate → select → sqlite.sink, over a shared data directory) on
 * 3 agents, against the same 12 on 1 agent: records per second from deploy to the last commit.
 *
 * cluster.lease: one flow committing every batch in this process, under a Redis lease (Redlock, the
 * keeper extending it, its fencing token on every save) against no lease: time per checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { K } from '../../../runtime/cluster/redis-keys.js';
import { createRegistry } from '../../../nodes/catalog.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { RedisLockService } from '../../../runtime/lock/redis-lock.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
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

const FLOWS = 12;
const PER_FLOW = Number(process.env.SLUICE_BENCH_CLUSTER_RECORDS ?? 40_000);

/** 12 unpaced flows on `agents` agents: records/s from the deploy to the last flow's last commit */
async function throughputOn(agents: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-cluster-'));
  const own = await startRedis(join(dir, 'redis'));
  const redis = new Redis(own.url);
  const data = join(dir, 'data');
  const stores = sharedStores(data);
  const live = range(agents).map((i) => startAgent({ name: `t${i}`, redis: own.url, store: data, leaseMs: LEASE }));
  try {
    await eventually(async () => (await redis.hlen(K.members)) === agents, 60_000, `${agents} agents to join`);
    // the leader assigns once the membership was still for a lease time: deploy after that, so the
    // 12 flows are spread at once rather than all started on the first agent and moved
    await new Promise((r) => setTimeout(r, 2 * LEASE));
    const flows = range(FLOWS).map((i) => `tp-${String(i).padStart(2, '0')}`);
    const t0 = Date.now();
    for (const f of flows) {
      const doc = counterFlow(f, PER_FLOW, 1);
      delete (doc.nodes[0].config as { rate?: number }).rate;
      // select, not map: sandboxed functions loading in 12 flows at once time out on a loaded 2-core machine
      doc.nodes.splice(1, 0, { id: 'pick', type: 'core.select', config: { keep: ['n'] } } as never);
      doc.edges = [{ from: 'gen', to: 'pick' }, { from: 'pick', to: 'sink' }];
      (doc.settings as { batchSize: number }).batchSize = 500;
      await stores.deploy(doc);
    }
    await redis.publish(K.events, 'desired');
    // the owners seen while the flows run (a flow that ended leaves the assignment)
    const owners = new Set<string>();
    await eventually(
      async () => {
        for (const a of Object.values(await redis.hgetall(K.assignment))) owners.add(a);
        return (await Promise.all(flows.map((f) => stores.position(f)))).every((p) => p === PER_FLOW);
      },
      600_000,
      'every flow to finish',
    );
    const ms = Date.now() - t0;
    if (owners.size !== agents) throw new Error(`the flows ran on ${owners.size} agents, not ${agents}`);
    return (FLOWS * PER_FLOW) / (ms / 1000);
  } finally {
    for (const a of live) a.signal('SIGKILL');
    await Promise.all(live.map((a) => a.exited));
    redis.disconnect();
    await stores.close();
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(): Promise<Figure[]> {
  const one = await throughputOn(1);
  const three = await throughputOn(3);
  return [
    {
      metric: '12 flows on 3 agents',
      value: Math.round(three),
      unit: 'records/s',
      baseline: { label: 'the same on 1 agent', value: Math.round(one) },
      note: `${FLOWS} × ${PER_FLOW.toLocaleString()} records, generate → select → sqlite.sink, shared data directory, agents on this one machine`,
    },
  ];
}

/** ms per checkpoint of one flow that commits every batch, with `locks` or without */
async function perCheckpoint(locks: RedisLockService | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-lease-'));
  const inner = new SqliteCheckpointStore(join(dir, 'state.db'));
  let saves = 0;
  const store = Object.assign(Object.create(inner) as SqliteCheckpointStore, {
    save: (...args: Parameters<SqliteCheckpointStore['save']>) => {
      saves++;
      return inner.save(...args);
    },
  });
  const plan = compileFlow(
    {
      apiVersion: 'sluice/v1',
      name: 'lease-bench',
      settings: { batchSize: 10 },
      nodes: [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 20_000 } },
        { id: 'out', type: 'file.sink', config: { path: join(dir, 'out.jsonl') } },
      ],
      edges: [{ from: 'gen', to: 'out' }],
    },
    createRegistry(),
  );
  const t0 = performance.now();
  const summary = await new FlowRun(plan, { store, locks, leaseTtlMs: LEASE }).run();
  const ms = performance.now() - t0;
  await inner.close();
  rmSync(dir, { recursive: true, force: true });
  if (summary.status !== 'completed') throw new Error(`lease bench flow ${summary.status}: ${summary.error}`);
  return ms / saves;
}

async function leaseOverhead(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-lease-redis-'));
  const own = await startRedis(dir);
  const redis = new Redis(own.url);
  const locks = new RedisLockService(redis, { holder: 'bench' });
  const without: number[] = [];
  const withLease: number[] = [];
  try {
    // alternated, five of each, medians: the machine's load drifts between runs
    for (let i = 0; i < 5; i++) {
      without.push(await perCheckpoint(undefined));
      withLease.push(await perCheckpoint(locks));
    }
  } finally {
    redis.disconnect();
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [
    {
      metric: 'time per checkpoint under a Redis lease',
      value: Math.round(median(withLease) * 1000) / 1000,
      unit: 'ms',
      baseline: { label: 'no lease', value: Math.round(median(without) * 1000) / 1000 },
      note: 'one flow, a SQLite checkpoint per 10-record batch, 2 s lease extended every 667 ms; medians of 5 alternated runs',
    },
  ];
}

export const clusterCases: BenchCase[] = [
  { name: 'cluster.failover', description: `SIGKILL of an agent holding 2 of 4 flows, ${KILLS} times: time until the new owner commits (lease ${LEASE} ms)`, run: failover },
  { name: 'cluster.throughput', description: `${FLOWS} unpaced flows on 3 agents against 1 agent (real processes, a private Redis)`, run: throughput },
  { name: 'cluster.lease', description: 'lease overhead per checkpoint: one flow committing every batch, under a Redis lease against none', run: leaseOverhead },
];
