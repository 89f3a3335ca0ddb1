/**
 * Flow tests: a preview run turned into a test. A test holds the records each source gave and what each
 * sink would have written; running it replaces every source by a source that replays its recorded
 * records, runs the flow in preview mode (nothing is written) and compares each sink's output with the
 * recorded one, by key unless the test says `ordered: true`. Tests live next to the flow in
 * `FLOW.tests.yaml`, plain YAML meant for git.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse, stringify, YAMLParseError } from 'yaml';
import { UserError } from '../errors.js';
import type { CompiledFlow, CompiledNode } from '../flow/compile.js';
import { fixedSource } from '../flow/fixed-source.js';
import type { Op, SluiceRecord, Value } from '../records.js';
import { Preview } from '../deploy/preview.js';
import type { Logger } from '../node-api.js';
import type { Difference, FlowTest, TestRecord } from './test-wire.js';

/** records kept per source and per sink in a test: a test is a sample, not a data set */
export const MAX_TEST_RECORDS = 10_000;

export type { Difference, FlowTest, TestRecord } from './test-wire.js';

export interface TestFile {
  tests: FlowTest[];
}

/** `flows/x.yaml` → `flows/x.tests.yaml` */
export function testsFileOf(flowFile: string): string {
  return flowFile.replace(/\.(ya?ml|json)$/i, '') + '.tests.yaml';
}

const isSource = (n: CompiledNode) => n.inputs.length === 0 && n.type.outputs.length > 0;
const isSink = (n: CompiledNode) => n.type.outputs.length === 0;

/** JSON's view of a value (dates become ISO strings), which is also what YAML gives back */
function plain<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

function toTestRecord(r: SluiceRecord): TestRecord {
  const t: TestRecord = { key: plain(r.key) ?? null, op: r.op, value: plain(r.value) ?? null };
  if (r.before !== undefined) t.before = plain(r.before);
  return t;
}

// ---------------------------------------------------------------- the file

function invalid(file: string, message: string): never {
  throw new UserError(`${file}: ${message}`);
}

function checkRecords(file: string, where: string, list: unknown): TestRecord[] {
  if (!Array.isArray(list)) invalid(file, `${where} must be a list of records`);
  return list.map((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) invalid(file, `${where}[${i}] must be a record ({ key, op, value })`);
    const rec = r as Record<string, unknown>;
    if (!['c', 'u', 'd', 'r'].includes(rec.op as string)) invalid(file, `${where}[${i}].op must be one of c, u, d, r (got ${JSON.stringify(rec.op)})`);
    if (rec.value !== null && rec.value !== undefined && (typeof rec.value !== 'object' || Array.isArray(rec.value))) invalid(file, `${where}[${i}].value must be an object or null`);
    return { key: rec.key ?? null, op: rec.op as Op, value: (rec.value ?? null) as Value | null, ...(rec.before !== undefined ? { before: rec.before as Value | null } : {}) };
  });
}

function checkRecordMap(file: string, where: string, map: unknown): Record<string, TestRecord[]> {
  if (!map || typeof map !== 'object' || Array.isArray(map)) invalid(file, `${where} must map node ids to lists of records`);
  return Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([id, list]) => [id, checkRecords(file, `${where}.${id}`, list)]));
}

/** parses and checks a tests file; a UserError names the file, and the line for a YAML mistake */
export function parseTestFile(text: string, file: string): TestFile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const at = err.linePos?.[0];
      invalid(file, `${at ? `line ${at.line}, column ${at.col}: ` : ''}invalid YAML: ${err.message.split('\n')[0]}`);
    }
    throw err;
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as TestFile).tests)) invalid(file, 'expected `tests:` with a list of tests');
  const names = new Set<string>();
  const tests = (doc as { tests: unknown[] }).tests.map((t, i) => {
    if (!t || typeof t !== 'object') invalid(file, `tests[${i}] must be an object with name, inputs and expect`);
    const test = t as Record<string, unknown>;
    if (typeof test.name !== 'string' || !test.name) invalid(file, `tests[${i}].name must be a non-empty string`);
    if (names.has(test.name)) invalid(file, `tests[${i}]: a second test named ${JSON.stringify(test.name)}`);
    names.add(test.name);
    if (test.ordered !== undefined && typeof test.ordered !== 'boolean') invalid(file, `tests[${i}].ordered must be true or false`);
    const where = `test ${JSON.stringify(test.name)}`;
    return {
      name: test.name,
      ...(test.ordered ? { ordered: true } : {}),
      inputs: checkRecordMap(file, `${where}: inputs`, test.inputs),
      expect: checkRecordMap(file, `${where}: expect`, test.expect ?? {}),
    };
  });
  return { tests };
}

