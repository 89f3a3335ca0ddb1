/**
 * Messaging: nats.sink fed by core.generate and nats.source into a null sink, each against the plain
 * NATS client doing the same in a loop in the same run (publish with msgID and await every ack; consume
 * with an explicit ack per message), in messages/s. NATS_URL (default the machine's 127.0.0.1:4222),
 * BENCH_NATS_MESSAGES (default 100,000). And http.source in a real in-process server: requests/s at one
 * record per request (BENCH_HTTP_CLIENTS concurrent callers, default 32) and records/s at 1,000 per request.
 */
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';
import { NODE_TYPES } from '../../../nodes/catalog.js';
import { CONNECTORS } from '../../../nodes/connectors.js';
import { DeploymentManager } from '../../../runtime/deploy/manager.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { defineNode, type NodeType } from '../../../runtime/node-api.js';
import { NodeRegistry } from '../../../runtime/registry.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer } from '../../../server/server.js';
import { SqliteControlStore } from '../../../server/store/sqlite-control-store.js';
import { adminKey } from '../../helpers/auth.js';
import { tempDir } from '../../helpers/node-harness.js';
import { timed, type BenchCase, type Figure } from '../harness.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const N = Number(process.env.BENCH_NATS_MESSAGES ?? 100_000);
const CLIENTS = Number(process.env.BENCH_HTTP_CLIENTS ?? 32);

/** counts what it is given and drops it; `onCount` sees the running total */
const counters = new Map<string, { n: number; onCount?: (n: number) => void }>();
const nullSink = defineNode({
  type: 'bench.null',
  category: 'sink',
  title: 'Null',
  description: 'counts records and drops them',
  configSchema: z.object({ name: z.string() }).strict(),
  inputs: [{ name: 'in' }],
  outputs: [],
  create: (ctx) => ({
    kind: 'sink',
    async open() {},
    async write(records) {
      const c = counters.get(ctx.config.name)!;
      c.n += records.length;
      c.onCount?.(c.n);
    },
    async close() {},
  }),
});

const registry = () => new NodeRegistry([...NODE_TYPES, nullSink as NodeType], CONNECTORS);
const order = (i: number) => ({ id: i, customer_id: i % 1000, amount: (i % 10_000) / 100, status: ['new', 'paid', 'shipped'][i % 3], country: `C${i % 50}` });

async function natsFigures(): Promise<Figure[]> {
  const nc = await connect({ servers: NATS_URL, timeout: 3000 }).catch(() => undefined);
  if (!nc) return [{ metric: 'NATS not reachable', value: 0, unit: '', note: `no server at ${NATS_URL} (NATS_URL)` }];
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const tag = `B${process.pid}`;
  const stream = (s: string) => `${tag}_${s}`;
  const figures: Figure[] = [];
  try {
    // ---- publishing: the plain client, then nats.sink from core.generate
    await jsm.streams.add({ name: stream('PLAIN'), subjects: [`${tag}.plain`], storage: StorageType.File });
    const plainPub = await timed(async () => {
      for (let i = 0; i < N; i += 1000) {
        await Promise.all(Array.from({ length: Math.min(1000, N - i) }, (_, j) => js.publish(`${tag}.plain`, JSON.stringify(order(i + j)), { msgID: `${tag}-${i + j}` })));
      }
    });
    const sinkPlan = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'bench-nats-sink',
        connections: { jet: { type: 'nats', servers: [NATS_URL] } },
        nodes: [
          { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: N } },
          { id: 'out', type: 'nats.sink', config: { connection: 'jet', stream: stream('SINK'), subject: `${tag}.sink` } },
        ],
        edges: [{ from: 'gen', to: 'out' }],
      },
      registry(),
    );
    const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    const sinkMs = await timed(() => new FlowRun(sinkPlan, { store }).run());
    const stored = (await jsm.streams.info(stream('SINK'))).state.messages;
    figures.push({
      metric: 'nats.sink from core.generate',
      value: N / (sinkMs / 1000),
      unit: 'msg/s',
      baseline: { label: 'plain client publish+ack in a loop', value: N / (plainPub / 1000) },
      note: `${stored} stored`,
    });

    // ---- consuming: the plain client (explicit ack each), then nats.source into a null sink
    await jsm.consumers.add(stream('PLAIN'), { durable_name: 'plain', ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000 });
    const plainSub = await timed(async () => {
      const consumer = await js.consumers.get(stream('PLAIN'), 'plain');
      const msgs = await consumer.consume({ max_messages: 2000 });
      let n = 0;
      for await (const m of msgs) {
        m.ack();
        if (++n >= N) break;
      }
      await msgs.close();
    });
    counters.set('nats', { n: 0 });
    const sourcePlan = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'bench-nats-source',
        connections: { jet: { type: 'nats', servers: [NATS_URL] } },
        nodes: [
          { id: 'in', type: 'nats.source', config: { connection: 'jet', stream: stream('SINK'), durable: 'bench' } },
          { id: 'out', type: 'bench.null', config: { name: 'nats' } },
        ],
        edges: [{ from: 'in', to: 'out' }],
      },
      registry(),
    );
    const run = new FlowRun(sourcePlan, { store });
    const sourceMs = await timed(async () => {
      const all = new Promise<void>((resolve) => (counters.get('nats')!.onCount = (n) => n >= stored && resolve()));
      const done = run.run();
      await all;
      run.stop();
      await done;
    });
    figures.push({
      metric: 'nats.source into a null sink',
      value: stored / (sourceMs / 1000),
      unit: 'msg/s',
      baseline: { label: 'plain client consume+ack in a loop', value: N / (plainSub / 1000) },
      note: 'the flow\'s time includes connecting and creating its consumer',
    });
    await store.close();
  } finally {
    for (const s of ['PLAIN', 'SINK']) await jsm.streams.delete(stream(s)).catch(() => undefined);
    await nc.close();
  }
  return figures;
}

