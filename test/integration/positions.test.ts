/**
 * Positions you can see and rewind, through the `sluice serve` process and the CLI: a rewind replays
 * exactly the records after the new position; a paused flow is changed and stays paused; a running one
 * is refused; bad values name the node; every change is audited and in the history.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callJson, serverForFile } from '../helpers/server-process.js';
import { TEST_ADMIN } from '../helpers/auth.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';

const file = serverForFile();

const call = (method: string, path: string, body?: unknown) => callJson(file.server, method, path, body);

const flow = (name: string, gen: Record<string, unknown>) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 20 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', ...gen } },
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` } },
  ],
  edges: [{ from: 'gen', to: 'out' }],
});

// relative paths resolve in the server's first file root
const written = (name: string) => readFileSync(join(file.server.dataDir, 'files', `out-${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l).n as number);

async function statusOf(name: string, want: RegExp): Promise<any> {
  let last: any;
  await expect
    .poll(async () => {
      last = (await call('GET', `/api/flows/${name}/status`)).json;
      return last.status;
    }, { timeout: 30_000 })
    .toMatch(want);
  return last;
}

describe('positions of a deployed flow', () => {
  it('shows the committed position in words; a rewind replays exactly the records after it; a dry run changes nothing; audited with who and what', async () => {
    expect((await call('POST', '/api/flows', flow('rew', { count: 300 }))).status).toBe(201);
    expect((await call('POST', '/api/flows/rew/deploy', {})).status).toBe(202);
    await statusOf('rew', /^completed$/);
    const first = written('rew');
    expect(first.length).toBe(300);

    const seen = (await call('GET', '/api/flows/rew/positions')).json;
    expect(seen).toMatchObject({ flow: 'rew', status: 'completed', sources: [{ node: 'gen', type: 'core.generate', position: 300, text: 'after record 300' }], stateful: [] });
    expect(seen.history[0].positions).toEqual({ gen: 'after record 300' });

    const dry = await call('PUT', '/api/flows/rew/positions', { positions: { gen: 'after record 200' }, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toEqual({ applied: false, changes: [{ node: 'gen', from: 'after record 300', to: 'after record 200', effect: expect.stringMatching(/^rewind/) }], warnings: [] });
    expect((await call('GET', '/api/flows/rew/positions')).json.sources[0].position).toBe(300);

    const set = await call('PUT', '/api/flows/rew/positions', { positions: { gen: 'after record 200' } });
    expect(set.json).toMatchObject({ applied: true, changes: [{ node: 'gen', to: 'after record 200' }] });
    const after = (await call('GET', '/api/flows/rew/positions')).json;
    expect(after.sources[0].position).toBe(200);
    expect(after.history[0].note).toBe(`set by ${TEST_ADMIN.user}: gen → after record 200`);

    expect((await call('POST', '/api/flows/rew/deploy', {})).status).toBe(202);
    await statusOf('rew', /^completed$/);
    const all = written('rew');
    // exactly the records after the new position, once each, in order
    expect(all.slice(300)).toEqual(first.slice(200));

    const audit = (await call('GET', '/api/audit?action=flow.positions')).json;
    expect(audit.map((e: any) => [e.user, e.target, e.details.applied])).toEqual([
      [TEST_ADMIN.user, 'rew', true],
      [TEST_ADMIN.user, 'rew', false],
    ]);
    expect(audit[0].details.changes[0]).toMatchObject({ node: 'gen', from: 'after record 300', to: 'after record 200' });
  });

  it('refuses a running flow (409), changes a paused one which stays paused and reads from the new position on resume', async () => {
    expect((await call('POST', '/api/flows', flow('live', { count: 100_000, rate: 400 }))).status).toBe(201);
    await call('POST', '/api/flows/live/deploy', {});
    await expect.poll(async () => (await call('GET', '/api/flows/live/status')).json.nodes?.out?.in ?? 0, { timeout: 30_000 }).toBeGreaterThan(40);
    const running = await call('PUT', '/api/flows/live/positions', { positions: { gen: 5 } });
    expect(running.status).toBe(409);
    expect(running.json.error).toMatch(/flow live is running: pause or stop it before changing its positions/);

    await call('POST', '/api/flows/live/pause', {});
    await statusOf('live', /^paused$/);
    const set = await call('PUT', '/api/flows/live/positions', { positions: { gen: 'after record 5' } });
    expect(set.status).toBe(200);
    expect(set.json.changes[0]).toMatchObject({ to: 'after record 5', effect: expect.stringMatching(/^rewind/) });
    await statusOf('live', /^paused$/);
    const before = written('live').length;
    await call('POST', '/api/flows/live/resume', {});
    await expect.poll(() => written('live').length, { timeout: 30_000 }).toBeGreaterThan(before + 10);
    await call('POST', '/api/flows/live/stop', {});
    const ns = written('live');
    // the records before the pause, then from record 6 on
    expect(ns.slice(0, before)).toEqual(Array.from({ length: before }, (_, i) => ns[0] + i));
    expect(ns.slice(before, before + 5)).toEqual([6, 7, 8, 9, 10].map((n) => n - 1 + ns[0]));
  });

  it('answers bad values with a 400 that names the node, and an unknown flow with a 404', async () => {
    const bad = async (body: unknown) => {
      const r = await call('PUT', '/api/flows/rew/positions', body);
      expect(r.status).toBe(400);
      return r.json.error as string;
    };
    expect(await bad({ positions: { gen: 'soon' } })).toMatch(/positions\.gen: "soon" is not a core\.generate position/);
    expect(await bad({ positions: { out: 1 } })).toMatch(/positions\.out: node out \(file\.sink\) is not a source/);
    expect(await bad({ positions: { nope: 1 } })).toMatch(/positions\.nope: the flow has no node "nope"/);
    expect(await bad({ positions: 5 })).toMatch(/positions/);
    expect(await bad({ positions: {}, extra: true })).toMatch(/extra/);
    expect((await call('GET', '/api/flows/nope/positions')).status).toBe(404);
    expect((await call('PUT', '/api/flows/nope/positions', { positions: { gen: 1 } })).status).toBe(404);
  });
});

describe('sluice positions (headless)', () => {
  it('shows, dry-runs and sets the position in the --state file; the next run replays exactly what follows', async () => {
    const dir = tempDir();
    const file = join(dir, 'f.yaml');
    writeFileSync(file, JSON.stringify(flow('headless', { count: 60 })));
    const state = join(dir, 'state.db');
    expect((await runCli(['run', file, '--quiet', '--state', state], { cwd: dir })).code).toBe(0);
    const shown = await runCli(['positions', file, '--state', state], { cwd: dir });
    expect(shown.stdout).toMatch(/gen \(core\.generate\): after record 60/);
    const dry = await runCli(['positions', file, '--state', state, '--set', 'gen=after record 45', '--dry-run'], { cwd: dir });
    expect(dry.stdout).toMatch(/gen: after record 60 → after record 45\n {2}rewind/);
    expect(dry.stdout).toMatch(/dry run: nothing changed/);
    const set = await runCli(['positions', file, '--state', state, '--set', 'gen=45', '--json'], { cwd: dir });
    expect(JSON.parse(set.stdout)).toMatchObject({ applied: true, changes: [{ node: 'gen', to: 'after record 45' }] });
    expect((await runCli(['run', file, '--quiet', '--state', state], { cwd: dir })).code).toBe(0);
    const ns = readFileSync(join(dir, 'out-headless.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).n as number);
    expect(ns.slice(60)).toEqual(ns.slice(45, 60));
    const history = JSON.parse((await runCli(['positions', file, '--state', state, '--json'], { cwd: dir })).stdout).history;
    expect(history.map((h: any) => h.positions.gen)).toEqual(['after record 60', 'after record 45', 'after record 60']);
    const wrong = await runCli(['positions', file, '--state', state, '--set', 'gen'], { cwd: dir });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--set "gen": expected NODE=VALUE/);
  });
});
