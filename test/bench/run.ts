import { mkdirSync, writeFileSync } from 'node:fs';
import { fmt, ratio, type BenchCase, type Figure } from './harness.js';
import { engineCases } from './cases/engine.js';
import { serverCases } from './cases/server.js';
import { denormalizeCases } from './cases/denormalize.js';
import { mysqlCases } from './cases/mysql.js';
import { aggregateCases } from './cases/aggregate.js';
import { editorCases } from './cases/editor.js';
import { postgresCases } from './cases/postgres.js';
import { postgresLanesCases } from './cases/postgres-lanes.js';
import { mongodbCases } from './cases/mongodb.js';
import { kafkaCases } from './cases/kafka.js';
import { messagingCases } from './cases/messaging.js';
import { clusterCases } from './cases/cluster.js';
import { storeCases } from './cases/stores.js';

const CASES: BenchCase[] = [...engineCases, ...serverCases, ...denormalizeCases, ...mysqlCases, ...aggregateCases, ...editorCases, ...postgresCases, ...postgresLanesCases, ...mongodbCases, ...kafkaCases, ...messagingCases, ...clusterCases, ...storeCases];

const filter = process.argv[2];
const results: Record<string, Figure[]> = {};
for (const c of CASES) {
  if (filter && !c.name.includes(filter)) continue;
  process.stdout.write(`\n■ ${c.name}: ${c.description}\n`);
  const figures = await c.run();
  results[c.name] = figures;
  for (const f of figures) {
    process.stdout.write(`  ${f.metric.padEnd(48)} ${fmt(f.value).padStart(12)} ${f.unit.padEnd(10)} ${ratio(f)}${f.note ? `  (${f.note})` : ''}\n`);
  }
}
mkdirSync('test-output', { recursive: true });
writeFileSync('test-output/bench.json', JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2));
