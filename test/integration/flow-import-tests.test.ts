/**
 * A flow imported together with its tests, through real `sluice serve` processes (build first:
 * `npx tsc -p .`) and a real PostgreSQL (127.0.0.1:5432) behind the flow's source: a flow with two tests
 * saved from test runs is exported with its FLOW.tests.yaml from one server and imported in one step into
 * a fresh one, where both pass; a tests file that names a node the flow does not have, or is not YAML, is
 * a 400 naming the test and field (the line for YAML) and imports nothing — no flow, no connection, no
 * test; an import with ?overwrite=true replaces a test of the same name and keeps the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { callJson, startServer, type ServerProcess } from '../helpers/server-process.js';
import { probePostgres, type ScratchDb, scratchPostgres, service } from '../helpers/services.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

describe.skipIf(!PG.available)('importing a flow with its tests (real servers, real PostgreSQL)', () => {
  const servers: ServerProcess[] = [];
  let scratch: ScratchDb;
  let flowText = '';
  let testsText = '';
  const start = async () => {
    const s = await startServer();
    servers.push(s);
    return s;
  };
  const call = callJson;

  beforeAll(async () => {
    scratch = await scratchPostgres(PG.url, 'sluice_import_tests');
    const c = new pg.Client({ connectionString: scratch.url });
    await c.connect();
    await c.query(`CREATE TABLE items (id int PRIMARY KEY, name text, qty int); INSERT INTO items VALUES (1, 'bolt', 3), (2, 'nut', 5), (3, 'gear', 7)`);
    await c.end();

    const a = await start();
    expect((await call(a, 'POST', '/api/connections', { name: 'shop', type: 'postgres', config: { url: scratch.url } })).status).toBe(201);
    const flow = {
      apiVersion: 'sluice/v1',
      name: 'imp',
      nodes: [
        { id: 'items', type: 'postgres.source', config: { connection: 'shop', tables: ['public.items'] } },
        { id: 'fn', type: 'core.map', config: { code: '(v) => ({ id: v.id, name: v.name, double: v.qty * 2 })' } },
        { id: 'out', type: 'file.sink', config: { path: './out.jsonl' } },
      ],
      edges: [
        { from: 'items', to: 'fn' },
        { from: 'fn', to: 'out' },
      ],
    };
    expect((await call(a, 'POST', '/api/flows', flow)).status).toBe(201);
    // two tests as the editor's "Save as test" makes them: every record, and the first one alone
    const run = await call(a, 'POST', '/api/flows/imp/preview?wait=true', {});
    expect(run.json.status, JSON.stringify(run.json)).toBe('completed');
    const inputs = run.json.preview.items.output.out as unknown[];
    const outputs = run.json.preview.out.wouldWrite.sample as { value: { id: number } }[];
    expect(inputs).toHaveLength(3);
    expect((await call(a, 'POST', '/api/flows/imp/tests', { name: 'all', inputs: { items: inputs }, expect: { out: outputs } })).status).toBe(201);
    const first = outputs.find((r) => r.value.id === 1);
    expect((await call(a, 'POST', '/api/flows/imp/tests', { name: 'first', inputs: { items: inputs.slice(0, 1) }, expect: { out: [first] } })).status).toBe(201);

    flowText = await (await a.fetch('/api/flows/imp/export')).text();
    testsText = await (await a.fetch('/api/flows/imp/tests?format=yaml')).text();
    expect(flowText).toContain('connections:');
    expect(parse(testsText).tests.map((t: { name: string }) => t.name)).toEqual(['all', 'first']);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await scratch?.drop();
  });

  it('a tests file that does not fit the flow, or is not YAML, is a 400 naming the test and field, and imports nothing', async () => {
    const b = await start();
    const file = parse(testsText);
    file.tests[1].expect = { nope: file.tests[1].expect.out };
    const r = await call(b, 'POST', '/api/flows/import', { text: flowText, tests: stringify(file) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/^cannot import: tests: test "first": expect\.nope is not a sink of flow imp \(sinks: out\)/);
    expect(r.json.details).toEqual([{ path: 'tests', message: expect.stringMatching(/^test "first": expect\.nope/) }]);

    const yaml = await call(b, 'POST', '/api/flows/import', { text: flowText, tests: 'tests:\n  - name: a\n    inputs: { items: [\n' });
    expect(yaml.status).toBe(400);
    expect(yaml.json.error).toMatch(/^cannot import: tests: line \d+, column \d+: invalid YAML/);

    const badRecord = await call(b, 'POST', '/api/flows/import', { text: flowText, tests: testsText.replace(/op: r/, 'op: x') });
    expect(badRecord.status).toBe(400);
    expect(badRecord.json.error).toMatch(/test "all": inputs\.items\[0\]\.op must be one of c, u, d, r/);

    // nothing half-imported: no flow, no connection (the file's `shop` would have been created), no test
    expect((await call(b, 'GET', '/api/flows/imp')).status).toBe(404);
    expect((await call(b, 'GET', '/api/flows/imp/tests')).status).toBe(404);
    expect((await call(b, 'GET', '/api/connections')).json).toEqual([]);
  });

  it('imports the flow with its two tests in one step into a fresh server, where both pass; saving each is audited', async () => {
    const b = await start();
    const r = await call(b, 'POST', '/api/flows/import', { text: flowText, tests: testsText });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(r.json).toMatchObject({ name: 'imp', tests: ['all', 'first'], connections: [{ name: 'shop', action: 'created' }] });
    expect((await call(b, 'GET', '/api/flows/imp/tests')).json).toEqual([
      expect.objectContaining({ name: 'all', author: 'admin', inputs: { items: 3 }, expect: { out: 3 } }),
      expect.objectContaining({ name: 'first', author: 'admin', inputs: { items: 1 }, expect: { out: 1 } }),
    ]);
    const run = await call(b, 'POST', '/api/flows/imp/tests/run');
    expect(run.json, JSON.stringify(run.json)).toMatchObject({ passed: 2, failed: 0 });
    // the same file comes back out
    expect(await (await b.fetch('/api/flows/imp/tests?format=yaml')).text()).toBe(testsText);

    const audit = (await call(b, 'GET', '/api/audit?limit=100')).json as { action: string; target: string; details: Record<string, unknown> }[];
    const saves = audit.filter((e) => e.action === 'flow.test.save').map((e) => [e.target, e.details.test, e.details.import]);
    expect(saves.sort()).toEqual([
      ['imp', 'all', 'imp'],
      ['imp', 'first', 'imp'],
    ]);
  });

  it('with ?overwrite=true a test of the same name is replaced and the others are kept', async () => {
    const b = await start();
    expect((await call(b, 'POST', '/api/flows/import', { text: flowText, tests: testsText })).status).toBe(201);
    // `first` now expects another value: it was replaced if the run fails it
    const file = parse(testsText);
    const changed = file.tests.find((t: { name: string }) => t.name === 'first');
    changed.expect.out[0].value.double = 99;
    const r = await call(b, 'POST', '/api/flows/import?overwrite=true', { text: flowText, tests: stringify({ tests: [changed] }) });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toMatchObject({ version: 2, tests: ['first'] });
    expect((await call(b, 'GET', '/api/flows/imp/tests')).json.map((t: { name: string }) => t.name)).toEqual(['all', 'first']);
    const run = await call(b, 'POST', '/api/flows/imp/tests/run');
    expect(run.json).toMatchObject({ passed: 1, failed: 1 });
    expect(run.json.results.find((x: { name: string }) => x.name === 'first').diffs[0].differences[0].line).toMatch(/field double: expected 99, got 6/);
  });
});
