/**
 * `sluice test FLOW|DIR [--record [--name N] [--limit N]]`: runs the flow tests next to a flow (or of
 * every flow in a directory) and prints a diff naming test, sink, record and field. Exit 0 all passed,
 * 1 a test failed, 2 an invalid flow or tests file.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, errorMessage } from '../errors.js';
import { compileFlowText, type CompiledFlow } from '../flow/compile.js';
import type { Logger } from '../node-api.js';
import type { NodeRegistry } from '../registry.js';
import { redactText } from '../redact.js';
import { checkAgainstFlow, formatTestFile, readTestFile, recordTest, runTest, testsFileOf, type TestFile } from './flow-tests.js';

export interface TestCommandOptions {
  record?: boolean;
  name?: string;
  limit?: number;
  timeout?: number;
}

const out = (line: string) => process.stdout.write(`${redactText(line)}\n`);

/** run-time warnings of the nodes, quietly: the diff is what the user reads */
const quietLog: Logger = { info: () => {}, warn: () => {}, error: (m) => process.stderr.write(`error: ${redactText(m)}\n`) };

function compile(flowFile: string, registry: NodeRegistry): CompiledFlow {
  let text: string;
  try {
    text = readFileSync(flowFile, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read flow ${flowFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
  }
  return compileFlowText(text, registry, { file: flowFile, env: process.env });
}

/** the flow a `X.tests.yaml` belongs to: `X.yaml`, `X.yml` or `X.json` beside it */
function flowOfTests(testsFile: string): string {
  const base = testsFile.replace(/\.tests\.yaml$/, '');
  const found = ['.yaml', '.yml', '.json'].map((e) => base + e).find((f) => existsSync(f));
  if (!found) throw new UserError(`${testsFile}: no flow beside it (looked for ${base}.yaml, .yml, .json)`);
  return found;
}

export async function testCommand(target: string, opts: TestCommandOptions, registry: NodeRegistry): Promise<number> {
  const timeoutMs = opts.timeout ?? 60_000;
  if (opts.record) {
    const plan = compile(target, registry);
    const file = testsFileOf(target);
    const existing: TestFile = existsSync(file) ? readTestFile(file) : { tests: [] };
    const name = opts.name ?? 'default';
    const test = await recordTest(plan, name, opts.limit ?? 10, { log: quietLog, timeoutMs });
    const at = existing.tests.findIndex((t) => t.name === name);
    if (at >= 0) existing.tests[at] = test;
    else existing.tests.push(test);
    writeFileSync(file, formatTestFile(existing));
    const counts = (m: Record<string, unknown[]>) => Object.entries(m).map(([id, l]) => `${id} ${l.length}`).join(', ') || 'none';
    out(`${file}: recorded test ${JSON.stringify(name)} (inputs: ${counts(test.inputs)}; expected: ${counts(test.expect)})`);
    return 0;
  }
  let pairs: { flow: string; tests: string }[];
  if (statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    const files = readdirSync(target).filter((f) => f.endsWith('.tests.yaml')).sort();
    if (files.length === 0) throw new UserError(`${target}: no *.tests.yaml files (record one with \`sluice test FLOW --record\`)`);
    pairs = files.map((f) => ({ tests: join(target, f), flow: flowOfTests(join(target, f)) }));
  } else {
    pairs = [{ flow: target, tests: testsFileOf(target) }];
  }
  // every file is checked before anything runs: an invalid one is exit 2, not a half-run suite
  const loaded = pairs.map((p) => {
    const plan = compile(p.flow, registry);
    const tf = readTestFile(p.tests);
    for (const t of tf.tests) checkAgainstFlow(t, plan, p.tests);
    return { ...p, plan, tf };
  });
  let failed = 0;
  let passed = 0;
  for (const { tests, plan, tf } of loaded) {
    for (const t of tf.tests) {
      const r = await runTest(plan, t, { log: quietLog, timeoutMs });
      if (r.passed) {
        passed++;
        out(`ok    ${tests} › ${t.name}`);
        continue;
      }
      failed++;
      out(`FAIL  ${tests} › ${t.name}`);
      if (r.error) out(`  the flow failed: ${r.error}`);
      for (const d of r.diffs) {
        for (const line of d.lines.slice(0, 50)) out(`  ${t.name} › ${d.sink} › ${line}`);
        if (d.lines.length > 50) out(`  ${t.name} › ${d.sink} › … and ${d.lines.length - 50} more differences`);
      }
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}
