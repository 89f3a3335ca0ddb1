/**
 * The server's host policy through its real HTTP API, in process: files only inside the roots (symlinks
 * followed, the data directory cut out), `${env:NAME}` only for allowed names and never in code. Real
 * files and real symlinks in a temp dir.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { Preview } from '../../runtime/deploy/preview.js';
import { FileRoots } from '../../runtime/files.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { canonicalDocument } from '../../server/flow-format.js';
import { serverPolicy, type ServerPolicyOptions } from '../../server/policy.js';
import { createSluiceServer } from '../../server/server.js';
import { adminKey } from '../helpers/auth.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { tempDir } from '../helpers/node-harness.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

interface Res {
  status: number;
  json: any;
}

/** a server over a data dir `<base>/data`; `policy` as `sluice serve` builds it from its flags */
async function start(opts: Partial<ServerPolicyOptions> = {}, env: Record<string, string> = {}) {
  const base = tempDir('sluice-confine-');
  const dataDir = join(base, 'data');
  mkdirSync(dataDir);
  const store = new SqliteControlStore(join(dataDir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dataDir, 'sluice-state.db'));
  const policy = serverPolicy({ dataDir, cwd: base, ...opts });
  const server = createSluiceServer({
    registry: createRegistry(),
    store,
    manager: new DeploymentManager({ store: checkpoints, cwd: base }),
    cwd: base,
    env,
    policy,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  closers.push(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });
  const url = `http://127.0.0.1:${port}`;
  const admin = await adminKey(server);
  /** every HTTP call of this file goes through here, as an admin */
  const api = async (method: string, path: string, body?: unknown): Promise<Res> => {
    const res = await fetch(url + path, {
      method,
      headers: body === undefined ? admin.headers : { ...admin.headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  return { base, dataDir, store, api, files: join(dataDir, 'files') };
}

const flow = (nodes: Record<string, unknown>[], edges: { from: string; to: string }[], name = 'f') => ({ apiVersion: 'sluice/v1', name, nodes, edges });
const source = (type: string, config: Record<string, unknown>) =>
  flow([{ id: 'src', type, config }, { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } }], [{ from: 'src', to: 'out' }]);
const sink = (type: string, config: Record<string, unknown>) =>
  flow([{ id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } }, { id: 'dst', type, config }], [{ from: 'gen', to: 'dst' }]);

/**
 * `doc` refused by validate (200 valid: false), save (400), test run (400) and deploy of a stored copy
 * (400), each with an issue at `where` whose message matches `message`.
 */
async function expectRefusedEverywhere(s: Awaited<ReturnType<typeof start>>, doc: Record<string, unknown>, where: string, message: RegExp) {
  const issue = expect.objectContaining({ path: where, message: expect.stringMatching(message), severity: 'error' });
  const validated = await s.api('POST', '/api/flows/validate', doc);
  expect(validated.json, JSON.stringify(validated.json)).toMatchObject({ valid: false, issues: expect.arrayContaining([issue]) });
  const saved = await s.api('POST', '/api/flows', doc);
  expect(saved).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
  expect(saved.json.error).toContain(where);
  const tested = await s.api('POST', '/api/flows/f/preview?wait=true', { document: doc });
  expect(tested).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
  // a flow stored before the policy was what it is now: deploy compiles it again and refuses
  await s.store.createFlow('f', (v) => canonicalDocument(doc, v));
  const deployed = await s.api('POST', '/api/flows/f/deploy', {});
  expect(deployed).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
  await s.store.deleteFlow('f');
}

describe('files: only inside the roots', () => {
  it('refuses /etc/passwd with the node and field named', async () => {
    const s = await start();
    await expectRefusedEverywhere(s, source('file.source', { path: '/etc/passwd', format: 'csv' }), 'nodes[src].config.path', /^\/etc\/passwd is outside the allowed file roots \(.*data\/files\)$/);
  });

  it('refuses ../ escapes and absolute paths elsewhere, for reading and writing', async () => {
    const s = await start();
    writeFileSync(join(s.dataDir, '..', 'secret.jsonl'), '{"a":1}\n');
    await expectRefusedEverywhere(s, source('file.source', { path: '../../secret.jsonl' }), 'nodes[src].config.path', /outside the allowed file roots/);
    const elsewhere = join(tempDir(), 'x.jsonl');
    await expectRefusedEverywhere(s, sink('file.sink', { path: elsewhere }), 'nodes[dst].config.path', /outside the allowed file roots/);
    await expectRefusedEverywhere(s, sink('file.sink', { path: 'sub/../../../x.jsonl' }), 'nodes[dst].config.path', /outside/);
  });

  it('follows symlinks: a file link and a directory link out of the root are refused', async () => {
    const s = await start();
    const outside = tempDir();
    writeFileSync(join(outside, 'data.jsonl'), '{"a":1}\n');
    symlinkSync(join(outside, 'data.jsonl'), join(s.files, 'link.jsonl'));
    symlinkSync(outside, join(s.files, 'dir'));
    symlinkSync(join(outside, 'not-yet.jsonl'), join(s.files, 'dangling.jsonl'));
    await expectRefusedEverywhere(s, source('file.source', { path: 'link.jsonl' }), 'nodes[src].config.path', /^link\.jsonl is outside/);
    await expectRefusedEverywhere(s, source('file.source', { path: 'dir/data.jsonl' }), 'nodes[src].config.path', /outside/);
    // a file that does not exist yet, under a linked directory or through a dangling link: where it would be created counts
    await expectRefusedEverywhere(s, sink('file.sink', { path: 'dir/new/out.jsonl' }), 'nodes[dst].config.path', /outside/);
    await expectRefusedEverywhere(s, sink('file.sink', { path: 'dangling.jsonl' }), 'nodes[dst].config.path', /outside/);
    expect(existsSync(join(outside, 'not-yet.jsonl'))).toBe(false);
  });

  it('never reaches the data directory, even when a root contains it', async () => {
    const s = await start({ files: ['.'] }); // the root is the data dir's parent
    const db = join(s.dataDir, 'sluice.db');
    await expectRefusedEverywhere(s, source('sqlite.source', { path: 'data/sluice.db', table: 'flows' }), 'nodes[src].config.path', /^data\/sluice\.db is inside the server's data directory/);
    await expectRefusedEverywhere(s, sink('sqlite.sink', { path: db, table: 'flows' }), 'nodes[dst].config.path', /inside the server's data directory/);
    await expectRefusedEverywhere(s, sink('file.sink', { path: 'data/sluice-state.db' }), 'nodes[dst].config.path', /data directory/);
    symlinkSync(s.dataDir, join(s.base, 'innocent'));
    await expectRefusedEverywhere(s, source('file.source', { path: 'innocent/sluice.db' }), 'nodes[src].config.path', /data directory/);
    // a file beside the data dir, in the root, is fine
    writeFileSync(join(s.base, 'ok.jsonl'), '{"a":1}\n');
    expect((await s.api('POST', '/api/flows/validate', source('file.source', { path: 'ok.jsonl' }))).json.valid).toBe(true);
  });

  it('refuses sqlite.sink into the control store and a denormalize lookup out of the root', async () => {
    const s = await start();
    await expectRefusedEverywhere(s, sink('sqlite.sink', { path: join(s.dataDir, 'sluice.db'), table: 'connections' }), 'nodes[dst].config.path', /data directory/);
    const lookup = flow(
      [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } },
        { id: 'enrich', type: 'core.denormalize', config: { mode: 'lookup', as: 'x', from: { type: 'sqlite', path: join(s.dataDir, 'sluice.db'), table: 'connections' }, localKey: 'id', foreignKey: 'id' } },
        { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } },
      ],
      [{ from: 'gen', to: 'enrich' }, { from: 'enrich', to: 'out' }],
    );
    await expectRefusedEverywhere(s, lookup, 'nodes[enrich].config.from.path', /data directory/);
  });

  it('refuses a TLS file and a sqlite connection outside the roots, in the flow and in a connection test', async () => {
    const s = await start();
    const pg = source('postgres.source', { url: 'postgres://u@127.0.0.1:1/db', tables: ['public.t'], tls: { ca: '/etc/passwd' } });
    await expectRefusedEverywhere(s, pg, 'nodes[src].config.tls.ca', /^\/etc\/passwd is outside the allowed file roots/);
    const viaConnection = { ...source('postgres.source', { connection: 'shop', tables: ['public.t'] }), connections: { shop: { type: 'postgres', url: 'postgres://u@127.0.0.1:1/db', tls: { key: '../../key.pem' } } } };
    await expectRefusedEverywhere(s, viaConnection, 'connections.shop.tls.key', /^\.\.\/\.\.\/key\.pem is outside the allowed file roots/);
    // a path inside a URL (sslrootcert) is not a field validation sees: the node refuses it when it opens
    const inUrl = source('postgres.source', { url: 'postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/etc/passwd', tables: ['public.t'] });
    const run = await s.api('POST', '/api/flows/f/preview?wait=true', { document: inUrl });
    expect(run.json).toMatchObject({ status: 'failed', error: expect.stringMatching(/^nodes\[src\]\.config\.url\.ca: \/etc\/passwd is outside the allowed file roots/) });
    // the PEM text itself is not a path
    const pem = { ...viaConnection, connections: { shop: { type: 'postgres', url: 'postgres://u@127.0.0.1:1/db', tls: { ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' } } } };
    expect((await s.api('POST', '/api/flows/validate', pem)).json.valid).toBe(true);
    expect((await s.api('POST', '/api/connections', { name: 'state', type: 'sqlite', config: { path: join(s.dataDir, 'sluice.db') } })).status).toBe(201);
    const tested = await s.api('POST', '/api/connections/state/test');
    expect(tested.json).toMatchObject({ ok: false, error: expect.stringMatching(/^path: .*sluice\.db is inside the server's data directory/) });
    // a stored connection no node uses does not block other flows (the server adds every stored connection to a run)
    writeFileSync(join(s.files, 'in.jsonl'), '{"a":1}\n');
    expect((await s.api('POST', '/api/flows/f/preview?wait=true', { document: source('file.source', { path: 'in.jsonl' }) })).status).toBe(200);
  });

  it('runs a flow on a file inside the root: the test run returns its records', async () => {
    const s = await start();
    writeFileSync(join(s.files, 'in.jsonl'), '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n');
    mkdirSync(join(s.files, 'sub'));
    writeFileSync(join(s.files, 'sub', 'in.jsonl'), '{"id":3}\n');
    symlinkSync(join(s.files, 'sub'), join(s.files, 'alias')); // a link that stays inside is fine
    const run = async (path: string) => {
      const r = await s.api('POST', '/api/flows/f/preview?wait=true', { document: source('file.source', { path }) });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json.preview.src.output.out.map((rec: { value: unknown }) => rec.value);
    };
    expect(await run('in.jsonl')).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);
    expect(await run(join(s.files, 'in.jsonl'))).toHaveLength(2);
    expect(await run('alias/in.jsonl')).toEqual([{ id: 3 }]);
    // a deploy writes where relative paths point: the first root
    const doc = sink('file.sink', { path: 'written/out.jsonl' });
    expect((await s.api('POST', '/api/flows', doc)).status).toBe(201);
    expect((await s.api('POST', '/api/flows/f/deploy', {})).status).toBe(202);
    await expect.poll(() => existsSync(join(s.files, 'written', 'out.jsonl')) && readFileSync(join(s.files, 'written', 'out.jsonl'), 'utf8').split('\n').length, { timeout: 5000 }).toBe(4);
    expect((await s.api('POST', '/api/flows/f/stop', {})).status).toBe(200);
  });

  it('checks again when the node opens the file: a symlink swapped in after validation is refused', async () => {
    const s = await start();
    const policy = serverPolicy({ dataDir: s.dataDir, cwd: s.base });
    writeFileSync(join(s.files, 'in.jsonl'), '{"a":1}\n');
    const plan = compileFlow(source('file.source', { path: 'in.jsonl' }), createRegistry(), { policy });
    rmSync(join(s.files, 'in.jsonl'));
    symlinkSync(join(s.dataDir, 'sluice.db'), join(s.files, 'in.jsonl'));
    const result = await new Preview(plan, { limit: 10, sample: 10, timeoutMs: 5000 }).start();
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/^nodes\[src\]\.config\.path: in\.jsonl is inside the server's data directory/);
  });
});

describe('FileRoots', () => {
  it('refuses symlink loops and NUL bytes, and takes a root that is itself a link', () => {
    const base = tempDir();
    mkdirSync(join(base, 'real'));
    symlinkSync(join(base, 'real'), join(base, 'root')); // the root as given is a link
    symlinkSync('b', join(base, 'real', 'a'));
    symlinkSync('a', join(base, 'real', 'b'));
    const roots = new FileRoots({ roots: ['root'], cwd: base });
    expect(roots.check('a/x.jsonl', 'write')).toEqual({ ok: false, message: 'a/x.jsonl cannot be resolved: ELOOP' });
    expect(roots.check('x\0.jsonl', 'read')).toMatchObject({ ok: false });
    expect(roots.check('new/dir/x.jsonl', 'write')).toEqual({ ok: true, path: join(base, 'real', 'new', 'dir', 'x.jsonl') });
    expect(roots.check(join(base, 'root', 'x.jsonl'), 'read')).toEqual({ ok: true, path: join(base, 'real', 'x.jsonl') });
    // a dangling link under a linked directory: its `../` climbs from where the link really is
    const outside = tempDir();
    mkdirSync(join(outside, 'y'));
    symlinkSync(join(outside, 'y'), join(base, 'real', 'L'));
    symlinkSync('../z', join(outside, 'y', 'dl'));
    expect(roots.check('L/dl', 'write')).toMatchObject({ ok: false, message: expect.stringMatching(/outside/) });
    expect(roots.check(base, 'read')).toMatchObject({ ok: false, message: expect.stringMatching(/outside the allowed file roots \(root\)$/) });
  });
});

describe('environment: allowed names only, never in code', () => {
  const gen = (count: unknown, code?: string) =>
    flow(
      [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count } },
        ...(code ? [{ id: 'm', type: 'core.map', config: { code } }] : []),
        { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } },
      ],
      code ? [{ from: 'gen', to: 'm' }, { from: 'm', to: 'out' }] : [{ from: 'gen', to: 'out' }],
    );
  const env = { PATH: '/usr/bin', SLUICE_FLOW_COUNT: '2', MY_COUNT: '3', SLUICE_FLOW_SECRET: 's3cret' };
  const count = async (s: Awaited<ReturnType<typeof start>>, doc: unknown) => {
    const r = await s.api('POST', '/api/flows/f/preview?wait=true', { document: doc });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json.preview.gen.output.out.length;
  };

  it('refuses ${env:PATH} with the node, field and variable named and how to allow it', async () => {
    const s = await start({}, env);
    const doc = source('file.source', { path: '${env:PATH}' });
    await expectRefusedEverywhere(s, doc, 'nodes[src].config.path', /^environment variable PATH is not allowed here: only names starting with SLUICE_FLOW_ .*--env-allow PATH/);
    // inside a longer string, and with a default: still refused, never silently defaulted
    await expectRefusedEverywhere(s, source('file.source', { path: 'x-${env:HOME:-home}.jsonl' }), 'nodes[src].config.path', /environment variable HOME is not allowed/);
  });

  it('resolves SLUICE_FLOW_* names, and names allowed with --env-allow', async () => {
    const s = await start({}, env);
    expect(await count(s, gen('${env:SLUICE_FLOW_COUNT}'))).toBe(2);
    expect((await s.api('POST', '/api/flows/validate', gen('${env:MY_COUNT}'))).json.valid).toBe(false);
    const allowed = await start({ envAllow: ['MY_COUNT'] }, env);
    expect(await count(allowed, gen('${env:MY_COUNT}'))).toBe(3);
    const prefixed = await start({ envPrefixes: ['MY_'] }, env);
    expect(await count(prefixed, gen('${env:MY_COUNT}'))).toBe(3);
    expect((await prefixed.api('POST', '/api/flows/validate', gen('${env:SLUICE_FLOW_COUNT}'))).json.valid).toBe(false); // the prefix replaces the default
  });

  it('refuses any ${env:…} inside code fields, even an allowed name: map code and aggregate reducers', async () => {
    const s = await start({}, env);
    await expectRefusedEverywhere(s, gen(2, '(v) => ({ ...v, s: "${env:SLUICE_FLOW_SECRET}" })'), 'nodes[m].config.code', /^\$\{env:SLUICE_FLOW_SECRET\} cannot be used in code/);
    const agg = flow(
      [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 2 } },
        { id: 'agg', type: 'core.aggregate', config: { groupBy: [{ name: 'g', expr: '"${env:PATH}"' }], measures: [{ name: 'n', fn: 'custom', add: '(a, v) => "${env:SLUICE_FLOW_SECRET}"' }] } },
        { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } },
      ],
      [{ from: 'gen', to: 'agg' }, { from: 'agg', to: 'out' }],
    );
    const r = await s.api('POST', '/api/flows/validate', agg);
    const errors = r.json.issues.filter((i: { severity: string }) => i.severity === 'error');
    expect(errors.map((i: { path: string; message: string }) => `${i.path}: ${i.message.split(' cannot')[0]}`)).toEqual([
      'nodes[agg].config.groupBy[0].expr: ${env:PATH}',
      'nodes[agg].config.measures[0].add: ${env:SLUICE_FLOW_SECRET}',
    ]);
    for (const e of errors) expect(e.message).toMatch(/cannot be used in code/);
    // a code field that does not read the environment is fine
    expect(await count(s, gen(2, '(v) => ({ ...v, tagged: true })'))).toBe(2);
  });
});
