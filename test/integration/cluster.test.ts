/**
 * The cluster with real processes: `sluice agent`s over one shared data directory and a real Redis
 * (REDIS_URL, else the run's private redis-server). Lease time 2 s, so a dead agent's flows must resume
 * within 4 s. The chaos test (20 kills) is in cluster-chaos.test.ts, so that the two files run at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { K } from '../../runtime/cluster/redis-keys.js';
import Database from 'better-sqlite3';
import { assignment, clusterFixture, counterFlow, eventually, range } from '../helpers/cluster.js';
import { startRedis } from '../setup/servers.js';
import { startServer } from '../helpers/server-process.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';
import { probeRedis, service } from '../helpers/services.js';

const LEASE = 2000;
const redisService = await service('Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', probeRedis);

// Redis databases 1–8: one per test (cluster-chaos.test.ts, run beside this file, has 9)
const { cluster, cleanup, closers } = clusterFixture(redisService.url, [1, 2, 3, 4, 5, 6, 7, 8], LEASE);
afterEach(cleanup);

describe.skipIf(!redisService.available)('cluster of agents (real processes, real Redis)', () => {

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
    await eventually(async () => (await stores.control.deployments()).filter((d) => flows.includes(d.flowId)).every((d) => d.state === 'stopped'), 5000, 'every completed flow recorded as stopped');
    process.stderr.write(`cluster failover: SIGKILL → running on b in ${failover} ms (lease ${LEASE} ms)\n`);
  }, 120_000);

  it('rebalance: 1 agent with 12 flows, 2 more join: each ends with 4, and only the 8 needed flows moved, once each', async () => {
    const { redis, stores, agent } = await cluster();
    const flows = range(12).map((i) => `rb-${String(i).padStart(2, '0')}`);
    for (const f of flows) await stores.deploy(counterFlow(f, 1_000_000_000, 20));
    const a = agent('a');
    await eventually(async () => {
      const s = await redis.hmget(K.statuses, ...flows);
      return s.every((x) => x !== null && JSON.parse(x).agent === 'a' && JSON.parse(x).status === 'running');
    }, 20_000, '12 flows running on a');
    const b = agent('b');
    const c = agent('c');
    const counts = async () => {
      const owners = Object.values(await assignment(redis));
      return ['a', 'b', 'c'].map((n) => owners.filter((o) => o === n).length);
    };
    await eventually(async () => (await counts()).join() === '4,4,4', 20_000, 'four flows on each agent');
    const final = await assignment(redis);
    await eventually(async () => {
      const s = await redis.hmget(K.statuses, ...flows);
      return s.every((x, i) => x !== null && JSON.parse(x).agent === final[flows[i]] && JSON.parse(x).status === 'running');
    }, 20_000, 'every flow running where it is assigned');
    const moves = (out: string) => [...out.matchAll(/stopping flow (\S+): moved to/g)].map((m) => m[1]);
    const starts = (out: string) => [...out.matchAll(/runs flow (\S+) version/g)].map((m) => m[1]);
    // a handed over exactly the 8 flows it no longer holds, each once; b and c started 4 each, once
    expect(moves(a.output()).sort()).toEqual(flows.filter((f) => final[f] !== 'a'));
    expect(starts(a.output()).sort()).toEqual(flows);
    expect(starts(b.output()).sort()).toEqual(flows.filter((f) => final[f] === 'b'));
    expect(starts(c.output()).sort()).toEqual(flows.filter((f) => final[f] === 'c'));
    expect(moves(b.output()).concat(moves(c.output()))).toEqual([]);
  }, 120_000);

  it('SIGTERM: the agent hands its flows over at once (they commit and resume on the other agent) and exits 0', async () => {
    const { redis, stores, agent } = await cluster();
    const flows = range(4).map((i) => `term-${i}`);
    for (const f of flows) await stores.deploy(counterFlow(f, 1_000_000_000, 100));
    const a = agent('a');
    await eventually(async () => Object.values(await assignment(redis)).filter((o) => o === 'a').length === 4, 15_000, 'four flows on a');
    await a.waitFor(/runs flow term-4 version/);
    const b = agent('b');
    await eventually(async () => Object.values(await assignment(redis)).filter((o) => o === 'b').length === 2, 15_000, 'two flows moved to b');
    await eventually(async () => (await redis.hmget(K.statuses, ...flows)).every((x) => x !== null && JSON.parse(x).status === 'running'), 15_000, 'all running');
    const t0 = Date.now();
    a.signal('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/SIGTERM: handing the flows over/);
    await eventually(async () => {
      const s = await redis.hmget(K.statuses, ...flows);
      return s.every((x) => x !== null && JSON.parse(x).agent === 'b' && JSON.parse(x).status === 'running');
    }, LEASE, 'b to run every flow, well within a lease time');
    const handover = Date.now() - t0;
    // a stopped them cleanly: the positions it committed are where b started
    for (const f of flows) expect(await stores.position(f)).toBeGreaterThan(0);
    process.stderr.write(`cluster hand-over on SIGTERM: ${handover} ms for 2 flows (lease ${LEASE} ms)\n`);
  }, 60_000);

  it('fencing: an agent stopped past its lease (SIGSTOP) and continued is refused, says so and stops the flow; nothing lost, positions never go back', async () => {
    const { redis, stores, agent, dataDir } = await cluster();
    const COUNT = 4000;
    await stores.deploy(counterFlow('fenced', COUNT, 400));
    const a = agent('a');
    await a.waitFor(/runs flow fenced version 1 \(lease (\d+)\)/);
    const b = agent('b');
    // b is up before a stops: the lease time + 5 s below measures the take-over, not b's start on a loaded machine
    await b.waitFor(/joined the cluster/);
    await eventually(async () => (await stores.position('fenced')) > 400, 10_000, 'progress on a');
    const state = new Database(join(dataDir, 'sluice-state.db'), { readonly: true });
    closers.push(async () => state.close());
    const seen: { fence: number; position: number }[] = [];
    const sample = () => {
      const row = state.prepare('SELECT fence, positions FROM checkpoints WHERE flow = ?').get('fenced') as { fence: number; positions: string } | undefined;
      if (row) seen.push({ fence: row.fence, position: Number(JSON.parse(row.positions).gen ?? 0) });
    };
    const sampler = setInterval(sample, 20);
    closers.push(async () => clearInterval(sampler));
    a.signal('SIGSTOP');
    await b.waitFor(/runs flow fenced version 1 \(lease (\d+)\)/, LEASE + 5000);
    const aToken = Number(/runs flow fenced version 1 \(lease (\d+)\)/.exec(a.output())![1]);
    const bToken = Number(/runs flow fenced version 1 \(lease (\d+)\)/.exec(b.output())![1]);
    expect(bToken).toBeGreaterThan(aToken);
    // b commits under its token for a while, then a wakes up
    await eventually(() => seen.some((s) => s.fence === bToken), 5000, 'a commit by b');
    await new Promise((r) => setTimeout(r, 500));
    a.signal('SIGCONT');
    await a.waitFor(/lost the lease on flow fenced|checkpoint of flow fenced refused: lease token \d+ is older than/, 5000);
    await a.waitFor(/flow fenced: (failed|stopped) after/, 10_000);
    await eventually(async () => (await stores.position('fenced')) === COUNT, 30_000, 'the flow to finish on b');
    sample();
    clearInterval(sampler);
    // no commit of a's after b's first: the fence and the position never went back
    const firstB = seen.findIndex((s) => s.fence === bToken);
    expect(seen.slice(firstB).every((s) => s.fence === bToken)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i].position).toBeGreaterThanOrEqual(seen[i - 1].position);
    expect(stores.sinkRows('fenced')).toEqual(range(COUNT));
  }, 90_000);

  it('Redis stopped for 10 s: flows stop before their leases lapse (no writes while unlocked), all resume when it is back, nothing lost', async () => {
    const dir = tempDir('sluice-redis-');
    const own = await startRedis(dir);
    closers.push(() => own.stop());
    const { redis, stores, agent } = await cluster(own.url);
    redis.on('error', () => undefined);
    const COUNT = 5000;
    const flows = range(4).map((i) => `outage-${i}`);
    for (const f of flows) await stores.deploy(counterFlow(f, COUNT, 250));
    const a = agent('a');
    const b = agent('b');
    await eventually(async () => (await Promise.all(flows.map((f) => stores.position(f)))).every((p) => p > 300), 20_000, 'progress on every flow');
    await own.stop();
    const down = Date.now();
    // within the lease time (and the stop that follows), every flow has stopped writing
    await new Promise((r) => setTimeout(r, LEASE + 1000));
    const rowsThen = flows.map((f) => stores.sinkRows(f).length);
    const positionsThen = await Promise.all(flows.map((f) => stores.position(f)));
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - down))));
    expect(flows.map((f) => stores.sinkRows(f).length)).toEqual(rowsThen);
    expect(await Promise.all(flows.map((f) => stores.position(f)))).toEqual(positionsThen);
    // each flow's agent said why it stopped
    for (const f of flows) expect(a.output() + b.output()).toMatch(new RegExp(`lost the lease on flow ${f}, stopping it: lease \\d+ on flow:${f} expires at .* could not be extended`));
    const back = await startRedis(dir, own.port);
    closers.push(() => back.stop());
    await eventually(async () => (await Promise.all(flows.map((f) => stores.position(f)))).every((p) => p === COUNT), 60_000, 'every flow to resume and finish');
    for (const f of flows) expect(stores.sinkRows(f)).toEqual(range(COUNT));
  }, 120_000);

  it('sluice serve --cluster: deploy, status, logs, pause, resume and stop through the API reach the agent that runs the flow; GET /api/cluster', async () => {
    const { url, agent, dataDir } = await cluster();
    // the agent shares the server's data directory as its store
    const server = await startServer({ dataDir, args: ['--cluster', '--redis', url, '--lease-ms', String(LEASE)] });
    closers.push(() => server.stop());
    const a = agent('a');
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await server.fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return { status: res.status, json: (await res.json()) as any };
    };
    expect((await call('POST', '/api/flows', counterFlow('served', 1_000_000_000, 50))).status).toBe(201);
    expect((await call('POST', '/api/flows/served/deploy', {})).status).toBe(202);
    await eventually(async () => (await call('GET', '/api/flows/served/status')).json.status === 'running', 15_000, 'the flow running');
    const status = (await call('GET', '/api/flows/served/status')).json;
    expect(status.agent).toBe('a');
    await eventually(async () => (await call('GET', '/api/flows/served/status')).json.nodes.gen?.out > 0, 10_000, 'live counts');
    const logs = (await call('GET', '/api/flows/served/logs')).json as { message: string }[];
    expect(logs.some((l) => /^\[a\] deploying version 1/.test(l.message))).toBe(true);
    const view = (await call('GET', '/api/cluster')).json;
    expect(view.mode, JSON.stringify(view)).toBe('cluster');
    expect(view.leader).toBe('a');
    expect(view.agents.map((x: { name: string; alive: boolean; flows: string[] }) => [x.name, x.alive])).toEqual([['a', true]]);
    // what the editor's Cluster page shows of an agent
    const me = view.agents[0];
    expect(me.address).toMatch(/ pid \d+$/);
    expect(me.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(me.heartbeatAt).toBeGreaterThanOrEqual(me.aliveSince);
    expect(me.aliveSince).toBeGreaterThan(Date.now() - 120_000);
    for (const k of ['recordsPerSecond', 'cpu', 'memory']) expect(typeof me[k], k).toBe('number');
    expect(me.memory).toBeGreaterThan(1 << 20);
    // webhooks: the agent running the flow serves none (no --hooks-port): a clear 503, not "deploy it first"
    const hook = await server.fetch('/hooks/served/gen', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(hook.status).toBe(503);
    expect(((await hook.json()) as { error: string }).error).toMatch(/flow "served" runs on agent "a", which serves no webhooks: start the agents with --hooks-port/);
    await eventually(async () => (await call('GET', '/api/cluster')).json.agents[0].flows.includes('served'), 5000, 'the agent to report the flow');
    const flow = (await call('GET', '/api/cluster')).json.flows.find((f: { flowId: string }) => f.flowId === 'served');
    expect(flow.agent).toBe('a');
    expect(flow.lease.agent).toBe('a');
    expect(flow.lease.token).toBeGreaterThan(0);
    expect(flow.lease.ttlMs).toBeGreaterThan(0);
    expect((await call('POST', '/api/flows/served/pause')).status).toBe(200);
    await eventually(async () => (await call('GET', '/api/flows/served/status')).json.status === 'paused', 10_000, 'paused on the agent');
    expect((await call('POST', '/api/flows/served/resume')).status).toBe(200);
    await eventually(async () => (await call('GET', '/api/flows/served/status')).json.status === 'running', 10_000, 'running again');
    // a deploy from the start restarts the running flow on its agent and forgets its positions there
    expect((await call('POST', '/api/flows/served/deploy', { fromStart: true })).status).toBe(202);
    await a.waitFor(/deploying version 1 from the start/, 10_000);
    await eventually(async () => (await call('GET', '/api/flows/served/status')).json.status === 'running', 10_000, 'running from the start');
    const stopped = await call('POST', '/api/flows/served/stop');
    expect(stopped.status).toBe(200);
    expect(stopped.json.status).toBe('stopped');
    expect(a.output()).toMatch(/stopping flow served: no longer deployed/);
  }, 90_000);
});

describe('sluice agent and serve --cluster: bad input', () => {
  it('answers a missing or wrong flag with one line and exit code 2', async () => {
    const dir = tempDir('sluice-agent-cli-');
    const cases: [string[], RegExp][] = [
      [['agent'], /^sluice agent: --redis URL is required \(or SLUICE_REDIS_URL\)\n$/],
      [['agent', '--redis', 'redis://127.0.0.1:6379'], /^sluice agent: --store LOCATION is required/],
      [['agent', '--redis', 'redis://127.0.0.1:6379', '--store', dir, '--capacity', '0'], /--capacity must be a whole number of at least 1/],
      [['agent', '--redis', 'redis://127.0.0.1:1', '--store', dir, '--name', 'x'], /^sluice agent: --redis: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/],
      [['agent', '--redis', 'redis://:hunter2@127.0.0.1:1', '--store', dir], /^sluice agent: --redis: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/],
      [['serve', '--cluster', '--data', dir], /^sluice serve: --cluster needs --redis URL/],
      [['serve', '--redis', 'redis://127.0.0.1:6379'], /^sluice serve: --redis is for --cluster/],
    ];
    // the CLIs run at once (each is mostly a node start-up); each answer is checked on its own
    const answers = await Promise.all(cases.map(([args]) => runCli(args, { env: { SLUICE_REDIS_URL: '', SLUICE_STORE: '' } })));
    for (const [i, [args, re]] of cases.entries()) {
      const r = answers[i];
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toContain('hunter2');
    }
  }, 60_000);
});
