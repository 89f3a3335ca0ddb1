/**
 * The catalog lists every node type with its schema without loading a connector's driver: a process
 * loads the drivers of the nodes its flows use, on their first use (nodes/shared/lazy-module.ts). Runs
 * the built catalog (`npx tsc -p tsconfig.json`) in a fresh process, whose module cache says what loaded.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const CATALOG = fileURLToPath(new URL('../../dist/nodes/catalog.js', import.meta.url));
const DRIVERS = ['pg', 'pg-copy-streams', 'pg-logical-replication', 'mysql2', '@vlasky/zongji', 'mongodb', 'kafkajs', 'solclientjs', '@nats-io/transport-node', '@nats-io/jetstream'];

/** the drivers loaded in a fresh process after `script` (an ES module body, `catalog` imported) ran */
async function driversLoadedAfter(script: string): Promise<string[]> {
  const body = `
    import { createRequire } from 'node:module';
    const catalog = await import(${JSON.stringify(CATALOG)});
    ${script}
    const cache = Object.keys(createRequire(import.meta.url).cache);
    const drivers = ${JSON.stringify(DRIVERS)};
    console.log(JSON.stringify(drivers.filter((d) => cache.some((p) => p.includes('/node_modules/' + d + '/')))));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', body], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
}

describe('connector drivers load on first use', () => {
  it('importing the catalog and listing every type with its schema loads none', async () => {
    const loaded = await driversLoadedAfter(`
      const registry = catalog.createRegistry();
      if (registry.catalog().length < 20 || registry.connectors().length < 8) throw new Error('catalog incomplete');`);
    expect(loaded).toEqual([]);
  }, 30_000);

  it('a node that connects loads its driver (the check above can see one)', async () => {
    // a PostgreSQL connection test to a closed port: pg is loaded to try, and only pg
    const loaded = await driversLoadedAfter(`
      const r = await catalog.createRegistry().connector('postgres').test({ url: 'postgres://nobody@127.0.0.1:1/none' }, { timeoutMs: 2000 });
      if (r.ok) throw new Error('connected to port 1?');`);
    expect(loaded).toContain('pg');
    expect(loaded).not.toContain('mongodb');
    expect(loaded).not.toContain('kafkajs');
  }, 30_000);
});
