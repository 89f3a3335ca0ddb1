/**
 * Flow tests end to end through the real `sluice` command: record a test from a preview of the demo
 * flow, see it pass, change the map code and see the diff name the test, sink, record and field; an
 * invalid tests file is exit 2 with its line. The project's examples pass their own tests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { compareRecords } from '../../runtime/testing/flow-tests.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const dir = mkdtempSync(join(tmpdir(), 'sluice-flow-tests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice test', () => {
  it('the examples pass their shipped tests', async () => {
    const r = await runCli(['test', EXAMPLES]);
    expect(r.stdout).toContain('ok    ');
    expect(r.stdout).toMatch(/orders-demo\.tests\.yaml › default/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  it('a recorded test passes, then fails after a change to the map code, naming record and field', async () => {
    const flow = join(dir, 'orders.yaml');
    writeFileSync(flow, readFileSync(join(EXAMPLES, 'orders-demo.yaml'), 'utf8'));
    const rec = await runCli(['test', flow, '--record', '--name', 'first five', '--limit', '5']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'orders.tests.yaml'), 'utf8')).toContain('name: first five');

    const pass = await runCli(['test', flow]);
    expect(pass.code, pass.stdout + pass.stderr).toBe(0);
    expect(pass.stdout).toContain('1 passed, 0 failed');

    // Germany's rate from 19 % to 25 %: order 2 (DE, amount 19.14) changes its tax and total
    writeFileSync(flow, readFileSync(flow, 'utf8').replace('DE: 0.19', 'DE: 0.25'));
    const fail = await runCli(['test', flow]);
    expect(fail.code, fail.stdout + fail.stderr).toBe(1);
    expect(fail.stdout).toContain('FAIL');
    expect(fail.stdout).toContain('first five › orders_db › record id=2: field tax: expected 3.64, got 4.79');
    expect(fail.stdout).toContain('first five › orders_log › record id=2: field total: expected 22.78, got 23.93');
    expect(fail.stdout).not.toContain('record id=1:'); // GB is unchanged
  }, 180_000);

  it('an invalid tests file is exit 2 with the file and line', async () => {
    const flow = join(dir, 'bad.yaml');
    writeFileSync(flow, readFileSync(join(EXAMPLES, 'orders-demo.yaml'), 'utf8'));
    writeFileSync(join(dir, 'bad.tests.yaml'), 'tests:\n  - name: x\n    inputs: { orders: [ }\n');
    const r = await runCli(['test', flow]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.tests\.yaml: line 3, column \d+: invalid YAML/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace

    writeFileSync(join(dir, 'bad.tests.yaml'), 'tests:\n  - name: x\n    inputs: { nowhere: [] }\n    expect: {}\n');
    const unknown = await runCli(['test', flow]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('inputs.nowhere is not a source of flow orders-demo (sources: orders)');
  }, 120_000);
});

describe('compareRecords', () => {
  const rec = (id: number, v: Record<string, unknown>) => ({ key: { id }, op: 'c' as const, value: { id, ...v } });
  it('matches by key regardless of order unless ordered', () => {
    const e = [rec(1, { a: 1 }), rec(2, { a: 2 })];
    expect(compareRecords(e, [e[1], e[0]], false)).toEqual([]);
    expect(compareRecords(e, [e[1], e[0]], true)).toContain('record #1 (id=1): field id: expected 1, got 2');
  });
  it('names missing and unexpected records', () => {
    expect(compareRecords([rec(1, {})], [rec(3, {})], false)).toEqual(['record id=1: missing (expected {"id":1})', 'record id=3: unexpected (got {"id":3})']);
  });
});
