/**
 * A flow's tests through the `sluice serve` process: a test saved from a test run's summary (the records
 * each source gave and each sink would have written) passes; after a change to the map code it fails,
 * naming the sink, the record and the field and marking the sink; the tests export as FLOW.tests.yaml;
 * a viewer reads them but cannot save, run or delete; bad input is a 400/404 with the reason, never a 5xx;
 * saving and deleting are audited; the tests go with their flow.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { callJson, serverForFile } from '../helpers/server-process.js';
import { createKey, signIn } from '../helpers/auth.js';

const file = serverForFile();
const call = (method: string, path: string, body?: unknown) => callJson(file.server, method, path, body);

const flow = (name: string, code: string) => ({
  apiVersion: 'sluice/v1',
  name,
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 5 } },
    { id: 'fn', type: 'core.map', config: { code } },
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` } },
  ],
  edges: [
    { from: 'gen', to: 'fn' },
    { from: 'fn', to: 'out' },
  ],
});

/** what the editor's "Save as test" sends: the finished test run's source outputs and sink samples */
async function testFromPreview(flowId: string, name: string) {
  const run = await call('POST', `/api/flows/${flowId}/preview?wait=true`, {});
  expect(run.status).toBe(200);
  expect(run.json.status).toBe('completed');
  return { name, inputs: { gen: run.json.preview.gen.output.out }, expect: { out: run.json.preview.out.wouldWrite.sample } };
}

