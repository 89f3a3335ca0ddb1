import { mkdirSync, writeFileSync } from 'node:fs';
import { fmt, ratio, selectCases, Unavailable, type BenchCase, type Figure } from './harness.js';
import { engineCases } from './cases/engine.js';
import { serverCases } from './cases/server.js';
import { denormalizeCases } from './cases/denormalize.js';
import { mysqlCases } from './cases/mysql.js';
import { schemaFullCases } from './cases/schema-full.js';
import { aggregateCases } from './cases/aggregate.js';
import { editorCases } from './cases/editor.js';
import { postgresCases } from './cases/postgres.js';
import { postgresLanesCases } from './cases/postgres-lanes.js';
import { mongodbCases } from './cases/mongodb.js';
import { kafkaCases } from './cases/kafka.js';
import { messagingCases } from './cases/messaging.js';
import { clusterCases } from './cases/cluster.js';
import { storeCases } from './cases/stores.js';
import { conversionCases } from './cases/conversion.js';

const CASES: BenchCase[] = [...engineCases, ...serverCases, ...denormalizeCases, ...mysqlCases, ...schemaFullCases, ...aggregateCases, ...editorCases, ...postgresCases, ...postgresLanesCases, ...mongodbCases, ...kafkaCases, ...messagingCases, ...clusterCases, ...storeCases, ...conversionCases];

const filter = process.argv[2];
const selected = selectCases(CASES, filter);
if (!selected.length) {
  process.stderr.write(`no bench case is named ${filter} or starts with ${filter}.; the cases:\n${CASES.map((c) => `  ${c.name}`).join('\n')}\n`);
  process.exit(2);
}
const results: Record<string, Figure[]> = {};
const skipped: Record<string, string> = {};
const failed: Record<string, string> = {};
for (const c of selected) {
  process.stdout.write(`\n■ ${c.name}: ${c.description}\n`);
  let figures: Figure[];
  try {
    figures = await c.run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof Unavailable) {
      skipped[c.name] = message;
      process.stdout.write(`\x1b[33m  !!! SKIPPED: ${message}\x1b[0m\n`);
    } else {
      failed[c.name] = message;
      process.stdout.write(`\x1b[31m  !!! FAILED: ${err instanceof Error ? (err.stack ?? message) : message}\x1b[0m\n`);
    }
    continue;
  }
  results[c.name] = figures;
  for (const f of figures) {
    process.stdout.write(`  ${f.metric.padEnd(48)} ${fmt(f.value).padStart(12)} ${f.unit.padEnd(10)} ${ratio(f)}${f.note ? `  (${f.note})` : ''}\n`);
  }
}
mkdirSync('test-output', { recursive: true });
writeFileSync('test-output/bench.json', JSON.stringify({ at: new Date().toISOString(), node: process.version, results, skipped, failed }, null, 2));
if (Object.keys(failed).length) process.exitCode = 1;
