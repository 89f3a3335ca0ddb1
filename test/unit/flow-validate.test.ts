import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { validateFlow, validateFlowText } from '../../runtime/flow/validate.js';
import { compileFlowText } from '../../runtime/flow/compile.js';
import { FlowValidationError } from '../../runtime/errors.js';
import { z } from 'zod';
import { defineNode, type NodeType } from '../../runtime/node-api.js';
import { NodeRegistry } from '../../runtime/registry.js';

const registry = createRegistry();

const base = () => ({
  apiVersion: 'sluice/v1',
  name: 'f',
  nodes: [
    { id: 'gen', type: 'core.generate', config: { count: 10 } },
    { id: 'tax', type: 'core.map', config: { code: '(v) => v' } },
    { id: 'out', type: 'file.sink', config: { path: '/tmp/x.jsonl', format: 'jsonl' } },
  ],
  edges: [
    { from: 'gen', to: 'tax' },
    { from: 'tax', to: 'out' },
  ],
});

const errors = (raw: unknown, env: Record<string, string> = {}) =>
  validateFlow(raw, registry, { env }).issues.filter((i) => i.severity === 'error');

describe('flow validation', () => {
  it('accepts a valid flow and applies defaults', () => {
    const r = validateFlow(base(), registry);
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(r.flow!.settings.batchSize).toBe(1000);
    expect(r.edges!.map((e) => `${e.from}.${e.fromPort}->${e.to}.${e.toPort}`)).toEqual(['gen.out->tax.in', 'tax.out->out.in']);
  });

  it('rejects an unknown node type, naming the node and listing its family', () => {
    const f = base();
    f.nodes[1].type = 'core.mapp';
    const [e] = errors(f);
    expect(e.path).toBe('nodes[tax].type');
    expect(e.message).toMatch(/unknown node type "core.mapp".*core\.map/);
    expect(e.nodeId).toBe('tax');
  });

  it('rejects duplicate ids', () => {
    const f = base();
    f.nodes[2].id = 'tax';
    expect(errors(f).map((e) => e.message)).toContainEqual(expect.stringMatching(/duplicate node id "tax"/));
  });

  it('rejects an edge to a missing node and to a missing port', () => {
    const f = base();
    f.edges.push({ from: 'tax', to: 'nowhere' });
    (f.edges[0] as Record<string, string>).fromPort = 'nope';
    const es = errors(f);
    expect(es.find((e) => e.path === 'edges[2].to')?.message).toBe('no node with id "nowhere"');
    expect(es.find((e) => e.path === 'edges[0].fromPort')?.message).toMatch(/has no output port "nope"; ports: out/);
  });

  it('rejects a cycle, naming it', () => {
    const f = base();
    f.nodes.push({ id: 'keep', type: 'core.filter', config: { code: '() => true' } });
    f.edges.push({ from: 'tax', to: 'keep' }, { from: 'keep', to: 'tax' });
    const e = errors(f).find((i) => i.message.startsWith('cycle'));
    expect(e?.message).toMatch(/cycle: (tax → keep → tax|keep → tax → keep)/);
  });

  it('rejects an edge into a source and out of a sink', () => {
    const f = base();
    f.edges.push({ from: 'tax', to: 'gen' }, { from: 'out', to: 'tax' });
    const es = errors(f);
    expect(es.find((e) => e.path === 'edges[2].to')?.message).toMatch(/"gen" is a source \(core.generate\): it takes no input/);
    expect(es.find((e) => e.path === 'edges[3].from')?.message).toMatch(/"out" is a sink \(file.sink\): it has no output/);
  });

  it('rejects a required input left unwired', () => {
    const f = base();
    f.edges = [{ from: 'gen', to: 'tax' }];
    const [e] = errors(f);
    expect(e.path).toBe('nodes[out]');
    expect(e.message).toMatch(/input is not wired/);
  });

  it('validates each config with its node type schema, with the field path', () => {
    const f = base();
    f.nodes[0].config = { count: -1, dataset: 'planets' } as never;
    (f.nodes[2].config as Record<string, unknown>).path = undefined;
    const paths = errors(f).map((e) => `${e.path}: ${e.message}`);
    expect(paths).toContainEqual(expect.stringMatching(/^nodes\[gen\]\.config\.count: .*>=0/));
    expect(paths).toContainEqual(expect.stringMatching(/^nodes\[gen\]\.config\.dataset: .*"orders"/));
    expect(paths).toContain('nodes[out].config.path: required');
  });

  it('says a value of the wrong type is of the wrong type, not that it is missing', () => {
    const f = base();
    f.nodes[0].config = { count: 'ten', dataset: 'orders' } as never;
    const paths = errors(f).map((e) => `${e.path}: ${e.message}`);
    expect(paths).toContainEqual(expect.stringMatching(/^nodes\[gen\]\.config\.count: .*expected number, received string/));
    expect(paths.join('\n')).not.toMatch(/count: required/);
  });

  it('reports unknown config fields (typos) instead of ignoring them', () => {
    const f = base();
    (f.nodes[0].config as Record<string, unknown>).cuont = 5;
    expect(errors(f).map((e) => `${e.path}: ${e.message}`)).toContain('nodes[gen].config: unknown field "cuont"');
  });

  it('resolves ${env:NAME}, typed when the whole value is one placeholder, and reports a missing one', () => {
    const f = base();
    (f.nodes[0].config as Record<string, unknown>).count = '${env:N}';
    (f.nodes[2].config as Record<string, unknown>).path = '${env:OUT_DIR}/orders.jsonl';
    const ok = validateFlow(f, registry, { env: { N: '25', OUT_DIR: '/srv' } });
    expect(ok.configs!.get('gen')).toMatchObject({ count: 25 });
    expect(ok.configs!.get('out')).toMatchObject({ path: '/srv/orders.jsonl' });
    const es = errors(f, { N: '25' });
    expect(es).toHaveLength(1);
    expect(`${es[0].path}: ${es[0].message}`).toBe('nodes[out].config.path: environment variable OUT_DIR is not set');
    const withDefault = base();
    (withDefault.nodes[0].config as Record<string, unknown>).count = '${env:MISSING:-7}';
    expect(validateFlow(withDefault, registry).configs!.get('gen')).toMatchObject({ count: 7 });
  });

  it('reports YAML syntax errors with their line', () => {
    const text = 'apiVersion: sluice/v1\nname: f\nnodes:\n  - id: a\n    type: [unclosed\n';
    const [e] = validateFlowText(text, registry, { fileName: 'f.yaml' }).issues;
    expect(e.message).toMatch(/^YAML syntax error/);
    expect(e.line).toBeGreaterThanOrEqual(5);
  });

  it('reports JSON syntax errors with their line', () => {
    const text = '{\n  "apiVersion": "sluice/v1",\n  "name": "f",\n  "nodes": [,]\n}';
    const [e] = validateFlowText(text, registry, { fileName: 'f.json' }).issues;
    expect(e.message).toMatch(/^JSON syntax error/);
    expect(e.line).toBe(4);
  });

  it('gives the line of a config error in a YAML document', () => {
    const text = [
      'apiVersion: sluice/v1',
      'name: f',
      'nodes:',
      '  - id: gen',
      '    type: core.generate',
      '    config:',
      '      count: lots',
      '  - { id: out, type: file.sink, config: { path: /tmp/a.jsonl } }',
      'edges:',
      '  - { from: gen, to: out }',
    ].join('\n');
    const es = validateFlowText(text, registry, { fileName: 'f.yaml' }).issues.filter((i) => i.severity === 'error');
    expect(es).toHaveLength(1);
    expect(es[0]).toMatchObject({ path: 'nodes[gen].config.count', line: 7 });
  });

  it('JSON and YAML give the same model', () => {
    const json = JSON.stringify(base());
    const yaml = [
      'apiVersion: sluice/v1',
      'name: f',
      'nodes:',
      '  - { id: gen, type: core.generate, config: { count: 10 } }',
      '  - { id: tax, type: core.map, config: { code: "(v) => v" } }',
      '  - { id: out, type: file.sink, config: { path: /tmp/x.jsonl, format: jsonl } }',
      'edges:',
      '  - { from: gen, to: tax }',
      '  - { from: tax, to: out }',
    ].join('\n');
    expect(compileFlowText(yaml, registry, { file: 'f.yaml' }).flow).toEqual(compileFlowText(json, registry, { file: 'f.json' }).flow);
  });

  it('compile throws a FlowValidationError whose one-line message names the first problem', () => {
    const f = base();
    f.nodes[1].type = 'core.nope';
    expect(() => compileFlowText(JSON.stringify(f), registry, { file: 'bad.json' })).toThrowError(FlowValidationError);
    expect(() => compileFlowText(JSON.stringify(f), registry, { file: 'bad.json' })).toThrowError(/^bad\.json: nodes\[tax\]\.type: unknown node type "core.nope"/);
  });

  it('rejects a wrong apiVersion and a missing name', () => {
    const f = base() as Record<string, unknown>;
    f.apiVersion = 'v0';
    delete f.name;
    const es = errors(f).map((e) => `${e.path}: ${e.message}`);
    expect(es).toContain('apiVersion: must be "sluice/v1"');
    expect(es).toContain('name: required');
  });

  it('checks the wiring against inputsBy when a type\'s inputs depend on a config field', () => {
    const join = defineNode({
      type: 'test.join',
      category: 'transform',
      title: 'Join',
      description: 'one input, or left and right',
      configSchema: z.object({ shape: z.enum(['one', 'two']) }).strict(),
      inputs: [{ name: 'in', required: false }, { name: 'left', required: false }, { name: 'right', required: false }],
      inputsBy: { field: 'shape', cases: { two: [{ name: 'left' }, { name: 'right', description: 'the other side' }], one: [{ name: 'in' }] } },
      outputs: [{ name: 'out' }],
      create: () => ({ kind: 'transform', async open() {}, async process() { return {}; }, async close() {} }),
    });
    const reg = new NodeRegistry([...createRegistry().list(), join as NodeType]);
    const flow = (two: boolean, edges: Record<string, string>[]) => ({
      apiVersion: 'sluice/v1',
      name: 'f',
      nodes: [
        { id: 'gen', type: 'core.generate', config: {} },
        { id: 'j', type: 'test.join', config: { shape: two ? 'two' : 'one' } },
        { id: 'out', type: 'file.sink', config: { path: '/tmp/x.jsonl' } },
      ],
      edges: [...edges, { from: 'j', to: 'out' }],
    });
    const issues = (raw: unknown) => validateFlow(raw, reg).issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`);
    expect(issues(flow(false, [{ from: 'gen', to: 'j' }]))).toEqual([]);
    expect(validateFlow(flow(false, [{ from: 'gen', to: 'j' }]), reg).edges![0].toPort).toBe('in');
    expect(issues(flow(true, [{ from: 'gen', to: 'j', toPort: 'left' }]))).toEqual(['nodes[j]: input port "right" is not wired (the other side)']);
    expect(issues(flow(true, [{ from: 'gen', to: 'j', toPort: 'left' }, { from: 'gen', to: 'j', toPort: 'in' }]))).toEqual([
      'edges[1].toPort: "j" (test.join) has no input port "in" with this config; ports: left, right',
      'nodes[j]: input port "right" is not wired (the other side)',
    ]);
    expect(issues(flow(false, [{ from: 'gen', to: 'j', toPort: 'left' }]))).toEqual([
      'edges[0].toPort: "j" (test.join) has no input port "left" with this config; ports: in',
      'nodes[j]: input is not wired: connect a node into "j"',
    ]);
  });
});

describe('secrets written in the flow (policy inlineSecrets)', () => {
  const doc = (config: Record<string, unknown>, connections?: Record<string, unknown>) => ({
    apiVersion: 'sluice/v1',
    name: 'f',
    nodes: [
      { id: 'src', type: 'postgres.source', config: { tables: ['t'], ...config } },
      { id: 'out', type: 'file.sink', config: { path: '/tmp/x.jsonl' } },
    ],
    edges: [{ from: 'src', to: 'out' }],
    ...(connections ? { connections } : {}),
  });
  const env = { SLUICE_FLOW_PW: 'from-env' };
  const refused = (raw: unknown) =>
    validateFlow(raw, registry, { env, policy: { inlineSecrets: 'refuse' } }).issues.filter((i) => i.severity === 'error').map((i) => i.path);

  it('refuses literal secret fields and URL passwords, never echoing them; accepts placeholders and PEM file paths', () => {
    const all = doc({ url: 'postgres://bob:SuperSecretPW@h/db', tls: { passphrase: 'PassPhrase4711', key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' } });
    const issues = validateFlow(all, registry, { env, policy: { inlineSecrets: 'refuse' } }).issues;
    expect(issues.map((i) => i.path)).toEqual(['nodes[src].config.tls.key', 'nodes[src].config.tls.passphrase', 'nodes[src].config.url']);
    expect(issues.every((i) => i.nodeId === 'src')).toBe(true);
    expect(JSON.stringify(issues)).not.toMatch(/SuperSecretPW|PassPhrase4711/);
    expect(refused(doc({ url: 'postgres://bob:${env:SLUICE_FLOW_PW}@h/db', tls: { passphrase: '${env:SLUICE_FLOW_PW}', key: './client.key' } }))).toEqual([]);
    expect(refused(doc({ url: 'postgres://bob@h/db' }))).toEqual([]);
    expect(refused(doc({ url: 'postgres://bob:x${env:SLUICE_FLOW_PW}@h/db' }))).toEqual(['nodes[src].config.url']);
    expect(refused(doc({ connection: 'shop' }, { shop: { type: 'postgres', url: 'postgres://bob:pw@h/db', password: 'pw2' } }))).toEqual([
      'connections.shop.password',
      'connections.shop.url',
    ]);
    expect(refused(doc({ connection: 'shop' }, { shop: { type: 'postgres', url: 'postgres://bob@h/db', password: '${env:SLUICE_FLOW_PW}' } }))).toEqual([]);
  });

  it('accepts them without the policy (the CLI: a local file is the user\'s own business)', () => {
    expect(errors(doc({ url: 'postgres://bob:SuperSecretPW@h/db', tls: { passphrase: 'PassPhrase4711' } }))).toEqual([]);
  });
});
