/**
 * `sluice run` of a flow with `settings.schedule`: runs at the due times until SIGTERM (exit 0), never two
 * at once, each from the start; the runs are kept in the state file; `--once` runs it once and exits.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { runCli, startCli, until } from '../helpers/cli.js';

function flowFile(dir: string, count: number): string {
  const file = join(dir, 'every.yaml');
  writeFileSync(
    file,
    `apiVersion: sluice/v1
name: every
settings: { batchSize: 5, schedule: { cron: "* * * * * *" } }
nodes:
  - { id: gen, type: core.generate, config: { dataset: counter, count: ${count} } }
  - { id: out, type: file.sink, config: { path: ./out.jsonl } }
edges:
  - { from: gen, to: out }
`,
  );
  return file;
}

const lines = (dir: string) => {
  try {
    return readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).n as number);
  } catch {
    return [];
  }
};

describe('sluice run on a schedule', () => {
  it('runs at the due times until SIGTERM, each run from the start, one JSON summary per run; the runs are kept in the state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sched-cli-'));
    const file = flowFile(dir, 5);
    const { child, done } = startCli(['run', file, '--json', '--state', join(dir, 'state.db')], { cwd: dir });
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    await until(() => stdout.split('\n').filter((l) => l.startsWith('{')).length >= 2, 30_000, 'two scheduled runs');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/every runs on the schedule \* \* \* \* \* \* until stopped/);
    const summaries = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    for (const s of summaries.slice(0, 2)) expect(s).toMatchObject({ flow: 'every', status: 'completed', nodes: { out: { in: 5 } } });
    // whole runs, each from the start (the last one may have been stopped mid-way)
    const ns = lines(dir);
    expect(ns.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    const store = new SqliteCheckpointStore(join(dir, 'state.db'));
    try {
      const runs = await store.scheduledRuns('every');
      expect(runs.filter((x) => x.status === 'completed').length).toBeGreaterThanOrEqual(2);
      expect(runs.find((x) => x.status === 'completed')).toMatchObject({ records: 5, errors: 0, endedAt: expect.any(String) });
      for (let i = 0; i + 1 < runs.length; i++) expect(Date.parse(runs[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(runs[i + 1].endedAt ?? runs[i + 1].startedAt));
    } finally {
      await store.close();
    }
  });

  it('--once runs the flow once now and exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sched-cli-'));
    const file = flowFile(dir, 3);
    const r = await runCli(['run', file, '--once', '--quiet', '--state', join(dir, 'state.db')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every: completed/);
    expect(lines(dir)).toEqual([1, 2, 3]);
  });
});
