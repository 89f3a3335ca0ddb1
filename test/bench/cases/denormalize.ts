/**
 * core.denormalize figures.
 * - nest: 200,000 orders + 1,000,000 order_lines (core.generate) folded into order documents, through a
 *   whole flow (aligned checkpoints of the node's state every second, as a deployed flow runs) and in the
 *   node alone, against grouping the same records with a plain Map in the same run.
 * - lookup: 200,000 orders enriched with their customer from a SQLite table of 20,000 customers, so
 *   about 90% of the lookups can be answered by the cache; records/s and queries per 1,000 records,
 *   against one query per record (a prepared statement) and a plain in-memory Map join.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRegistry } from '../../../nodes/catalog.js';
import { denormalize } from '../../../nodes/catalog.js';
import type { LookupTransform } from '../../../nodes/core/denormalize/lookup.js';
import type { NestTransform } from '../../../nodes/core/denormalize/nest.js';
import { datasetRecord, type Dataset } from '../../../nodes/core/datasets.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import type { NodeType } from '../../../runtime/node-api.js';
import type { SluiceRecord, Value } from '../../../runtime/records.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { makeContext } from '../../helpers/node-harness.js';
import { timed, type BenchCase } from '../harness.js';

const ORDERS = 200_000;
const LINES_PER_ORDER = 5;
const LINES = ORDERS * LINES_PER_ORDER;
const CUSTOMERS = 20_000;
const BATCH = 1000;
const OPTIONS = { seed: 1, customers: CUSTOMERS, linesPerOrder: LINES_PER_ORDER };
const type = denormalize as unknown as NodeType;
/**
 * The flow runs on the default settings.checkpointIntervalMs (1 s), which FlowRun stretches to ten times
 * the last checkpoint's duration: every checkpoint serialises the node's whole state (about 100 MB at the
 * end here, see the last figure). Before the stretching, 1 s meant the flow did little else (565 docs/s).
 */
const dir = () => mkdtempSync(join(tmpdir(), 'sluice-bench-'));

function batchesOf(dataset: Dataset, count: number): SluiceRecord[][] {
  const out: SluiceRecord[][] = [];
  for (let i = 1; i <= count; i += BATCH) {
    const batch: SluiceRecord[] = [];
    for (let j = i; j < i + BATCH && j <= count; j++) {
      const value = datasetRecord(dataset, j, OPTIONS);
      batch.push({ key: { id: value.id }, value, op: 'c', meta: {} });
    }
    out.push(batch);
  }
  return out;
}

