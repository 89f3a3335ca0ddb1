/**
 * Kafka: kafka.sink fed by core.generate, and kafka.source into file.sink (JSON Lines), in messages/s,
 * each against the plain kafkajs client doing the same in a loop in the same run (the producer with the
 * sink's settings: idempotent, acks all, batches of the flow's size, the records JSON-encoded; the
 * consumer in a group, each value JSON-parsed and appended to a file per batch). BENCH_KAFKA_MESSAGES
 * sets the count (default 200,000 orders). Against KAFKA_BROKERS when set; otherwise a private broker
 * (test/setup/servers.ts, Kafka 4.4 in KRaft mode from Maven Central jars) is started for the run and
 * stopped after it; with neither Java nor Maven the case is skipped (Unavailable) and measures nothing.
 *
 * kafka.cdc-latency: PostgreSQL change → kafka.sink (envelope) → kafka.source → postgres.sink, two flows
 * in this process, at about 1,000 changes/s for BENCH_KAFKA_LATENCY_SECONDS (default 30): p50 and p99 of
 * the time from the source row's commit to the target row's write (both clock_timestamp() in the
 * database), against postgres.source → postgres.sink directly at the same rate (PG_URL, wal_level logical;
 * without it the case is skipped before a broker is started).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createRegistry } from '../../../nodes/catalog.js';
import { datasetRecord, keyOf } from '../../../nodes/core/datasets.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { kafkaToolsMissing, startKafka } from '../../setup/servers.js';
import { timed, Unavailable, type BenchCase, type Figure } from '../harness.js';
import { count, requirePostgres, runFlow as startFlow, withDatabase } from './postgres.js';
import type pg from 'pg';

const N = Number(process.env.BENCH_KAFKA_MESSAGES ?? 200_000);
const BATCH = 1000;
const PARTITIONS = 4;
/** dist/test/bench/cases → the repository (test/servers/kafka/pom.xml) */
const ROOT = resolve(import.meta.dirname, '../../../..');
const dir = () => mkdtempSync(join(tmpdir(), 'sluice-bench-kafka-'));

async function broker(): Promise<{ brokers: string; stop(): Promise<void> }> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS, stop: async () => undefined };
  const missing = kafkaToolsMissing();
  if (missing.length) {
    throw new Unavailable(`no KAFKA_BROKERS and ${missing.join(', ')} not installed to start a broker`);
  }
  const k = await startKafka(ROOT, join(dir(), 'kafka'));
  return { brokers: k.brokers, stop: k.stop };
}

async function createTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
}

/** the plain client: N generated orders, JSON-encoded, sent in batches of BATCH with the sink's settings */
async function plainProduce(kafka: Kafka, topic: string): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const ms = await timed(async () => {
    for (let i = 0; i < N; i += BATCH) {
      const messages = [];
      for (let j = i + 1; j <= Math.min(N, i + BATCH); j++) {
        const value = datasetRecord('orders', j, { seed: 1, customers: 1000, linesPerOrder: 5 });
        messages.push({ key: JSON.stringify(keyOf('orders', value)), value: JSON.stringify(value) });
      }
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
    }
  });
  await producer.disconnect();
  return ms;
}