export function readTestFile(file: string): TestFile {
  let text: string;
  try {
    if (statSync(file).size > 64 * 1024 * 1024) invalid(file, 'larger than 64 MB');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read tests ${file}: ${code === 'ENOENT' ? 'no such file (record one with `sluice test FLOW --record`)' : (err as Error).message}`);
  }
  return parseTestFile(text, file);
}

export function formatTestFile(tf: TestFile): string {
  return '# Flow tests: what each source gave and what each sink would write (`sluice test FLOW`)\n' + stringify(tf, { lineWidth: 0 });
}

/** checks that the test's node ids exist in the flow, as sources and sinks */
export function checkAgainstFlow(test: FlowTest, plan: CompiledFlow, file: string): void {
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  for (const id of Object.keys(test.inputs)) {
    const n = byId.get(id);
    if (!n || !isSource(n)) invalid(file, `test ${JSON.stringify(test.name)}: inputs.${id} is not a source of flow ${plan.flow.name} (sources: ${plan.nodes.filter(isSource).map((x) => x.id).join(', ')})`);
  }
  for (const id of Object.keys(test.expect)) {
    const n = byId.get(id);
    if (!n || !isSink(n)) invalid(file, `test ${JSON.stringify(test.name)}: expect.${id} is not a sink of flow ${plan.flow.name} (sinks: ${plan.nodes.filter(isSink).map((x) => x.id).join(', ')})`);
  }
}

// ---------------------------------------------------------------- running

export interface TestRunOptions {
  cwd?: string;
  log?: Logger;
  /** the preview is stopped after this long (sources that wait for more: CDC, polling) */
  timeoutMs?: number;
}

export interface SinkOutputs {
  status: 'completed' | 'stopped' | 'failed';
  error?: string;
  /** sink id → records it would have written */
  outputs: Record<string, TestRecord[]>;
  /** source id → records it gave (what a new test records) */
  inputs: Record<string, TestRecord[]>;
}

async function previewOutputs(plan: CompiledFlow, limit: number, options: TestRunOptions): Promise<SinkOutputs> {
  const preview = new Preview(plan, { limit, sample: MAX_TEST_RECORDS, cwd: options.cwd, log: options.log, timeoutMs: options.timeoutMs });
  const summary = await preview.start();
  const outputs: Record<string, TestRecord[]> = {};
  const inputs: Record<string, TestRecord[]> = {};
  for (const n of plan.nodes) {
    const p = summary.preview?.[n.id];
    if (isSink(n)) outputs[n.id] = (p?.wouldWrite?.sample ?? []).map(toTestRecord);
    if (isSource(n)) inputs[n.id] = (p?.output.out ?? []).map(toTestRecord);
  }
  const status = summary.status === 'failed' ? 'failed' : summary.status === 'stopped' ? 'stopped' : 'completed';
  return { status, error: summary.error, outputs, inputs };
}

/** a fresh preview run of the flow, its real sources reading at most `limit` records each, as a test */
export async function recordTest(plan: CompiledFlow, name: string, limit: number, options: TestRunOptions = {}): Promise<FlowTest> {
  const run = await previewOutputs(plan, Math.min(limit, MAX_TEST_RECORDS), options);
  if (run.status === 'failed') throw new UserError(`cannot record test ${JSON.stringify(name)}: the preview of ${plan.flow.name} failed: ${run.error}`);
  return { name, inputs: run.inputs, expect: run.outputs };
}

export interface SinkDiff {
  sink: string;
  lines: string[];
  /** the same differences, each naming its record and field */
  differences: Difference[];
}

export interface TestResult {
  name: string;
  passed: boolean;
  /** the run itself failed (a node threw and the flow stopped) */
  error?: string;
  diffs: SinkDiff[];
}

/** runs one test: each source replays its recorded records, each sink's output is compared */
export async function runTest(plan: CompiledFlow, test: FlowTest, options: TestRunOptions = {}): Promise<TestResult> {
  const nodes = plan.nodes.map((n) => (isSource(n) ? fixedSource(n, () => (test.inputs[n.id] ?? []).map((r) => ({ ...plain(r), meta: { source: n.id } }))) : n));
  const run = await previewOutputs({ ...plan, nodes }, MAX_TEST_RECORDS, options);
  if (run.status === 'failed') return { name: test.name, passed: false, error: run.error, diffs: [] };
  const diffs: SinkDiff[] = [];
  const sinks = new Set([...Object.keys(test.expect), ...Object.keys(run.outputs)]);
  for (const sink of sinks) {
    const found = differences(test.expect[sink] ?? [], run.outputs[sink] ?? [], Boolean(test.ordered));
    if (found.length) diffs.push({ sink, lines: found.map((d) => d.line), differences: found });
  }
  return { name: test.name, passed: diffs.length === 0, diffs };
}

// ---------------------------------------------------------------- comparing

/** JSON with sorted object keys: equal values give equal text whatever their key order */
export function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** `id=7`, or the key as JSON when it has several fields or is not an object */
function keyLabel(key: unknown): string {
  if (key && typeof key === 'object' && !Array.isArray(key)) {
    const entries = Object.entries(key);
    return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ') || '{}';
  }
  return `key ${JSON.stringify(key)}`;
}

function show(v: unknown): string {
  const s = v === undefined ? '(absent)' : canonical(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const difference = (record: string, field: string | undefined, what: string): Difference => ({ record, ...(field ? { field } : {}), line: `record ${record}: ${what}` });

/** the differences between two records of the same place, field by field */
function recordDiff(label: string, expected: TestRecord, actual: TestRecord): Difference[] {
  const out: Difference[] = [];
  if (expected.op !== actual.op) out.push(difference(label, 'op', `op: expected ${expected.op}, got ${actual.op}`));
  for (const part of ['value', 'before'] as const) {
    const e = plain(expected[part]) ?? null;
    const a = plain(actual[part]) ?? null;
    if (canonical(e) === canonical(a)) continue;
    if (!e || !a || typeof e !== 'object' || typeof a !== 'object') {
      out.push(difference(label, part, `${part}: expected ${show(e)}, got ${show(a)}`));
      continue;
    }
    const fields = [...new Set([...Object.keys(e), ...Object.keys(a)])];
    for (const f of fields) {
      const ev = (e as Value)[f];
      const av = (a as Value)[f];
      const field = `${part === 'before' ? 'before.' : ''}${f}`;
      if (canonical(ev) !== canonical(av)) out.push(difference(label, field, `field ${field}: expected ${show(ev)}, got ${show(av)}`));
    }
  }
  return out;
}

/**
 * The differences between what a sink should write and what it would write, as readable lines.
 * Unordered: records are matched by key (records with the same key in their order); ordered: by position.
 */
export function compareRecords(expected: TestRecord[], actual: TestRecord[], ordered: boolean): string[] {
  return differences(expected, actual, ordered).map((d) => d.line);
}

/** compareRecords, each difference naming its record and field */
export function differences(expected: TestRecord[], actual: TestRecord[], ordered: boolean): Difference[] {
  const out: Difference[] = [];
  const pair = (label: string, e: TestRecord | undefined, a: TestRecord | undefined) => {
    if (!a) out.push(difference(label, undefined, `missing (expected ${show(e!.value ?? e!.before)})`));
    else if (!e) out.push(difference(label, undefined, `unexpected (got ${show(a.value ?? a.before)})`));
    else out.push(...recordDiff(label, e, a));
  };
  if (ordered) {
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) pair(`#${i + 1} (${keyLabel((expected[i] ?? actual[i])!.key)})`, expected[i], actual[i]);
    return out;
  }
  const group = (list: TestRecord[]) => {
    const m = new Map<string, TestRecord[]>();
    for (const r of list) {
      const k = canonical(plain(r.key) ?? null);
      m.set(k, [...(m.get(k) ?? []), r]);
    }
    return m;
  };
  const byKeyE = group(expected);
  const byKeyA = group(actual);
  for (const k of new Set([...byKeyE.keys(), ...byKeyA.keys()])) {
    const es = byKeyE.get(k) ?? [];
    const as = byKeyA.get(k) ?? [];
    const n = Math.max(es.length, as.length);
    for (let i = 0; i < n; i++) pair(`${keyLabel((es[i] ?? as[i])!.key)}${n > 1 ? ` (#${i + 1} with this key)` : ''}`, es[i], as[i]);
  }
  return out;
}