/** a flow: generate orders and lines → nest → JSONL file; `checkpointIntervalMs` as FlowRun takes it */
async function nestFlow(d: string, checkpointIntervalMs?: number): Promise<{ ms: number; emitted: number; state: unknown }> {
  const store = new SqliteCheckpointStore(join(d, 'state.db'));
  const plan = compileFlow(
    {
      apiVersion: 'sluice/v1',
      name: 'bench-nest',
      nodes: [
        { id: 'orders', type: 'core.generate', config: { dataset: 'orders', count: ORDERS, customers: CUSTOMERS } },
        { id: 'lines', type: 'core.generate', config: { dataset: 'order_lines', count: LINES, linesPerOrder: LINES_PER_ORDER } },
        { id: 'nest', type: 'core.denormalize', config: { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' } },
        { id: 'out', type: 'file.sink', config: { path: join(d, 'docs.jsonl') } },
      ],
      edges: [
        { from: 'orders', to: 'nest', toPort: 'parent' },
        { from: 'lines', to: 'nest', toPort: 'child' },
        { from: 'nest', to: 'out' },
      ],
    },
    createRegistry(),
  );
  let summary!: Awaited<ReturnType<FlowRun['run']>>;
  const ms = await timed(async () => (summary = await new FlowRun(plan, { store, checkpointIntervalMs }).run()));
  if (summary.status !== 'completed') throw new Error(`bench flow ${summary.status}: ${summary.error}`);
  const saved = await store.load('bench-nest');
  await store.close();
  return { ms, emitted: summary.nodes.nest.out, state: saved?.state.nest };
}

/** the node alone, fed the batches a flow interleaves (one of orders, one of lines ...) */
async function nestNodeAlone(): Promise<{ ms: number; emitted: number }> {
  const orders = batchesOf('orders', ORDERS);
  const lines = batchesOf('order_lines', LINES);
  const node = (await denormalize.create(makeContext(type, { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' }))) as NestTransform;
  await node.open(undefined);
  let emitted = 0;
  const ms = await timed(async () => {
    for (let b = 0; b < Math.max(orders.length, lines.length); b++) {
      if (b < orders.length) emitted += (await node.process(orders[b], 'parent')).out.length;
      if (b < lines.length) emitted += (await node.process(lines[b], 'child')).out.length;
    }
  });
  await node.close();
  return { ms, emitted };
}

/** baseline: the same records grouped with a Map into the same documents, no engine, no state kept */
function plainGrouping(): number {
  const orders = batchesOf('orders', ORDERS);
  const lines = batchesOf('order_lines', LINES);
  return timedSync(() => {
    const byOrder = new Map<unknown, Value[]>();
    for (const batch of lines) {
      for (const r of batch) {
        const k = r.value!.order_id;
        const group = byOrder.get(k);
        if (group) group.push(r.value!);
        else byOrder.set(k, [r.value!]);
      }
    }
    const docs: Value[] = [];
    for (const batch of orders) for (const r of batch) docs.push({ ...r.value, lines: byOrder.get(r.value!.id) ?? [] });
    if (docs.length !== ORDERS) throw new Error('baseline lost documents');
  });
}

/** baseline for the flow: generate the same records, group them, write the documents as JSON Lines */
async function plainFlow(d: string): Promise<number> {
  return timed(async () => {
    const byOrder = new Map<unknown, Value[]>();
    for (let l = 1; l <= LINES; l++) {
      const v = datasetRecord('order_lines', l, OPTIONS);
      const group = byOrder.get(v.order_id);
      if (group) group.push(v);
      else byOrder.set(v.order_id, [v]);
    }
    const out = createWriteStream(join(d, 'plain.jsonl'));
    for (let i = 1; i <= ORDERS; i += BATCH) {
      let chunk = '';
      for (let j = i; j < i + BATCH && j <= ORDERS; j++) {
        chunk += `${JSON.stringify({ op: 'c', key: { id: j }, value: { ...datasetRecord('orders', j, OPTIONS), lines: byOrder.get(j) ?? [] } })}\n`;
      }
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(() => r()));
  });
}

function timedSync(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const perSec = (n: number, ms: number) => (n / ms) * 1000;

export const denormalizeCases: BenchCase[] = [
  {
    name: 'denormalize.nest',
    description: `${ORDERS.toLocaleString()} orders + ${LINES.toLocaleString()} order_lines folded into order documents, against a plain Map grouping`,
    async run() {
      const alone = await nestNodeAlone();
      const plainMs = plainGrouping();
      const d = dir();
      try {
        const flow = await nestFlow(d);
        const baselineMs = await plainFlow(d);
        // what one checkpoint of the final state costs: serialised and written by the checkpoint store
        const store = new SqliteCheckpointStore(join(d, 'one.db'));
        const checkpointMs = await timed(() => store.save('one', { positions: {}, state: { nest: flow.state } }, 0));
        await store.close();
        const stateMb = JSON.stringify(flow.state).length / 1e6;
        return [
          {
            metric: 'whole flow: order documents/s',
            value: perSec(ORDERS, flow.ms),
            unit: 'docs/s',
            baseline: { label: 'plain loop: generate, group with a Map, write JSONL', value: perSec(ORDERS, baselineMs) },
            note: `${flow.emitted.toLocaleString()} documents emitted, ${(flow.ms / 1000).toFixed(1)} s, default checkpoint interval (1 s, stretched to 10× the last checkpoint)`,
          },
          { metric: 'whole flow: documents emitted/s', value: perSec(flow.emitted, flow.ms), unit: 'docs/s', note: 'every version of every document' },
          {
            metric: 'node alone: order documents/s',
            value: perSec(ORDERS, alone.ms),
            unit: 'docs/s',
            baseline: { label: 'plain Map grouping', value: perSec(ORDERS, plainMs) },
            note: `${alone.emitted.toLocaleString()} documents emitted`,
          },
          { metric: 'one checkpoint of the final state', value: checkpointMs, unit: 'ms', note: `${stateMb.toFixed(0)} MB of JSON for ${(ORDERS + LINES).toLocaleString()} rows held` },
        ];
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'denormalize.lookup',
    description: `${ORDERS.toLocaleString()} orders enriched from a SQLite table of ${CUSTOMERS.toLocaleString()} customers (about 90% cache hits), against one query per record`,
    async run() {
      const d = dir();
      const path = join(d, 'ref.db');
      const db = new Database(path);
      db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, country TEXT, tier TEXT)');
      const insert = db.prepare('INSERT INTO customers VALUES (@id, @name, @email, @country, @tier)');
      db.transaction(() => {
        for (let i = 1; i <= CUSTOMERS; i++) insert.run(datasetRecord('customers', i, OPTIONS));
      })();
      db.close();
      const batches = batchesOf('orders', ORDERS);

      const node = (await denormalize.create(
        makeContext(type, {
          mode: 'lookup',
          as: 'customer',
          from: { type: 'sqlite', path, table: 'customers' },
          localKey: 'customer_id',
          foreignKey: 'id',
          cache: { maxEntries: CUSTOMERS, ttlMs: 600_000 },
        }),
      )) as LookupTransform;
      await node.open();
      const nodeMs = await timed(async () => {
        for (const b of batches) await node.process(b, 'in');
      });
      const stats = node.stats();
      await node.close();

      // baseline 1: one query per record, the same enrichment
      const ref = new Database(path, { readonly: true });
      const one = ref.prepare<[unknown], Value>('SELECT * FROM customers WHERE id = ?');
      const perRecordMs = await timed(() => {
        for (const b of batches) b.map((r) => ({ ...r, value: { ...r.value, customer: one.get(r.value!.customer_id) ?? null } }));
      });
      // baseline 2: the whole table in a Map (no database in the loop at all)
      const all = new Map((ref.prepare('SELECT * FROM customers').all() as Value[]).map((c) => [c.id, c]));
      const mapMs = await timed(() => {
        for (const b of batches) b.map((r) => ({ ...r, value: { ...r.value, customer: all.get(r.value!.customer_id) ?? null } }));
      });
      ref.close();
      rmSync(d, { recursive: true, force: true });
      return [
        { metric: 'records/s', value: perSec(ORDERS, nodeMs), unit: 'rec/s', baseline: { label: 'one query per record', value: perSec(ORDERS, perRecordMs) } },
        { metric: 'records/s against an in-memory Map join', value: perSec(ORDERS, nodeMs), unit: 'rec/s', baseline: { label: 'a Map of the whole table', value: perSec(ORDERS, mapMs) } },
        { metric: 'cache hit rate', value: (stats.hits / stats.lookups) * 100, unit: '%' },
        {
          metric: 'queries per 1,000 records',
          value: (stats.queries / ORDERS) * 1000,
          unit: 'queries',
          baseline: { label: 'one query per record', value: 1000 },
          note: `${stats.queries} queries for ${stats.misses.toLocaleString()} keys`,
        },
      ];
    },
  },
];
