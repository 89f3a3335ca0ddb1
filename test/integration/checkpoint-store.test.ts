/**
 * The checkpoint store, the same tests against both back-ends (SQLite file, PostgreSQL schema at PG_URL,
 * one fresh schema per test), opened through server/store/open-stores.ts; then what only the cluster's
 * PostgreSQL store does: the commit log `(flow, token, agent, at)`, and fencing between writers in
 * separate processes (test/helpers/checkpoint-writer.ts, run from dist/: `npx tsc -p tsconfig.json`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { FencedOffError, HISTORY_KEPT, SCHEDULED_RUNS_KEPT, type CheckpointStore } from '../../runtime/state/checkpoint-store.js';
import { PgCheckpointStore } from '../../runtime/state/pg-checkpoint-store.js';
import { openCheckpointStore } from '../../runtime/state/open-checkpoint-store.js';
import { openStores, splitSchema, type Stores } from '../../server/store/open-stores.js';
import { probePostgres, service } from '../helpers/services.js';
import { storeBackends, type StoreBackend } from '../helpers/store-backends.js';

const pgService = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const backends = storeBackends(pgService);
const postgres = backends.find((b) => b.name === 'postgres')!;
const registry = createRegistry();
const env = { SLUICE_SECRET_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=' };

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

async function openAt(location: string, agent?: string): Promise<Stores> {
  const s = await openStores(location, { registry, env, agent });
  opened.push(s);
  return s;
}

const letter = (n: number) => ({ node: 'map', error: `bad ${n}`, record: { key: n, value: { n, nested: { b: 2, a: 1 } }, op: 'c' as const, meta: {} } });

describe.each(backends)('CheckpointStore on $name', (b: StoreBackend) => {
  const open = async (): Promise<CheckpointStore> => (await openAt(b.location())).checkpoints;

  it.skipIf(!b.available)('saves positions and state together and loads them back; a flow never saved has none', async () => {
    const store = await open();
    expect(await store.load('f')).toBeUndefined();
    const before = Date.now();
    await store.save('f', { positions: { src: { lsn: '0/16B3748', table: 'orders' } }, state: { agg: { DE: 10, FR: 3 } } }, 1);
    await store.save('g', { positions: { src: 1 }, state: {} }, 1);
    const cp = (await store.load('f'))!;
    expect(cp).toMatchObject({ positions: { src: { lsn: '0/16B3748', table: 'orders' } }, state: { agg: { DE: 10, FR: 3 } } });
    expect(cp.updatedAt).toBeGreaterThanOrEqual(before);
    await store.save('f', { positions: { src: { lsn: '0/16B3800', table: 'orders' } }, state: {} }, 1);
    expect((await store.load('f'))!.positions).toEqual({ src: { lsn: '0/16B3800', table: 'orders' } });
    expect((await store.load('g'))!.positions).toEqual({ src: 1 });
  });

  it.skipIf(!b.available)('refuses a save with a token older than the newest it has seen, keeps the committed checkpoint; equal and newer tokens pass', async () => {
    const store = await open();
    await store.save('f', { positions: { a: 1 }, state: {} }, 5);
    await store.save('f', { positions: { a: 2 }, state: {} }, 5);
    await expect(store.save('f', { positions: { a: 3 }, state: { late: true } }, 4)).rejects.toThrow(FencedOffError);
    await expect(store.save('f', { positions: { a: 3 }, state: {} }, 4)).rejects.toThrow(/checkpoint of flow f refused: lease token 4 is older than 5/);
    expect((await store.load('f'))!).toMatchObject({ positions: { a: 2 }, state: {} });
    await store.save('f', { positions: { a: 4 }, state: {} }, 9);
    await expect(store.save('f', { positions: { a: 5 }, state: {} }, 5)).rejects.toThrow(FencedOffError);
    // fencing is per flow
    await store.save('other', { positions: { a: 1 }, state: {} }, 1);
  });

  it.skipIf(!b.available)('keeps scheduled runs per flow by start time, newest first, updated in place, the newest SCHEDULED_RUNS_KEPT of them', async () => {
    const store = await open();
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    await store.recordScheduledRun('f', { startedAt: at(1), status: 'running', records: 0, errors: 0 });
    await store.recordScheduledRun('g', { startedAt: at(1), status: 'failed', records: 0, errors: 0, error: 'no table' });
    await store.recordScheduledRun('f', { startedAt: at(1), endedAt: at(2), status: 'completed', records: 30, errors: 1 });
    await store.recordScheduledRun('f', { startedAt: at(3), status: 'running', records: 0, errors: 0 });
    expect(await store.scheduledRuns('f')).toEqual([
      { startedAt: at(3), status: 'running', records: 0, errors: 0 },
      { startedAt: at(1), endedAt: at(2), status: 'completed', records: 30, errors: 1 },
    ]);
    expect(await store.scheduledRuns('g')).toEqual([{ startedAt: at(1), status: 'failed', records: 0, errors: 0, error: 'no table' }]);
    for (let i = 10; i < 10 + SCHEDULED_RUNS_KEPT + 5; i++) await store.recordScheduledRun('f', { startedAt: at(i), status: 'completed', records: i, errors: 0 });
    const kept = await store.scheduledRuns('f', 1000);
    expect(kept.length).toBe(SCHEDULED_RUNS_KEPT);
    expect(kept[0].records).toBe(9 + SCHEDULED_RUNS_KEPT + 5);
    expect((await store.scheduledRuns('f', 2)).length).toBe(2);
  });

  it.skipIf(!b.available)('a reset forgets positions and state but not the fence', async () => {
    const store = await open();
    await store.save('f', { positions: { a: 7 }, state: { s: 1 } }, 3);
    await store.reset('f');
    expect(await store.load('f')).toBeUndefined();
    await expect(store.save('f', { positions: { a: 1 }, state: {} }, 2)).rejects.toThrow(FencedOffError);
    await store.save('f', { positions: { a: 1 }, state: {} }, 3);
    expect((await store.load('f'))!.positions).toEqual({ a: 1 });
  });

  it.skipIf(!b.available)('keeps a history of positions: a sample a second holding its newest commit, every change by hand with its note, newest first, bounded', async () => {
    const store = await open();
    expect(await store.history('f')).toEqual([]);
    for (let i = 1; i <= 5; i++) await store.save('f', { positions: { src: i }, state: { agg: i } }, 2);
    // five commits within a second: one entry, holding the newest
    expect((await store.history('f')).map((h) => h.positions)).toEqual([{ src: 5 }]);
    await store.rewrite('f', { positions: { src: 2 }, state: {} }, 'set by ann: src → 2');
    const cp = (await store.load('f'))!;
    expect(cp).toMatchObject({ positions: { src: 2 }, state: {} });
    // the rewrite kept the fence: an older owner is still refused, the current one commits
    await expect(store.save('f', { positions: { src: 9 }, state: {} }, 1)).rejects.toThrow(FencedOffError);
    await store.save('f', { positions: { src: 3 }, state: {} }, 2);
    const h = await store.history('f');
    // the commit after the change by hand starts a new entry: the note is never overwritten
    expect(h.map((e) => [e.positions, e.note])).toEqual([
      [{ src: 3 }, undefined],
      [{ src: 2 }, 'set by ann: src → 2'],
      [{ src: 5 }, undefined],
    ]);
    expect(h[0].at).toBeGreaterThanOrEqual(h[1].at);
    expect((await store.history('f', 1)).length).toBe(1);
    expect(await store.history('other')).toEqual([]);
    for (let i = 0; i < HISTORY_KEPT + 5; i++) await store.rewrite('g', { positions: { src: i }, state: {} }, `n${i}`);
    const kept = await store.history('g', 1000);
    expect(kept.length).toBe(HISTORY_KEPT);
    expect(kept[0].note).toBe(`n${HISTORY_KEPT + 4}`);
  });

  it.skipIf(!b.available)('keeps dead letters per flow, in order, with the record as it was, up to a limit', async () => {
    const store = await open();
    await store.deadLetter('f', [letter(1), letter(2)]);
    await store.deadLetter('g', [letter(9)]);
    await store.deadLetter('f', [letter(3)]);
    await store.deadLetter('f', []);
    const letters = await store.deadLetters('f');
    expect(letters.map((l) => [l.flow, l.node, l.error, l.record.value])).toEqual([1, 2, 3].map((n) => ['f', 'map', `bad ${n}`, { n, nested: { b: 2, a: 1 } }]));
    expect(JSON.stringify(letters[0].record.value)).toBe('{"n":1,"nested":{"b":2,"a":1}}');
    expect(letters[0]).toMatchObject({ id: expect.any(Number), at: expect.any(Number) });
    expect((await store.deadLetters('f', 2)).map((l) => l.error)).toEqual(['bad 1', 'bad 2']);
    expect((await store.deadLetters('g')).map((l) => l.error)).toEqual(['bad 9']);
  });

  it.skipIf(!b.available)('finds dead letters by node, by a part of the error (as typed, % and _ included) and by id, and discards them by id within the flow', async () => {
    const store = await open();
    await store.deadLetter('f', [letter(1), { ...letter(2), node: 'sink', error: 'Disk 100% full' }, letter(3)]);
    await store.deadLetter('g', [letter(4)]);
    const all = await store.deadLetters('f');
    expect((await store.deadLetters('f', 100, { node: 'sink' })).map((l) => l.error)).toEqual(['Disk 100% full']);
    expect((await store.deadLetters('f', 100, { error: 'BAD 3' })).map((l) => l.error)).toEqual(['bad 3']);
    expect((await store.deadLetters('f', 100, { error: '0% f' })).map((l) => l.node)).toEqual(['sink']);
    expect((await store.deadLetters('f', 100, { error: '_' })).length).toBe(0);
    expect((await store.deadLetters('f', 100, { ids: [all[0].id, all[2].id] })).map((l) => l.error)).toEqual(['bad 1', 'bad 3']);
    const other = (await store.deadLetters('g'))[0].id;
    // an id of another flow is not this flow's to discard
    expect(await store.discardDeadLetters('f', [all[0].id, other])).toBe(1);
    expect((await store.deadLetters('f')).map((l) => l.error)).toEqual(['Disk 100% full', 'bad 3']);
    expect((await store.deadLetters('g')).length).toBe(1);
  });
});

describe.skipIf(!postgres.available)('the PostgreSQL checkpoint store in a cluster', () => {
  it('appends every commit to checkpoint_commits (flow, token, agent, at, positions), and that table cannot be rewritten', async () => {
    const location = postgres.location();
    const a = (await openAt(location, 'agent-a')).checkpoints as PgCheckpointStore;
    const b = (await openAt(location, 'agent-b')).checkpoints as PgCheckpointStore;
    await a.save('f', { positions: { src: 1 }, state: {} }, 1);
    await a.save('f', { positions: { src: 2 }, state: {} }, 1);
    await b.save('f', { positions: { src: 3 }, state: {} }, 2);
    await expect(a.save('f', { positions: { src: 4 }, state: {} }, 1)).rejects.toThrow(FencedOffError);
    await a.save('g', { positions: { src: 1 }, state: {} }, 7);
    const commits = await b.commits('f');
    expect(commits.map((c) => [c.flow, c.token, c.agent, c.positions])).toEqual([
      ['f', 1, 'agent-a', { src: 1 }],
      ['f', 1, 'agent-a', { src: 2 }],
      ['f', 2, 'agent-b', { src: 3 }],
    ]);
    expect(commits.every((c, i) => i === 0 || c.at >= commits[i - 1].at)).toBe(true);
    expect((await a.commits()).map((c) => c.flow)).toEqual(['f', 'f', 'f', 'g']);
    await expect(postgres.raw(location, 'UPDATE checkpoint_commits SET token = 99')).rejects.toThrow(/append-only/);
    await expect(postgres.raw(location, 'DELETE FROM checkpoint_commits')).rejects.toThrow(/append-only/);
    // without the log, the fence still holds and nothing is appended
    const quiet = await openCheckpointStore(location, { agent: 'quiet', commitLog: false });
    opened.push(quiet);
    await quiet.save('f', { positions: { src: 5 }, state: {} }, 2);
    await expect(quiet.save('f', { positions: { src: 6 }, state: {} }, 1)).rejects.toThrow(FencedOffError);
    expect(await b.commits('f')).toHaveLength(3);
  });

  it('is the same store when the runtime opens it from the URL (openCheckpointStore) as when the server does', async () => {
    const location = postgres.location();
    const server = (await openAt(location, 'server')).checkpoints;
    await server.save('f', { positions: { n: 3 }, state: { s: 1 } }, 4);
    const agent = (await openCheckpointStore(location, { agent: 'agent-x' })) as PgCheckpointStore;
    opened.push(agent);
    expect(agent.agent).toBe('agent-x');
    expect((await agent.load('f'))!.positions).toEqual({ n: 3 });
    await expect(agent.save('f', { positions: { n: 4 }, state: {} }, 3)).rejects.toThrow(FencedOffError);
  });

  it('creates its schema once when many processes open it at the same time, and opens it again as it is', async () => {
    const location = postgres.location();
    const { url, schema } = splitSchema(location);
    const stores = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => PgCheckpointStore.open(url, { schema, agent: `a${i}` })));
    opened.push(...stores);
    await stores[0].save('f', { positions: { n: 1 }, state: {} }, 1);
    const again = await PgCheckpointStore.open(url, { schema });
    opened.push(again);
    expect((await again.load('f'))!.positions).toEqual({ n: 1 });
    const tables = await postgres.raw<{ table_name: string }>(location, 'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    expect(tables.map((t) => t.table_name)).toEqual(['checkpoint_commits', 'checkpoints', 'dead_letters', 'fences', 'position_history', 'scheduled_runs']);
  });

  it('lets many concurrent saves of two store instances with interleaved tokens commit only in token order', async () => {
    const location = postgres.location();
    const one = (await openAt(location, 'one')).checkpoints as PgCheckpointStore;
    const two = (await openAt(location, 'two')).checkpoints as PgCheckpointStore;
    // tokens 1..40 split between the two instances, all in flight at once
    const saves = Array.from({ length: 40 }, (_, i) => i + 1).map((token) =>
      (token % 2 ? one : two).save('f', { positions: { src: token }, state: {} }, token).then(
        () => ({ token, ok: true }),
        (err: unknown) => {
          if (!(err instanceof FencedOffError)) throw err;
          return { token, ok: false };
        },
      ),
    );
    const results = await Promise.all(saves);
    expect(results.find((r) => r.token === 40)!.ok).toBe(true); // the newest always commits
    const commits = await one.commits('f');
    expect(commits.map((c) => c.token)).toEqual(results.filter((r) => r.ok).map((r) => r.token).sort((x, y) => x - y));
    for (let i = 1; i < commits.length; i++) expect(commits[i].token).toBeGreaterThanOrEqual(commits[i - 1].token);
    expect((await one.load('f'))!.positions).toEqual({ src: 40 });
  });
});

// ---- two processes -----------------------------------------------------------------------------

const WRITER = resolve(import.meta.dirname, '../../dist/test/helpers/checkpoint-writer.js');

interface Writer {
  child: ChildProcessWithoutNullStreams;
  /** sends one command line, resolves with the reply line */
  send(line: string): Promise<string>;
  stderr(): string;
}

