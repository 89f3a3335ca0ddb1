/**
 * A cluster of real processes for the cluster tests: `sluice agent`s (bin/sluice.js over dist/: build
 * first) over one shared data directory (SQLite stores, as `--store DIR` opens them) and a Redis.
 * Flows are written into the shared control store directly, as the server would write them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { createRegistry } from '../../nodes/catalog.js';
import { K } from '../../runtime/cluster/redis-keys.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { canonicalDocument } from '../../server/flow-format.js';
import type { ControlStore } from '../../server/store/control-store.js';
import { STATE_DB } from '../../server/store/data-files.js';
import { openControlStore } from '../../server/store/open-control-store.js';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../server/package-root.js';

/** bin/sluice.js of the checkout, from the sources or from dist/ (the benchmarks run from there) */
const BIN = join(packageRoot(fileURLToPath(import.meta.url)), 'bin', 'sluice.js');

export interface AgentProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** resolves once its output matches `re` (rejects after ms) */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

export function startAgent(opts: { name: string; redis: string; store: string; leaseMs?: number; capacity?: number; env?: Record<string, string>; args?: string[] }): AgentProcess {
  const args = [BIN, 'agent', '--name', opts.name, '--redis', opts.redis, '--store', opts.store, '--lease-ms', String(opts.leaseMs ?? 2000), ...(opts.args ?? [])];
  if (opts.capacity) args.push('--capacity', String(opts.capacity));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_SECRET_KEY: '', ...opts.env } });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    name: opts.name,
    child,
    output: () => out,
    exited,
    async waitFor(re, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`agent ${opts.name}: no line matching ${re} within ${ms} ms:\n${out.split('\n').slice(-30).join('\n')}`);
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`agent ${opts.name} exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    signal(sig) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
}

/** a paced counter flow into its own SQLite table (an idempotent sink: upsert by n) */
export function counterFlow(name: string, count: number, rate: number, extra: { weight?: number } = {}) {
  return {
    apiVersion: 'sluice/v1',
    name,
    settings: { batchSize: 50, ...(extra.weight ? { weight: extra.weight } : {}) },
    nodes: [
      { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count, rate } },
      { id: 'sink', type: 'sqlite.sink', config: { path: `${name}.db`, table: 'counter', keys: ['n'] } },
    ],
    edges: [{ from: 'gen', to: 'sink' }],
  };
}

/** the shared stores as the agents open them */
export function sharedStores(dataDir: string) {
  const control: ControlStore = openControlStore(dataDir, createRegistry(), { SLUICE_SECRET_KEY: '' });
  const checkpoints = new SqliteCheckpointStore(join(dataDir, STATE_DB));
  return {
    control,
    checkpoints,
    dataDir,
    async deploy(doc: { name: string }): Promise<void> {
      const existing = await control.getFlow(doc.name);
      const flow = existing ? await control.saveFlow(doc.name, undefined, (v) => canonicalDocument(doc, v)) : await control.createFlow(doc.name, (v) => canonicalDocument(doc, v));
      await control.setDeployment(doc.name, flow!.version, 'running');
    },
    async position(flow: string): Promise<number> {
      return Number((await checkpoints.load(flow))?.positions.gen ?? 0);
    },
    /** the rows the flow's sink holds: n values in order */
    sinkRows(flow: string): number[] {
      const db = new Database(join(dataDir, 'files', `${flow}.db`), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT n FROM counter ORDER BY n').all() as { n: number }[]).map((r) => r.n);
      } catch {
        return [];
      } finally {
        db.close();
      }
    },
    async close() {
      await checkpoints.close();
      await control.close();
    },
  };
}

/** what the leader assigned: flow id → agent */
export async function assignment(redis: Redis): Promise<Record<string, string>> {
  return redis.hgetall(K.assignment);
}

/** resolves once `check` answers true, polling every 50 ms */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * A cluster test file's fixture: `cluster()` gives a fresh Redis database (every key of the cluster gone)
 * and a fresh shared data directory; `cleanup()` (afterEach) kills the agents it started and closes the
 * rest. Each test file names its own Redis databases in `dbs`, so files that run at once never share keys
 * (cluster.test.ts 1–8, cluster-chaos.test.ts 9, redis-lock 13, cluster-postgres 14, cluster-page 15).
 */
export function clusterFixture(redisUrl: string, dbs: number[], leaseMs: number) {
  const agents: AgentProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  let next = 0;
  async function cluster(base = redisUrl) {
    const db = dbs[next++ % dbs.length];
    const url = `${base.replace(/\/\d*$/, '')}/${db}`;
    const redis = new Redis(url);
    await redis.flushdb();
    const data = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
    const stores = sharedStores(join(data, 'data'));
    closers.push(() => redis.quit(), () => stores.close());
    const agent = (name: string, extra: { capacity?: number } = {}) => {
      const a = startAgent({ name, redis: url, store: join(data, 'data'), leaseMs, ...extra });
      agents.push(a);
      return a;
    };
    return { url, redis, stores, agent, dataDir: join(data, 'data') };
  }
  async function cleanup() {
    for (const a of agents.splice(0)) {
      a.signal('SIGKILL');
      a.signal('SIGCONT');
      await a.exited;
    }
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  }
  return { cluster, cleanup, closers };
}

