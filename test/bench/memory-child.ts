/**
 * One process, one flow, one figure: runs `core.generate` (orders, COUNT records) → TRANSFORM →
 * `sqlite.sink` and prints `{ status, ms, maxRssMiB }` as JSON on stdout. Peak RSS is a property of a
 * whole process, so engine.rss-flat starts one of these per record count.
 *
 *   node dist/test/bench/memory-child.js COUNT [map|select] [externalMemoryStepMb]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';

const count = Number(process.argv[2]);
const transform = process.argv[3] === 'select' ? 'select' : 'map';
const stepMb = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: memory-child COUNT [map|select] [externalMemoryStepMb]\n');
  process.exit(2);
}
const TRANSFORMS = {
  map: { id: 'tx', type: 'core.map', config: { code: '(o) => ({ ...o, tax: Math.round(o.amount * 0.2 * 100) / 100 })' } },
  select: { id: 'tx', type: 'core.select', config: { drop: ['status'] } },
};
const dir = mkdtempSync(join(tmpdir(), 'sluice-memory-'));
const store = new SqliteCheckpointStore(join(dir, 'state.db'));
const plan = compileFlow(
  {
    apiVersion: 'sluice/v1',
    name: 'memory',
    nodes: [
      { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count } },
      TRANSFORMS[transform],
      { id: 'db', type: 'sqlite.sink', config: { path: join(dir, 'out.db'), table: 'orders' } },
    ],
    edges: [
      { from: 'gen', to: 'tx' },
      { from: 'tx', to: 'db' },
    ],
  },
  createRegistry(),
  {},
);
const began = Date.now();
const summary = await new FlowRun(plan, { store, externalMemoryStepMb: stepMb }).run();
const ms = Date.now() - began;
await store.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ status: summary.status, error: summary.error, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