async function httpFigures(): Promise<Figure[]> {
  const dir = tempDir();
  const store = new SqliteControlStore(join(dir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
  const server = createSluiceServer({ registry: registry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
  const figures: Figure[] = [];
  try {
    const url = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
    const admin = await adminKey(server);
    const h = { ...admin.headers, 'content-type': 'application/json' };
    counters.set('http', { n: 0 });
    await fetch(`${url}/api/flows`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({
        apiVersion: 'sluice/v1',
        name: 'bench-hook',
        nodes: [
          { id: 'hook', type: 'http.source', config: {} },
          { id: 'out', type: 'bench.null', config: { name: 'http' } },
        ],
        edges: [{ from: 'hook', to: 'out' }],
      }),
    });
    await fetch(`${url}/api/flows/bench-hook/deploy`, { method: 'POST', headers: h, body: '{}' });
    while (!server.context.manager.endpoints.handler('bench-hook', 'hook')) await new Promise((r) => setTimeout(r, 10));
    const hook = `${url}/hooks/bench-hook/hook`;
    const send = async (body: string) => {
      for (;;) {
        const res = await fetch(hook, { method: 'POST', headers: h, body });
        await res.arrayBuffer();
        if (res.status === 202) return;
        if (res.status !== 429) throw new Error(`webhook answered ${res.status}`);
      }
    };
    // the server's own cost of a request, as a baseline: GET /api/health with the same callers
    let healthNext = 0;
    const healthRequests = 2000;
    const healthMs = await timed(() =>
      Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (healthNext++ < healthRequests) await (await fetch(`${url}/api/health`, { headers: h })).arrayBuffer();
        }),
      ),
    );
    const healthRate = healthRequests / (healthMs / 1000);
    for (const perRequest of [1, 1000]) {
      const requests = perRequest === 1 ? 5000 : 100;
      const body = perRequest === 1 ? JSON.stringify(order(1)) : JSON.stringify(Array.from({ length: perRequest }, (_, i) => order(i)));
      let next = 0;
      const ms = await timed(() =>
        Promise.all(
          Array.from({ length: Math.min(CLIENTS, requests) }, async () => {
            while (next++ < requests) await send(body);
          }),
        ),
      );
      figures.push({
        metric: `http.source, ${perRequest} record(s) per request: requests`,
        value: requests / (ms / 1000),
        unit: 'req/s',
        baseline: { label: 'GET /api/health, same callers', value: healthRate },
        note: `${CLIENTS} concurrent callers, each 202 after the commit`,
      });
      figures.push({ metric: `http.source, ${perRequest} record(s) per request: records`, value: (requests * perRequest) / (ms / 1000), unit: 'records/s' });
    }
  } finally {
    await server.close();
    await checkpoints.close();
    store.close();
  }
  return figures;
}

export const messagingCases: BenchCase[] = [
  { name: 'nats', description: `nats.sink and nats.source, ${N.toLocaleString('en-US')} messages, against the plain client in a loop`, run: natsFigures },
  { name: 'http.source', description: 'webhook requests/s and records/s at 1 and 1,000 records per request (real server, API key)', run: httpFigures },
];
