/**
 * Dead letters you can act on, through the `sluice serve` process: filtered by node and error, replayed
 * after the code was fixed and deployed again (each record once more through the node it failed in and
 * on to the sink; one that fails again is a new dead letter with its new error), discarded, audited;
 * a replay that would pass through an aggregate is refused and replays nothing.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callJson, serverForFile } from '../helpers/server-process.js';

const file = serverForFile();

const call = (method: string, path: string, body?: unknown) => callJson(file.server, method, path, body);

const flow = (name: string, code: string, extra: { aggregate?: boolean } = {}) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 20 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 50 } },
    { id: 'fn', type: 'core.map', config: { code } },
    ...(extra.aggregate ? [{ id: 'agg', type: 'core.aggregate', config: { groupBy: ['ok'], measures: [{ name: 'n', fn: 'count' }] } }] : []),
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` } },
  ],
  edges: extra.aggregate
    ? [
        { from: 'gen', to: 'fn' },
        { from: 'fn', to: 'agg' },
        { from: 'agg', to: 'out' },
      ]
    : [
        { from: 'gen', to: 'fn' },
        { from: 'fn', to: 'out' },
      ],
});

const written = (name: string) => readFileSync(join(file.server.dataDir, 'files', `out-${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

async function completed(name: string) {
  await expect.poll(async () => (await call('GET', `/api/flows/${name}/status`)).json.status, { timeout: 30_000 }).toMatch(/^completed$/);
}

describe('dead letters', () => {
  it('are filtered, replayed after the fix through the node they failed in, failed again into new letters, discarded, and audited', async () => {
    const broken = "(v) => { if (v.n % 10 === 0) throw new Error('Tens ' + v.n); return { n: v.n } }";
    expect((await call('POST', '/api/flows', flow('dl', broken))).status).toBe(201);
    await call('POST', '/api/flows/dl/deploy', {});
    await completed('dl');
    expect(written('dl').length).toBe(45);
    const letters = (await call('GET', '/api/flows/dl/dead-letters')).json;
    expect(letters.map((l: any) => [l.node, l.error, l.record.value.n])).toEqual([10, 20, 30, 40, 50].map((n) => ['fn', expect.stringContaining(`Tens ${n}`), n]));
    expect((await call('GET', '/api/flows/dl/dead-letters?error=tens%202')).json.map((l: any) => l.record.value.n)).toEqual([20]);
    expect((await call('GET', '/api/flows/dl/dead-letters?node=gen')).json).toEqual([]);
    const id = (n: number) => letters.find((l: any) => l.record.value.n === n).id as number;

    // the fix, deployed: it still fails on 50
    const fixed = "(v) => { if (v.n === 50) throw new Error('still ' + v.n); return { n: v.n, fixed: true } }";
    const current = (await call('GET', '/api/flows/dl')).json;
    expect((await call('PUT', '/api/flows/dl', { baseVersion: current.version, document: flow('dl', fixed) })).status).toBe(200);
    await call('POST', '/api/flows/dl/deploy', {});
    await completed('dl');

    const replay = await call('POST', '/api/flows/dl/dead-letters/replay', { ids: [id(10), id(20), id(30), 987654] });
    expect(replay.json).toEqual({ replayed: 3, failedAgain: 0, status: 'completed', missing: [987654] });
    expect(written('dl').slice(45)).toEqual([10, 20, 30].map((n) => ({ n, fixed: true })));

    const again = await call('POST', '/api/flows/dl/dead-letters/replay', { ids: [id(50)] });
    expect(again.json).toMatchObject({ replayed: 1, failedAgain: 1 });
    const left = (await call('GET', '/api/flows/dl/dead-letters')).json;
    expect(left.map((l: any) => [l.record.value.n, l.error])).toEqual([
      [40, expect.stringContaining('Tens 40')],
      [50, expect.stringContaining('still 50')],
    ]);
    // the record as it reached the node, without the error of its first try
    expect(left[1].record.value).toEqual({ n: 50 });

    expect((await call('POST', '/api/flows/dl/dead-letters/discard', { ids: [id(40)] })).json).toEqual({ discarded: 1 });
    expect((await call('GET', '/api/flows/dl/dead-letters')).json.map((l: any) => l.record.value.n)).toEqual([50]);

    const audit = (await call('GET', '/api/audit?action=flow.dead-letters')).json;
    expect(audit.map((e: any) => [e.action, e.target, e.details.replayed ?? e.details.discarded])).toEqual([
      ['flow.dead-letters.discard', 'dl', 1],
      ['flow.dead-letters.replay', 'dl', 1],
      ['flow.dead-letters.replay', 'dl', 3],
    ]);
  });

  it('refuses a replay that would pass through an aggregate, and bad bodies, naming what is wrong', async () => {
    const code = "(v) => { if (v.n === 7) throw new Error('seven'); return { n: v.n, ok: true } }";
    expect((await call('POST', '/api/flows', flow('dla', code, { aggregate: true }))).status).toBe(201);
    await call('POST', '/api/flows/dla/deploy', {});
    await completed('dla');
    const [letter] = (await call('GET', '/api/flows/dla/dead-letters')).json;
    const refused = await call('POST', '/api/flows/dla/dead-letters/replay', { ids: [letter.id] });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/replaying through fn would reach agg \(core\.aggregate\), which keeps state/);
    expect((await call('GET', '/api/flows/dla/dead-letters')).json.length).toBe(1);
    expect((await call('POST', '/api/flows/dla/dead-letters/replay', { ids: [] })).status).toBe(400);
    expect((await call('POST', '/api/flows/dla/dead-letters/discard', { ids: ['x'] })).status).toBe(400);
    expect((await call('POST', '/api/flows/nope/dead-letters/replay', { ids: [1] })).status).toBe(404);
  });
});
