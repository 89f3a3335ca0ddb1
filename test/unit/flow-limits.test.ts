/** The shared limits (runtime/flow/limits.ts) as the parser and the validator apply them, without a server. */
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { checkShape, LIMITS } from '../../runtime/flow/limits.js';
import { parseFlowText } from '../../runtime/flow/parse.js';
import { validateFlow, validateFlowText } from '../../runtime/flow/validate.js';

const registry = createRegistry();
const firstError = (text: string, fileName?: string) => {
  const r = validateFlowText(text, registry, { fileName });
  return r.issues.find((i) => i.severity === 'error');
};
const deepArray = (depth: number) => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('checkShape', () => {
  it('walks 100,000 levels without recursion and stops at the limit, naming where', () => {
    expect(checkShape(deepArray(100_000))).toEqual({ path: Array(LIMITS.depth).fill(0), message: 'nested more than 64 levels deep' });
    expect(checkShape(deepArray(LIMITS.depth))).toBeUndefined();
  });

  it('refuses prototype keys, non-finite numbers, non-JSON objects and over-long strings; allows undefined', () => {
    expect(checkShape(JSON.parse('{"a":{"__proto__":1}}'))).toMatchObject({ path: ['a', '__proto__'] });
    expect(checkShape({ a: [1, { constructor: 1 }] })).toMatchObject({ path: ['a', 1, 'constructor'] });
    expect(checkShape({ n: NaN })).toMatchObject({ path: ['n'], message: /NaN/ });
    expect(checkShape({ d: new Date() })).toMatchObject({ path: ['d'], message: /a Date is not plain data/ });
    expect(checkShape({ s: new Set() })).toMatchObject({ message: /a Set/ });
    expect(checkShape({ s: 'x'.repeat(LIMITS.stringLength + 1) })).toMatchObject({ path: ['s'] });
    expect(checkShape({ u: undefined, f: 1.5, b: true, z: null })).toBeUndefined();
  });
});

describe('parse and validate never throw on hostile text', () => {
  it('YAML alias bombs, self-reference, unknown anchors', () => {
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n');
    expect(firstError(bomb)?.message).toBe('YAML: too many aliases (at most 100 uses of *anchor in one document)');
    expect(firstError('a: &a [*a]\n')?.message).toBe('nested more than 64 levels deep');
    expect(firstError('a: *nowhere\n')?.message).toMatch(/^YAML/);
  });

  it('deep YAML and JSON nesting, block and flow style', () => {
    expect(firstError('- '.repeat(5000) + 'x\n')?.message).toMatch(/nested (more than 64 levels deep|too deeply)/);
    expect(firstError('a: ' + '['.repeat(100_000) + ']'.repeat(100_000))?.message).toMatch(/nested (more than 64 levels deep|too deeply)/);
    expect(firstError('['.repeat(100_000) + ']'.repeat(100_000), 'x.json')?.message).toBe('nested more than 64 levels deep');
  });

  it('tags, NaN, duplicate keys in JSON text, too large a text', () => {
    expect(firstError('x: !foo 1\n')?.message).toMatch(/^YAML: Unresolved tag: !foo \(tags other than the standard ones are not supported\)/);
    expect(firstError('%YAML 1.1\n---\nx: !!binary aGVsbG8=\n')).toMatchObject({ path: 'x', message: /a Uint8Array is not plain data/ });
    expect(firstError('x: .inf\n')).toMatchObject({ path: 'x', message: /Infinity/ });
    expect(firstError('{"a": 1,\n "a": 2}')).toMatchObject({ message: 'JSON syntax error: Map keys must be unique', line: 2 });
    // 5 MB of tiny YAML items: refused after 500,000 tokens, in about a second, not after a long parse
    const t0 = Date.now();
    expect(firstError('edges:\n' + '  - { from: a, to: b }\n'.repeat(220_000))?.message).toMatch(/^YAML: the document is too large \(more than 500000 tokens/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const big = parseFlowText('#'.repeat(LIMITS.textBytes + 1));
    expect(big.ok ? undefined : big.issues[0].message).toMatch(/at most 5 MB/);
  });

  it('names over 128 characters, in every place a name becomes a key', () => {
    const doc = (over: object) => ({ apiVersion: 'sluice/v1', name: 'ok', nodes: [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter' } }], ...over });
    const long = 'n'.repeat(129);
    const paths = (over: object) => validateFlow(doc(over), registry).issues.filter((i) => /at most 128 characters$/.test(i.message)).map((i) => i.path);
    expect(paths({ name: long })).toEqual(['name']);
    expect(paths({ nodes: [{ id: long, type: 'core.generate' }] })).toEqual(['nodes[0].id']);
    expect(paths({ nodes: [{ id: 'gen', type: long }] })).toEqual(['nodes[gen].type']);
    expect(paths({ nodes: [{ id: 'gen', type: 'core.generate', name: long, config: { dataset: 'counter' } }] })).toEqual(['nodes[gen].name']);
    expect(paths({ edges: [{ from: long, to: 'gen', toPort: long }] })).toEqual(['edges[0].from', 'edges[0].toPort']);
    expect(paths({ connections: { [long]: { type: 'sqlite' } } })).toEqual([`connections.${'n'.repeat(40)}…`]);
  });
});
