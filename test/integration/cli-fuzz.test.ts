/**
 * Fuzz: 300 generated flow documents (YAML and JSON, valid-ish and broken, aliases, tags, deep nesting)
 * through the real `sluice validate` (spawned from dist/, in a few processes of many files each, plus a
 * sample one file per process) and bad ones through `sluice run`: exit 0 or 2 only, one line on stderr
 * for each bad file, never a stack trace. Replay a failure with SLUICE_FUZZ_SEED=<seed>.
 */
import { expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { runCli } from '../helpers/cli.js';
import { flowText, FUZZ_SEED, STACK_TRACE } from '../helpers/fuzz-inputs.js';
import { tempDir } from '../helpers/node-harness.js';

const BATCHES = 4;

function writeFiles(dir: string): string[] {
  const texts = fc.sample(flowText, { numRuns: 300, seed: FUZZ_SEED });
  const files = texts.map((text, i) => {
    const ext = i % 11 === 0 ? 'txt' : /^\s*[{[]/.test(text) ? 'json' : i % 13 === 0 ? 'json' : 'yaml';
    const file = join(dir, `f${i}.${ext}`);
    writeFileSync(file, text);
    return file;
  });
  // what a user may also hand it: a directory, a missing file, a file too large, binary noise
  mkdirSync(join(dir, 'a-dir.yaml'));
  writeFileSync(join(dir, 'huge.yaml'), `apiVersion: sluice/v1\nname: huge\nx: "${'x'.repeat(6 * 1024 * 1024)}"\n`);
  writeFileSync(join(dir, 'binary.yaml'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  return [...files, join(dir, 'a-dir.yaml'), join(dir, 'missing.yaml'), join(dir, 'huge.yaml'), join(dir, 'binary.yaml')];
}

/** `fn` over `items`, `n` at a time (processes on a small machine) */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

const where = (file: string, out: string) => `seed ${FUZZ_SEED}, ${file}:\n${out.slice(0, 1500)}`;

/** a `sluice validate` of many files: exit 0 or 2, no stack trace, each file either "valid" on stdout or one stderr line */
function checkValidateRuns(batches: string[][], results: { code: number | null; stdout: string; stderr: string }[]) {
  const valid = new Set<string>();
  const invalid = new Set<string>();
  results.forEach((r, b) => {
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code === 0 || r.code === 2, where(`batch ${b}`, out)).toBe(true);
    expect(out, where(`batch ${b}`, out)).not.toMatch(STACK_TRACE);
    expect(out).not.toMatch(/internal error/);
    const errLines = r.stderr.split('\n').filter(Boolean);
    for (const file of batches[b]) {
      const mine = errLines.filter((l) => l.startsWith(`sluice: ${file}: `) || l.startsWith(`sluice: cannot read flow ${file}: `));
      const ok = r.stdout.includes(`${file}: valid (`);
      expect(mine.length + (ok ? 1 : 0), where(file, out)).toBe(1);
      (ok ? valid : invalid).add(file);
    }
    expect(errLines.length, where(`batch ${b}`, r.stderr)).toBe(batches[b].filter((f) => invalid.has(f)).length);
    expect(r.code).toBe(batches[b].some((f) => invalid.has(f)) ? 2 : 0);
  });
  return { valid, invalid };
}

it('sluice validate on 300 generated flow files: exit 0 or 2, one stderr line per bad file, no stack trace', async () => {
  const dir = tempDir();
  const files = writeFiles(dir);
  const batches = Array.from({ length: BATCHES }, (_, b) => files.filter((_, i) => i % BATCHES === b));
  const results = await Promise.all(batches.map((batch) => runCli(['validate', ...batch], { cwd: dir })));
  const { valid, invalid } = checkValidateRuns(batches, results);
  // the generators reach both sides
  expect(valid.size).toBeGreaterThan(0);
  expect(invalid.size).toBeGreaterThan(100);

  // one file per process, as a script calls it: a sample of both kinds, with the exit code each
  const sample = files.filter((_, i) => i % 30 === 0).concat([...valid].slice(0, 3), files.slice(-4));
  await pool(sample, 3, async (file) => {
    const r = await runCli(['validate', file], { cwd: dir });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code, where(file, out)).toBe(valid.has(file) ? 0 : 2);
    expect(out, where(file, out)).not.toMatch(STACK_TRACE);
    if (r.code === 2) expect(r.stderr.trim().split('\n'), where(file, out)).toHaveLength(1);
  });

  // sluice run on bad files: the same one line and exit 2
  await pool([...invalid].filter((_, i) => i % 30 === 0), 3, async (file) => {
    const r = await runCli(['run', file, '--quiet', '--state', join(dir, 'state.db')], { cwd: dir });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code, where(file, out)).toBe(2);
    expect(r.stderr.trim().split('\n'), where(file, out)).toHaveLength(1);
    expect(out, where(file, out)).not.toMatch(STACK_TRACE);
  });
}, 60_000);

it('sluice validate --files --env-allow --env-prefix: the same files and policy refusals, exit 2 with one line per bad file', async () => {
  const dir = tempDir();
  const root = join(dir, 'root');
  mkdirSync(root);
  const files = writeFiles(root);
  // what the policy refuses: a path outside the root, an env name not allowed, any env inside code
  const refused = {
    outside: { nodes: [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter' } }, { id: 'out', type: 'file.sink', config: { path: '/etc/sluice-out.jsonl' } }], edges: [{ from: 'gen', to: 'out' }] },
    escape: { nodes: [{ id: 'src', type: 'file.source', config: { path: '../../secret.jsonl' } }, { id: 'out', type: 'file.sink', config: { path: 'o.jsonl' } }], edges: [{ from: 'src', to: 'out' }] },
    env: { nodes: [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter' } }, { id: 'out', type: 'file.sink', config: { path: '${env:HOME}/o.jsonl' } }], edges: [{ from: 'gen', to: 'out' }] },
    code: { nodes: [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter' } }, { id: 'm', type: 'core.map', config: { code: '(v) => ({ ...v, k: "${env:APP_KEY}" })' } }], edges: [{ from: 'gen', to: 'm' }] },
  };
  const policyFiles = Object.entries(refused).map(([name, doc]) => {
    const file = join(root, `refused-${name}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'sluice/v1', name, ...doc }));
    return file;
  });
  const flags = ['--files', root, '--env-allow', 'SLUICE_FLOW_X', '--env-prefix', 'APP_'];
  const all = [...files, ...policyFiles];
  const batches = [all.filter((_, i) => i % 2 === 0), all.filter((_, i) => i % 2 === 1)];
  const results = await Promise.all(batches.map((batch) => runCli(['validate', ...flags, ...batch], { cwd: dir, env: { APP_KEY: 'k', HOME: '/root' } })));
  const { valid, invalid } = checkValidateRuns(batches, results);
  expect(valid.size).toBeGreaterThan(0);
  for (const file of policyFiles) expect(invalid.has(file), file).toBe(true);
  // one file per process: exit 2 and the one line names the refusal
  const messages = { outside: /outside the allowed file roots/, escape: /outside the allowed file roots/, env: /environment variable HOME is not allowed/, code: /cannot be used in code/ };
  for (const [i, [name, message]] of Object.entries(messages).entries()) {
    const r = await runCli(['validate', ...flags, policyFiles[i]], { cwd: dir, env: { APP_KEY: 'k', HOME: '/root' } });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code, where(name, out)).toBe(2);
    expect(r.stderr.trim().split('\n'), where(name, out)).toHaveLength(1);
    expect(r.stderr, where(name, out)).toMatch(message);
    expect(out, where(name, out)).not.toMatch(STACK_TRACE);
  }
}, 60_000);
