/**
 * Flows deployed on a cron schedule, through the `sluice serve` process: runs start at the due times, a
 * due time while a run is still going is skipped (never two runs at once), each run reads from the start
 * (or on from the last one with `from: committed`), the schedule shows the next times and the runs, a
 * stop ends it, and a restarted server takes the schedule up again. Bad cron and time zones are refused
 * with the field named.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callJson, serverForFile, startServer, type ServerProcess } from '../helpers/server-process.js';

const file = serverForFile();

const call = callJson;

const flow = (name: string, schedule: Record<string, unknown>, gen: Record<string, unknown>) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 5, schedule },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', ...gen } },
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` } },
  ],
  edges: [{ from: 'gen', to: 'out' }],
});

const written = (at: ServerProcess, name: string) => readFileSync(join(at.dataDir, 'files', `out-${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l).n as number);

describe('scheduled deployments', () => {
  it('run at the due times, skip a due time while a run goes on (never two at once), each from the start; stop ends the schedule', async () => {
    // every second; a run takes about 1.5 s (15 records at 10/s), so about every other due time is skipped
    expect((await call(file.server, 'POST', '/api/flows', flow('every', { cron: '* * * * * *' }, { count: 15, rate: 10 }))).status).toBe(201);
    const deployed = await call(file.server, 'POST', '/api/flows/every/deploy', {});
    expect(deployed.status).toBe(202);
    const first = (await call(file.server, 'GET', '/api/flows/every/schedule')).json;
    expect(first).toMatchObject({ flowId: 'every', cron: '* * * * * *', from: 'start', paused: false });
    expect(first.next.length).toBe(5);
    expect(Date.parse(first.next[1]) - Date.parse(first.next[0])).toBe(1000);

    await expect.poll(async () => (await call(file.server, 'GET', '/api/flows/every/schedule')).json.runs.filter((r: any) => r.status === 'completed').length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const stopped = await call(file.server, 'POST', '/api/flows/every/stop', {});
    expect(stopped.status).toBe(200);
    const view = await call(file.server, 'GET', '/api/flows/every/schedule');
    expect(view.status).toBe(404);

    const ns = written(file.server, 'every');
    const runs = Math.floor(ns.length / 15);
    // whole runs, each from the start: 1..15, 1..15, … (a run stopped mid-way may add a partial one)
    expect(ns.slice(0, runs * 15)).toEqual(Array.from({ length: runs * 15 }, (_, i) => (i % 15) + 1));
    const log = (await call(file.server, 'GET', '/api/flows/every/logs?limit=500')).json.map((l: any) => l.message).join('\n');
    expect(log).toMatch(/scheduled run skipped: the run started at .* is still going/);
  });

  it('records each run with its counts, never overlapping; `from: committed` reads on; a restarted server takes the schedule up again', async () => {
    const restarted = await startServer();
    try {
      expect((await call(restarted, 'POST', '/api/flows', flow('onward', { cron: '*/2 * * * * *', from: 'committed' }, { count: 30 }))).status).toBe(201);
      await call(restarted, 'POST', '/api/flows/onward/deploy', {});
      await expect.poll(async () => (await call(restarted, 'GET', '/api/flows/onward/schedule')).json.runs.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      const { runs } = (await call(restarted, 'GET', '/api/flows/onward/schedule')).json;
      // newest first; the first run wrote 30, the next ones nothing new (they read on from record 30)
      const done = runs.filter((r: any) => r.status === 'completed');
      expect(done.at(-1)).toMatchObject({ records: 30, errors: 0 });
      for (const r of done.slice(0, -1)) expect(r.records).toBe(0);
      for (let i = 0; i + 1 < done.length; i++) expect(Date.parse(done[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(done[i + 1].endedAt));
      expect(written(restarted, 'onward')).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

      // the server stops; started again on the same data, the schedule runs again
      await restarted.stop();
      const stoppedAt = Date.now();
      const again = await startServer({ cwd: restarted.cwd, dataDir: restarted.dataDir });
      try {
        const view = await call(again, 'GET', '/api/flows/onward/schedule');
        expect(view.status).toBe(200);
        expect(view.json).toMatchObject({ cron: '*/2 * * * * *', from: 'committed', paused: false });
        // the runs before the restart are kept (the checkpoint store holds them), newest first
        const before = (await call(again, 'GET', '/api/flows/onward/schedule')).json.runs as any[];
        const kept = new Set(before.map((r) => r.startedAt));
        for (const r of done) expect(kept.has(r.startedAt)).toBe(true);
        expect(before.find((r) => r.startedAt === done.at(-1).startedAt)).toMatchObject({ status: 'completed', records: 30 });
        // a run that was going when the server stopped reads interrupted, never running (runs the new server
        // started since, every 2 s, may be going)
        const earlier = before.filter((x) => Date.parse(x.startedAt) < stoppedAt && !done.some((d: any) => d.startedAt === x.startedAt));
        for (const r of earlier) expect(['completed', 'failed', 'stopped', 'interrupted']).toContain(r.status);
        await expect.poll(async () => (await call(again, 'GET', '/api/flows/onward/schedule')).json.runs.length, { timeout: 30_000 }).toBeGreaterThan(before.length);
        await call(again, 'POST', '/api/flows/onward/stop', {});
      } finally {
        await again.stop();
      }
    } finally {
      await restarted.stop().catch(() => undefined);
    }
  });

  it('refuses a cron it cannot read and an unknown time zone, naming the field', async () => {
    const bad = await call(file.server, 'POST', '/api/flows', flow('badcron', { cron: 'every hour' }, { count: 1 }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/settings\.schedule\.cron.*five or six space separated parts/);
    const tz = await call(file.server, 'POST', '/api/flows', flow('badtz', { cron: '0 * * * *', timezone: 'Mars/Olympus' }, { count: 1 }));
    expect(tz.status).toBe(400);
    expect(tz.json.details).toEqual([expect.objectContaining({ path: 'settings.schedule.timezone', message: expect.stringMatching(/^unknown time zone "Mars\/Olympus"/) })]);
    expect((await call(file.server, 'GET', '/api/flows/badcron/schedule')).status).toBe(404);
  });
});
