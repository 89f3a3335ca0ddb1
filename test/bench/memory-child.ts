/**
 * One process, one flow, one figure: runs `core.generate` (orders, COUNT records) → TRANSFORM →
 * `sqlite.sink` and prints `{ status, ms, maxRssMiB, withWorkersMiB }` as JSON on stdout (the second: this
 * process and its sandbox workers together, sampled every 50 ms). Peak RSS is a property of a
 * whole process, so engine.rss-flat starts one of these per record count.
 *
 *   node dist/test/bench/memory-child.js COUNT [map|select] [externalMemoryStepMb]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { shutdownSandbox } from '../../runtime/sandbox/sandbox.js';

/** RSS of a process and its children (Linux /proc), bytes; 0 where /proc cannot be read */
function treeRssBytes(pid: number): number {
  let total = 0;
  try {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    total += rss ? Number(rss[1]) * 1024 : 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) total += treeRssBytes(Number(child));
    }
  } catch {
    /* the process ended meanwhile */
  }
  return total;
}

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
// peak RSS of this process and its sandbox workers together, sampled (a child's peak is not in ours)
let peakSum = 0;
const sampler = setInterval(() => (peakSum = Math.max(peakSum, treeRssBytes(process.pid))), 50);
const began = Date.now();
const summary = await new FlowRun(plan, { store, externalMemoryStepMb: stepMb }).run();
const ms = Date.now() - began;
clearInterval(sampler);
peakSum = Math.max(peakSum, treeRssBytes(process.pid));
await shutdownSandbox();
await store.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ status: summary.status, error: summary.error, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, withWorkersMiB: peakSum / 1024 / 1024 })}\n`);
