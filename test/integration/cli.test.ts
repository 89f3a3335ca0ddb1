import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli, startCli, until } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';

const flowYaml = (dir: string, { count = 2000, rate, code = '(v) => ({ ...v, double: v.n * 2 })', onError = 'dead-letter' }: { count?: number; rate?: number; code?: string; onError?: string } = {}) => `
apiVersion: sluice/v1
name: cli-test
settings: { batchSize: 100, onError: ${onError} }
nodes:
  - id: gen
    type: core.generate
    config: { dataset: counter, count: ${count}${rate ? `, rate: ${rate}` : ''} }
  - id: double
    type: core.map
    config:
      code: ${JSON.stringify(code)}
  - id: db
    type: sqlite.sink
    config: { path: ${join(dir, 'out.db')}, table: numbers, keys: [n] }
  - id: log
    type: file.sink
    config: { path: ${join(dir, 'out.jsonl')} }
edges:
  - { from: gen, to: double }
  - { from: double, to: db }
  - { from: double, to: log }
`;

const setup = (opts?: Parameters<typeof flowYaml>[1]) => {
  const dir = tempDir();
  const file = join(dir, 'flow.yaml');
  writeFileSync(file, flowYaml(dir, opts));
  return { dir, file, state: join(dir, 'state.db') };
};
const lines = (dir: string) => (existsSync(join(dir, 'out.jsonl')) ? readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').filter(Boolean) : []);
const dbRows = (dir: string) => {
  const db = new Database(join(dir, 'out.db'), { readonly: true });
  try {
    return db.prepare('SELECT n, double FROM numbers ORDER BY n').all() as { n: number; double: number }[];
  } finally {
    db.close();
  }
};

describe('sluice CLI', () => {
  it('run --json prints the final summary and exits 0', async () => {
    const { dir, file, state } = setup();
    const r = await runCli(['run', file, '--json', '--state', state]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.status).toBe('completed');
    expect(summary.nodes.gen).toEqual({ in: 0, out: 2000, errors: 0 });
    expect(summary.nodes.db.in).toBe(2000);
    expect(typeof summary.durationMs).toBe('number');
    expect(dbRows(dir)).toHaveLength(2000);
    expect(lines(dir)).toHaveLength(2000);
  });

  it('validate: exit 0 on a valid flow, 2 with every problem on stdout and one line on stderr on an invalid one', async () => {
    const { dir, file } = setup();
    expect((await runCli(['validate', file])).code).toBe(0);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(file, 'utf8').replace('type: core.map', 'type: core.mapp').replace('table: numbers', 'tabel: numbers'));
    const r = await runCli(['validate', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/nodes\[double\]\.type: unknown node type "core\.mapp".*\(line \d+\)/);
    expect(r.stdout).toMatch(/nodes\[db\]\.config: unknown field "tabel"/);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sluice: .*bad\.yaml: nodes\[double\]\.type: unknown node type "core\.mapp".*\(and \d+ more\)$/)]);
  });

  it('user errors exit 2 with one line on stderr', async () => {
    const missing = await runCli(['run', '/nonexistent/flow.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('sluice: cannot read flow /nonexistent/flow.yaml: no such file');
    const { dir } = setup();
    const bad = join(dir, 'syntax.yaml');
    writeFileSync(bad, 'apiVersion: sluice/v1\nnodes: [\n');
    const syntax = await runCli(['run', bad]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr.trim().split('\n')).toHaveLength(1);
    expect(syntax.stderr).toMatch(/YAML syntax error.*\(line \d+\)/);
    const flag = await runCli(['run', bad, '--preview', 'lots']);
    expect(flag.code).toBe(2);
    expect((await runCli(['frobnicate'])).code).toBe(2);
  });

  it('a missing environment variable is a user error naming the field', async () => {
    const { dir } = setup();
    const file = join(dir, 'env.yaml');
    writeFileSync(file, flowYaml(dir).replace(`path: ${join(dir, 'out.jsonl')}`, 'path: "${env:SLUICE_TEST_OUT}/x.jsonl"'));
    const r = await runCli(['run', file, '--state', join(dir, 'state.db'), '--quiet'], { env: { SLUICE_TEST_OUT: dir } });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'x.jsonl'))).toBe(true);
    const r2 = await runCli(['validate', file]);
    expect(r2.code).toBe(2);
    expect(r2.stdout).toMatch(/nodes\[log\]\.config\.path: environment variable SLUICE_TEST_OUT is not set/);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a failure at run time exits 1 with the node and the reason', async () => {
    const { file, state } = setup({ code: '(v) => { if (v.n === 150) throw new Error("bad n"); return v; }', onError: 'stop' });
    const r = await runCli(['run', file, '--state', state, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sluice: node double: Error: bad n \(record key \{"n":150\}/);
  });

  it('--preview reads a bounded sample, writes nothing and shows what sinks would write', async () => {
    const { dir, file, state } = setup();
    const r = await runCli(['run', file, '--preview', '5', '--state', state]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/db would write: 5 inserts, 0 updates, 0 deletes/);
    expect(r.stdout).toContain('{"n":3,"double":6}');
    expect(existsSync(join(dir, 'out.db'))).toBe(false);
    expect(existsSync(state)).toBe(false);
  });

  it('nodes --json lists the catalog with JSON Schemas', async () => {
    const r = await runCli(['nodes', '--json']);
    expect(r.code).toBe(0);
    const catalog = JSON.parse(r.stdout) as { type: string; configSchema: { properties: Record<string, unknown> } }[];
    const map = catalog.find((t) => t.type === 'core.map')!;
    expect(map.configSchema.properties.code).toMatchObject({ type: 'string' });
    expect(catalog.map((t) => t.type)).toEqual(expect.arrayContaining(['core.generate', 'file.source', 'file.sink', 'sqlite.source', 'sqlite.sink']));
  });

  it('SIGINT stops gracefully (exit 0) and the next run resumes: every record exactly once', async () => {
    const { dir, file, state } = setup({ count: 30_000, rate: 10_000 });
    const { child, done } = startCli(['run', file, '--state', state]);
    await until(() => lines(dir).length >= 3000, 20_000, 'records in the sink');
    child.kill('SIGINT');
    const first = await done;
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/SIGINT: stopping cli-test/);
    expect(first.stdout).toMatch(/cli-test: stopped/);
    const afterStop = lines(dir).length;
    expect(afterStop).toBeLessThan(30_000);
    const second = await runCli(['run', file, '--state', state, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).resumedFrom).toEqual({ gen: afterStop });
    const ns = lines(dir).map((l) => JSON.parse(l).n as number);
    expect(ns).toEqual(Array.from({ length: 30_000 }, (_, i) => i + 1));
  });

  it('after SIGKILL the next run resumes from the last commit: nothing lost, the idempotent sink exact', async () => {
    const { dir, file, state } = setup({ count: 30_000, rate: 10_000 });
    const { child, done } = startCli(['run', file, '--state', state]);
    await until(() => lines(dir).length >= 3000, 20_000, 'records in the sink');
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const second = await runCli(['run', file, '--state', state, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).resumedFrom.gen).toBeGreaterThan(0);
    const rows = dbRows(dir);
    expect(rows).toHaveLength(30_000);
    expect(rows.every((r) => r.double === r.n * 2)).toBe(true);
    // at-least-once: the append-only file may repeat the batches in flight at the kill, never miss one
    const seen = new Set(lines(dir).map((l) => JSON.parse(l).n as number));
    expect(seen.size).toBe(30_000);
  });
});
