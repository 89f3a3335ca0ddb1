/**
 * fast-check generators of hostile and mistaken input, shared by the server and CLI fuzz tests:
 * flow documents (valid-ish and broken), YAML with aliases and tags, deep nesting, odd names, NaN-ish
 * numbers, prototype keys. The seed comes from SLUICE_FUZZ_SEED when set, so a failure can be replayed.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';

export const FUZZ_SEED = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : 20261206;

/** a fast-check run with the fixed seed; the seed is printed when it fails */
export async function fuzz<T>(property: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { numRuns, seed: FUZZ_SEED, endOnFailure: true });
  } catch (err) {
    // fast-check quotes the whole counterexample, megabytes of it for a deep or huge body: keep the start
    // the failed check's own message first: the counterexample after it may be megabytes long
    const cause = err instanceof Error && err.cause instanceof Error ? `${err.cause.message.slice(0, 2000)}\n` : '';
    const message = cause + (err instanceof Error ? err.message : String(err));
    const short = message.length > 4000 ? `${message.slice(0, 3000)}\n… (${message.length} characters) …\n${message.slice(-1000)}` : message;
    throw new Error(`fuzz failed with seed ${FUZZ_SEED} (replay: SLUICE_FUZZ_SEED=${FUZZ_SEED})\n${short}`);
  }
}

export const NODE_TYPES = ['core.generate', 'core.map', 'core.filter', 'core.select', 'core.aggregate', 'core.denormalize', 'file.source', 'file.sink', 'sqlite.source', 'sqlite.sink', 'postgres.sink'];

/** names: plain, too long, empty, unicode, path-like, prototype words */
export const oddName = fc.oneof(
  fc.constantFrom('orders', 'a', 'x-1', '__proto__', 'constructor', 'prototype', '..', '.', '%2F', 'a/b', 'a b', 'é', '💥', '', ' ', '-x', 'toString', 'hasOwnProperty'),
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.integer({ min: 120, max: 20_007 }).map((n) => 'n'.repeat(n)),
);

/** numbers JSON has no word for, as they may appear in a YAML or JSON text */
export const nanText = fc.constantFrom('.nan', '.inf', '-.inf', 'NaN', 'Infinity', '1e999', '-1e999', '0x10', '1_000', '-0', '9007199254740993', '1e-400');

/** a config value: arbitrary JSON, now and then with prototype keys or a long string */
const configValue = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => 'x'.repeat(n)) },
);

const node = fc.record(
  {
    id: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('gen', 'map', 'out', 'src', 'agg') }, { weight: 1, arbitrary: oddName }),
    type: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...NODE_TYPES) }, { weight: 1, arbitrary: oddName }),
    config: fc.oneof(
      fc.constant({ dataset: 'counter', count: 3 }),
      fc.constant({ code: '(v) => v' }),
      fc.constant({ path: 'out.jsonl' }),
      fc.dictionary(fc.constantFrom('path', 'code', 'count', 'dataset', 'table', 'keys', 'url', 'connection', '__proto__'), configValue, { maxKeys: 4 }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: ['id', 'type'] },
);

const edge = fc.record(
  { from: fc.oneof(fc.constantFrom('gen', 'map', 'out'), oddName), to: fc.oneof(fc.constantFrom('gen', 'map', 'out'), oddName), fromPort: fc.constantFrom('out', 'error', 'x') },
  { requiredKeys: ['from', 'to'] },
);