function startWriter(location: string, agent: string): Writer {
  const { url, schema } = splitSchema(location);
  const child = spawn(process.execPath, [WRITER, url, schema!, agent], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const replies: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => replies.shift()?.(line));
  const exited = new Promise<string>((res) => child.on('exit', (code) => res(`writer ${agent} exited (${code}): ${err}`)));
  return {
    child,
    send: (line) =>
      Promise.race([
        new Promise<string>((res) => {
          replies.push(res);
          child.stdin.write(`${line}\n`);
        }),
        exited.then((why) => Promise.reject(new Error(why))),
      ]),
    stderr: () => err,
  };
}

const writers: Writer[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) {
    w.child.stdin.end();
    if (w.child.exitCode === null) await new Promise((r) => w.child.once('exit', r));
  }
});

describe.skipIf(!postgres.available)('fencing between two processes', () => {
  it.skipIf(!existsSync(WRITER))('refuses the older owner once the newer one has committed, step by step', async () => {
    const location = postgres.location();
    const a = startWriter(location, 'proc-a');
    const b = startWriter(location, 'proc-b');
    writers.push(a, b);
    expect(await a.send('save f 1 1')).toBe('ok 1');
    expect(await a.send('save f 1 2')).toBe('ok 2');
    // b takes over with a newer lease
    expect(await b.send('save f 2 3')).toBe('ok 3');
    // a, paused past its lease, wakes up and tries to commit
    expect(await a.send('save f 1 4')).toBe('fenced 4');
    expect(await b.send('save f 2 4')).toBe('ok 4');
    // and a third owner later fences b off the same way
    expect(await a.send('save f 3 5')).toBe('ok 5');
    expect(await b.send('save f 2 6')).toBe('fenced 6');
    const store = (await openAt(location)).checkpoints as PgCheckpointStore;
    expect((await store.load('f'))!).toMatchObject({ positions: { src: 5 }, state: { by: 'proc-a' } });
    expect((await store.commits('f')).map((c) => [c.token, c.agent, c.positions.src])).toEqual([
      [1, 'proc-a', 1],
      [1, 'proc-a', 2],
      [2, 'proc-b', 3],
      [2, 'proc-b', 4],
      [3, 'proc-a', 5],
    ]);
  });

  it.skipIf(!existsSync(WRITER))('two processes saving at full speed with interleaved tokens: the older stops at its first refusal and never commits after the newer', async () => {
    const location = postgres.location();
    const older = startWriter(location, 'older');
    const newer = startWriter(location, 'newer');
    writers.push(older, newer);
    expect(await older.send('save f 10 0')).toBe('ok 0');
    // both run 300 saves at once; the newer's first commit fences the older off
    const [o, n] = await Promise.all([older.send('run f 10 1 300'), newer.send('run f 11 1 300')]);
    expect(n).toBe('done 300');
    expect(o).toMatch(/^(fenced \d+|done 300)$/);
    const store = (await openAt(location)).checkpoints as PgCheckpointStore;
    const commits = await store.commits('f');
    const firstNewer = commits.findIndex((c) => c.agent === 'newer');
    expect(firstNewer).toBeGreaterThan(0);
    // no commit of the older owner after the newer's first: never two owners committing at once
    expect(commits.slice(firstNewer).every((c) => c.agent === 'newer' && c.token === 11)).toBe(true);
    expect(commits.slice(0, firstNewer).every((c) => c.agent === 'older' && c.token === 10)).toBe(true);
    // each owner's positions only went forward
    for (const agent of ['older', 'newer']) {
      const ns = commits.filter((c) => c.agent === agent).map((c) => c.positions.src as number);
      expect(ns).toEqual([...ns].sort((x, y) => x - y));
    }
    // the older one stopped at its first refusal: the number it reports is its first uncommitted save
    if (o.startsWith('fenced')) expect(commits.filter((c) => c.agent === 'older').length).toBe(Number(o.split(' ')[1]));
    expect((await store.load('f'))!.positions).toEqual({ src: 300 });
  });
});