describe('flow tests over the API', () => {
  it('saves a test from a test run; it passes, then fails after the map code changed, naming sink, record and field', async () => {
    expect((await call('POST', '/api/flows', flow('ft', '(v) => ({ n: v.n, twice: v.n * 2 })'))).status).toBe(201);
    const test = await testFromPreview('ft', 'doubles');
    expect(test.inputs.gen).toHaveLength(5);
    const saved = await call('POST', '/api/flows/ft/tests', test);
    expect(saved).toMatchObject({ status: 201, json: { name: 'doubles', created: true, inputs: { gen: 5 }, expect: { out: 5 } } });
    expect((await call('POST', '/api/flows/ft/tests', test)).json.created).toBe(false);
    expect((await call('GET', '/api/flows/ft/tests')).json).toEqual([expect.objectContaining({ name: 'doubles', ordered: false, author: 'admin', inputs: { gen: 5 }, expect: { out: 5 } })]);

    const pass = await call('POST', '/api/flows/ft/tests/run');
    expect(pass.status).toBe(200);
    expect(pass.json).toMatchObject({ flow: 'ft', passed: 1, failed: 0, results: [{ name: 'doubles', passed: true, diffs: [], nodes: [] }] });

    const current = (await call('GET', '/api/flows/ft')).json;
    expect((await call('PUT', '/api/flows/ft', { baseVersion: current.version, document: flow('ft', '(v) => ({ n: v.n, twice: v.n === 3 ? 7 : v.n * 2 })') })).status).toBe(200);
    const fail = await call('POST', '/api/flows/ft/tests/run', { names: ['doubles'] });
    expect(fail.json).toMatchObject({ passed: 0, failed: 1 });
    const result = fail.json.results[0];
    expect(result).toMatchObject({ name: 'doubles', passed: false, nodes: ['out'] });
    expect(result.diffs).toHaveLength(1);
    expect(result.diffs[0].sink).toBe('out');
    expect(result.diffs[0].differences).toHaveLength(1);
    const [d] = result.diffs[0].differences;
    expect(d.field).toBe('twice');
    expect(d.record).toMatch(/3/);
    expect(d.line).toMatch(/field twice: expected 6, got 7/);

    // the file `sluice test` reads, next to the exported flow
    const res = await file.server.fetch('/api/flows/ft/tests?format=yaml');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('ft.tests.yaml');
    const yaml = parse(await res.text());
    expect(yaml.tests).toHaveLength(1);
    expect(yaml.tests[0]).toMatchObject({ name: 'doubles', inputs: { gen: expect.any(Array) }, expect: { out: expect.any(Array) } });
    expect(yaml.tests[0].expect.out.find((r: any) => r.value.n === 3).value.twice).toBe(6);

    // saved and deleted are in the audit log, with the test's name
    expect((await call('DELETE', '/api/flows/ft/tests/doubles')).status).toBe(204);
    expect((await call('GET', '/api/flows/ft/tests')).json).toEqual([]);
    const audit = (await call('GET', '/api/audit?limit=100')).json as any[];
    const entries = Array.isArray(audit) ? audit : (audit as any).entries;
    expect(entries.filter((e: any) => e.action.startsWith('flow.test.')).map((e: any) => [e.action, e.target, e.details.test])).toEqual(
      expect.arrayContaining([
        ['flow.test.save', 'ft', 'doubles'],
        ['flow.test.delete', 'ft', 'doubles'],
      ]),
    );
  });

  it('refuses bad input with the reason (400/404, never 5xx), and a test goes with its flow', async () => {
    expect((await call('POST', '/api/flows', flow('ft2', '(v) => v'))).status).toBe(201);
    const good = { name: 't', inputs: { gen: [{ key: { n: 1 }, op: 'r', value: { n: 1 } }] }, expect: { out: [{ key: { n: 1 }, op: 'r', value: { n: 1 } }] } };
    const unknownFlow = await call('POST', '/api/flows/nope/tests', good);
    expect(unknownFlow.status).toBe(404);
    expect(unknownFlow.json.error).toMatch(/nope/);
    expect((await call('GET', '/api/flows/nope/tests')).status).toBe(404);
    expect((await call('POST', '/api/flows/nope/tests/run')).status).toBe(404);

    const badOp = await call('POST', '/api/flows/ft2/tests', { ...good, inputs: { gen: [{ key: 1, op: 'x', value: {} }] } });
    expect(badOp.status).toBe(400);
    expect(badOp.json.error).toMatch(/inputs\.gen\[0\]\.op must be one of c, u, d, r/);
    const noName = await call('POST', '/api/flows/ft2/tests', { inputs: {} });
    expect(noName.status).toBe(400);
    expect(noName.json.error).toMatch(/name must be a non-empty string/);
    const list = await call('POST', '/api/flows/ft2/tests', [good]);
    expect(list.status).toBe(400);
    const notSource = await call('POST', '/api/flows/ft2/tests', { ...good, inputs: { fn: [] } });
    expect(notSource.status).toBe(400);
    expect(notSource.json.error).toMatch(/inputs\.fn is not a source of flow ft2 \(sources: gen\)/);
    const notSink = await call('POST', '/api/flows/ft2/tests', { ...good, expect: { gen: [] } });
    expect(notSink.json.error).toMatch(/expect\.gen is not a sink of flow ft2 \(sinks: out\)/);

    expect((await call('POST', '/api/flows/ft2/tests', good)).status).toBe(201);
    const unknownTest = await call('POST', '/api/flows/ft2/tests/run', { names: ['missing'] });
    expect(unknownTest.status).toBe(404);
    expect(unknownTest.json.error).toMatch(/no test named "?missing"?.*tests: t/);
    expect((await call('POST', '/api/flows/ft2/tests/run', { names: 't' })).status).toBe(400);
    expect((await call('DELETE', '/api/flows/ft2/tests/missing')).status).toBe(404);
    expect((await call('POST', '/api/flows/ft2/tests/run')).json).toMatchObject({ passed: 1, failed: 0 });

    // deleted with the flow: a new flow of that name starts without tests
    expect((await call('DELETE', '/api/flows/ft2')).status).toBe(204);
    expect((await call('POST', '/api/flows', flow('ft2', '(v) => v'))).status).toBe(201);
    expect((await call('GET', '/api/flows/ft2/tests')).json).toEqual([]);
  });

  it('a viewer reads the tests but cannot save, run or delete them', async () => {
    const url = file.server.url;
    expect((await call('POST', '/api/users', { name: 'vera', role: 'viewer', password: 'vera-password-123' })).status).toBe(201);
    const viewer = await createKey(url, await signIn(url), { user: 'vera', role: 'viewer' });
    expect((await call('POST', '/api/flows', flow('ft3', '(v) => v'))).status).toBe(201);
    const good = { name: 't', inputs: { gen: [] }, expect: { out: [] } };
    expect((await call('POST', '/api/flows/ft3/tests', good)).status).toBe(201);
    const as = (method: string, path: string, body?: unknown) =>
      fetch(url + path, { method, headers: { ...viewer.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await as('GET', '/api/flows/ft3/tests')).status).toBe(200);
    expect((await as('POST', '/api/flows/ft3/tests', good)).status).toBe(403);
    expect((await as('POST', '/api/flows/ft3/tests/run')).status).toBe(403);
    expect((await as('DELETE', '/api/flows/ft3/tests/t')).status).toBe(403);
    expect((await call('GET', '/api/flows/ft3/tests')).json.map((t: any) => t.name)).toEqual(['t']);
  });
});