/** a flow document object: mostly well formed, with mistakes anywhere */
export const flowDocument = fc.record(
  {
    apiVersion: fc.oneof({ weight: 5, arbitrary: fc.constant('sluice/v1') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
    name: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('fuzz-a', 'fuzz-b', 'f1') }, { weight: 2, arbitrary: oddName }),
    settings: fc.oneof(fc.constant({ batchSize: 10 }), fc.jsonValue({ maxDepth: 2 })),
    nodes: fc.oneof({ weight: 5, arbitrary: fc.array(node, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
    edges: fc.array(edge, { maxLength: 4 }),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['apiVersion', 'name', 'nodes'] },
);

/** JSON text nested `depth` deep, as arrays or objects, optionally inside a flow document's config */
export const deepJsonText = fc
  .record({ depth: fc.constantFrom(65, 100, 2000, 10_000, 100_000), kind: fc.constantFrom('array', 'object', 'in-config') })
  .map(({ depth, kind }) => {
    if (kind === 'array') return '['.repeat(depth) + ']'.repeat(depth);
    const nest = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    if (kind === 'object') return nest;
    return `{"apiVersion":"sluice/v1","name":"deep","nodes":[{"id":"gen","type":"core.generate","config":${nest}}]}`;
  });

/** YAML aliases: "billion laughs" of some width and depth, self-reference, many aliases */
export const aliasYaml = fc.oneof(
  fc.record({ width: fc.integer({ min: 2, max: 12 }), depth: fc.integer({ min: 2, max: 9 }) }).map(({ width, depth }) => {
    const lines = [`apiVersion: sluice/v1`, `name: laughs`, `l0: &l0 "lol"`];
    for (let d = 1; d <= depth; d++) lines.push(`l${d}: &l${d} [${Array(width).fill(`*l${d - 1}`).join(', ')}]`);
    lines.push(`nodes: [{ id: gen, type: core.generate, config: { dataset: *l${depth} } }]`);
    return lines.join('\n');
  }),
  fc.constant('a: &a [*a]\n'),
  fc.constant('apiVersion: sluice/v1\nname: self\nnodes: &n [{ id: gen, type: core.generate, config: { x: *n } }]\n'),
  fc.integer({ min: 50, max: 400 }).map((n) => `base: &b {x: 1}\nall: [${Array(n).fill('*b').join(', ')}]\n`),
  fc.constant('a: *undefined_anchor\n'),
  fc.constant('a: &a {x: 1}\nb: {<<: *a}\n'),
);

/** YAML tags and directives: standard, 1.1 types, custom, JavaScript-ish */
export const taggedYaml = fc.constantFrom(
  '%YAML 1.1\n---\napiVersion: sluice/v1\nname: t\nnodes: [{ id: gen, type: core.generate, config: { at: !!timestamp 2001-12-14, s: !!set {a, b}, b: !!binary aGVsbG8= } }]\n',
  'apiVersion: sluice/v1\nname: !!js/function "function () { return 1 }"\nnodes: []\n',
  'apiVersion: !custom sluice/v1\nname: t\nnodes: [{ id: gen, type: core.generate }]\n',
  'apiVersion: sluice/v1\nname: t\nnodes: !!map { a: 1 }\n',
  'apiVersion: sluice/v1\nname: t\nnodes: !!str 12\n',
  '%YAML 1.1\n---\nnodes: !!omap [ a: 1, b: 2 ]\n',
  '%TAG ! tag:example.com,2000:\n---\nx: !foo 1\n',
  'x: !<tag:yaml.org,2002:python/object:os.system> ls\n',
);

/** broken YAML/JSON: unclosed, tabs, duplicate keys, several documents, binary noise */
export const brokenText = fc.oneof(
  fc.constantFrom(
    'apiVersion: sluice/v1\nnodes: [\n',
    'apiVersion: sluice/v1\n\tname: x\n',
    'name: a\nname: b\n',
    '{"name":"a","name":"b","apiVersion":"sluice/v1","nodes":[{"id":"gen","type":"core.generate"}]}',
    'a: 1\n---\nb: 2\n',
    '{',
    '[1, 2,',
    '"just a string"',
    '42',
    'null',
    '',
    '---\n',
    '- - - - - - - - - - x',
    '? [a, b]\n: c\n',
    '{"a": NaN}',
    '{"a": 1e999}',
  ),
  nanText.map((n) => `apiVersion: sluice/v1\nname: nan\nnodes: [{ id: gen, type: core.generate, config: { count: ${n} } }]\n`),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.integer({ min: 2, max: 3000 }).map((n) => '- '.repeat(n) + 'x\n'),
  fc.integer({ min: 2, max: 3000 }).map((n) => 'a: '.repeat(1) + '['.repeat(n) + ']'.repeat(n)),
);

/** a flow as text: valid-ish documents as YAML or JSON, aliases, tags, deep nesting, broken texts */
export const flowText = fc.oneof(
  { weight: 4, arbitrary: flowDocument.map((d) => stringify(d)) },
  { weight: 3, arbitrary: flowDocument.map((d) => JSON.stringify(d)) },
  { weight: 2, arbitrary: aliasYaml },
  { weight: 1, arbitrary: taggedYaml },
  { weight: 1, arbitrary: deepJsonText },
  { weight: 3, arbitrary: brokenText },
);

/** a stack trace or a source path in a response or on stderr: never for a user's input */
export const STACK_TRACE = /\n\s+at \S|\bat \S+ \(\S+:\d+:\d+\)|\/work\/|node_modules\/|file:\/\/|\.(?:ts|js):\d+:\d+/;
