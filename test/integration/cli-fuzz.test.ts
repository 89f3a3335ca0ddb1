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

it('sluice validate on 300 generated flow files: exit 0 or 2, one stderr line per bad file, no stack trace', async () => {
  const dir = tempDir();
  const files = writeFiles(dir);
  const batches = Array.from({ length: BATCHES }, (_, b) => files.filter((_, i) => i % BATCHES === b));
  const results = await Promise.all(batches.map((batch) => runCli(['validate', ...batch], { cwd: dir })));
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