/** the plain client: consume N messages in a group, parse each value, append them to a file per batch */
async function plainConsume(kafka: Kafka, topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-plain-${randomBytes(4).toString('hex')}` });
  const file = await open(join(dir(), 'plain.jsonl'), 'a');
  let seen = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const ms = await timed(async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        let out = '';
        for (const m of batch.messages) out += `${JSON.stringify(JSON.parse(m.value!.toString('utf8')))}\n`;
        await file.write(out);
        seen += batch.messages.length;
        if (seen >= N) done();
      },
    });
    await all;
  });
  await consumer.disconnect();
  await file.close();
  return ms;
}

const registry = createRegistry();

/** runs a flow until its sink `until` took N records (a Kafka source never ends: then it is stopped) */
async function runFlow(name: string, nodes: unknown[], edges: unknown[], brokers: string, stopAt?: string): Promise<number> {
  const d = dir();
  const store = new SqliteCheckpointStore(join(d, 'state.db'));
  const plan = compileFlow({ apiVersion: 'sluice/v1', name, settings: { batchSize: BATCH }, connections: { bus: { type: 'kafka', brokers: [brokers] } }, nodes, edges }, registry, { env: { D: d } });
  const run = new FlowRun(plan, { store });
  let status = '';
  const ms = await timed(async () => {
    const finished = run.run().then((s) => (status = s.status));
    if (stopAt) {
      while (run.stats()[stopAt]?.out < N && run.status !== 'failed') await new Promise((r) => setTimeout(r, 5));
      if (run.status !== 'failed') run.stop();
    }
    await finished;
  });
  await store.close();
  if (status !== (stopAt ? 'stopped' : 'completed')) throw new Error(`bench flow ${name} ${status}`);
  return ms;
}

const LATENCY_SECONDS = Number(process.env.BENCH_KAFKA_LATENCY_SECONDS ?? 30);
const LATENCY_RATE = 1000;

/**
 * commit → target write latency (ms) of the flows `flows(src, dst)` make: rows inserted into `src` at
 * LATENCY_RATE per second (a warm-up row first, left out of the figures), until all reached `dst`
 */
async function latency(db: pg.Client, name: string, flows: (src: string, dst: string) => Record<string, unknown>[]): Promise<{ p50: number; p99: number; rate: number }> {
  const [src, dst] = [`${name}_src`, `${name}_dst`];
  await db.query(`CREATE TABLE ${src} (id bigserial PRIMARY KEY, payload text, t0 timestamptz NOT NULL DEFAULT clock_timestamp())`);
  await db.query(`CREATE TABLE ${dst} (id bigint PRIMARY KEY, payload text, t0 timestamptz, t1 timestamptz NOT NULL DEFAULT clock_timestamp())`);
  const runs = flows(src, dst).map((doc) => startFlow(doc));
  const wait = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; !(await ok()); i++) {
      if (i > 2400) throw new Error(`${name}: ${what} within 120 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    // the warm-up row: the CDC slot streams and the consumer joined its group
    await new Promise((r) => setTimeout(r, 2000));
    await db.query(`INSERT INTO ${src} (payload) VALUES ('warm-up')`);
    await wait('the warm-up row did not arrive', async () => (await count(db, dst)) === 1);
    const start = Date.now();
    let written = 0;
    while (Date.now() - start < LATENCY_SECONDS * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * LATENCY_RATE) - written;
      if (due > 0) {
        await db.query(`INSERT INTO ${src} (payload) SELECT 'change ' || g FROM generate_series(1, ${due}) g`);
        written += due;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (Date.now() - start) / 1000;
    await wait('the target did not catch up', async () => (await count(db, dst)) === written + 1);
    const p = await db.query<{ p50: number; p99: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
         FROM (SELECT extract(epoch FROM t1 - t0) * 1000 AS ms FROM ${dst} WHERE payload <> 'warm-up') x`,
    );
    return { p50: Number(p.rows[0].p50), p99: Number(p.rows[0].p99), rate: written / seconds };
  } finally {
    for (const r of runs) r.run.stop();
    await Promise.all(runs.map((r) => r.done));
  }
}

export const kafkaCases: BenchCase[] = [
  {
    name: 'kafka',
    description: `kafka.sink from core.generate and kafka.source → file.sink, ${N.toLocaleString('en-US')} orders, ${PARTITIONS} partitions, against plain kafkajs loops`,
    async run(): Promise<Figure[]> {
      const b = await broker();
      try {
        const kafka = new Kafka({ brokers: b.brokers.split(','), clientId: 'bench', logLevel: logLevel.NOTHING });
        const [plainTopic, flowTopic] = [`bench-plain-${randomBytes(3).toString('hex')}`, `bench-flow-${randomBytes(3).toString('hex')}`];
        await createTopic(kafka, plainTopic);
        await createTopic(kafka, flowTopic);

        const plainOut = await plainProduce(kafka, plainTopic);
        const sinkMs = await runFlow(
          'bench-kafka-sink',
          [
            { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: N } },
            { id: 'out', type: 'kafka.sink', config: { connection: 'bus', topic: flowTopic } },
          ],
          [{ from: 'gen', to: 'out' }],
          b.brokers,
        );
        const plainIn = await plainConsume(kafka, plainTopic);
        const sourceMs = await runFlow(
          'bench-kafka-source',
          [
            { id: 'in', type: 'kafka.source', config: { connection: 'bus', topics: [flowTopic], group: `bench-flow-${randomBytes(4).toString('hex')}` } },
            { id: 'out', type: 'file.sink', config: { path: '${env:D}/flow.jsonl' } },
          ],
          [{ from: 'in', to: 'out' }],
          b.brokers,
          'out',
        );
        const rate = (ms: number) => N / (ms / 1000);
        return [
          { metric: 'kafka.sink from core.generate', value: rate(sinkMs), unit: 'msg/s', baseline: { label: 'plain kafkajs producer loop', value: rate(plainOut) } },
          { metric: 'kafka.source → file.sink', value: rate(sourceMs), unit: 'msg/s', baseline: { label: 'plain kafkajs consumer loop', value: rate(plainIn) }, note: 'both include joining the group' },
        ];
      } finally {
        await b.stop();
      }
    },
  },
  {
    name: 'kafka.cdc-latency',
    description: `PostgreSQL change → kafka.sink (envelope) → kafka.source → postgres.sink at ~${LATENCY_RATE.toLocaleString('en-US')} changes/s for ${LATENCY_SECONDS} s, against postgres.source → postgres.sink`,
    async run(): Promise<Figure[]> {
      await requirePostgres({ logical: true }); // before a broker is started for nothing
      const b = await broker();
      try {
        const kafka = new Kafka({ brokers: b.brokers.split(','), clientId: 'bench', logLevel: logLevel.NOTHING });
        const topic = `bench-cdc-${randomBytes(3).toString('hex')}`;
        await createTopic(kafka, topic);
        const bus = { bus: { type: 'kafka', brokers: b.brokers.split(',') } };
        return await withDatabase(async (db) => {
          const direct = await latency(db, 'direct', (src, dst) => [
            {
              name: 'bench-lat-direct',
              nodes: [
                { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: src, mode: 'cdc', heartbeatIntervalMs: 1000 } },
                { id: 'out', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: dst } },
              ],
              edges: [{ from: 'src', to: 'out' }],
            },
          ]);
          const via = await latency(db, 'viakafka', (src, dst) => [
            {
              name: 'bench-lat-in',
              connections: bus,
              nodes: [
                { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: src, mode: 'cdc', heartbeatIntervalMs: 1000 } },
                { id: 'out', type: 'kafka.sink', config: { connection: 'bus', topic, envelope: true } },
              ],
              edges: [{ from: 'src', to: 'out' }],
            },
            {
              name: 'bench-lat-out',
              connections: bus,
              nodes: [
                { id: 'in', type: 'kafka.source', config: { connection: 'bus', topics: [topic], group: `bench-lat-${randomBytes(4).toString('hex')}` } },
                { id: 'out', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: dst } },
              ],
              edges: [{ from: 'in', to: 'out' }],
            },
          ]);
          const note = `${Math.round(via.rate).toLocaleString('en-US')} changes/s through Kafka, ${Math.round(direct.rate).toLocaleString('en-US')}/s directly`;
          return [
            { metric: 'PostgreSQL → Kafka → PostgreSQL latency, p50', value: via.p50, unit: 'ms', baseline: { label: 'postgres.source → postgres.sink p50', value: direct.p50 }, note },
            { metric: 'PostgreSQL → Kafka → PostgreSQL latency, p99', value: via.p99, unit: 'ms', baseline: { label: 'postgres.source → postgres.sink p99', value: direct.p99 } },
          ];
        }, { logical: true });
      } finally {
        await b.stop();
      }
    },
  },
];
