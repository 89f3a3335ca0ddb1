/**
 * The CLI's host policy (`sluice run` / `sluice validate`, from dist/: build first): unconfined and every
 * env name by default, as always; `--files`, `--env-allow` and `--env-prefix` confine it like the server.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';

const flowYaml = (path: string, extra = '') => `
apiVersion: sluice/v1
name: confine
nodes:
  - id: gen
    type: core.generate
    config:
      dataset: counter
      count: \${env:GEN_COUNT:-3}
  - id: map
    type: core.map
    config: { code: "(v) => ({ ...v, tag: '${extra}' })" }
  - id: out
    type: file.sink
    config: { path: ${JSON.stringify(path)} }
edges:
  - { from: gen, to: map }
  - { from: map, to: out }
`;

function setup(path: (dir: string) => string, extra?: string) {
  const dir = tempDir('sluice-cli-confine-');
  const file = join(dir, 'flow.yaml');
  writeFileSync(file, flowYaml(path(dir), extra));
  return { dir, file, state: join(dir, 'state.db') };
}
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

describe('sluice run and validate: unconfined unless asked', () => {
  it('writes anywhere and reads any env name without flags', async () => {
    const outside = join(tempDir(), 'out.jsonl');
    const { dir, file, state } = setup(() => outside, '${env:HOME}');
    const r = await runCli(['run', file, '--quiet', '--state', state], { cwd: dir, env: { GEN_COUNT: '2' } });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(outside)).toHaveLength(2);
    expect(JSON.parse(lines(outside)[0]).tag).toBe(process.env.HOME);
  });

  it('--files confines reads and writes: a path outside, a ../ escape and a symlink out are refused with exit 2', async () => {
    const outside = tempDir();
    for (const path of [join(outside, 'out.jsonl'), '../escape.jsonl', 'link/out.jsonl']) {
      const { dir, file, state } = setup(() => path);
      mkdirSync(join(dir, 'root'));
      symlinkSync(outside, join(dir, 'root', 'link'));
      const r = await runCli(['run', file, '--quiet', '--state', state, '--files', 'root'], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('path:')) + 1;
      expect(r.stderr).toBe(`sluice: ${file}: nodes[out].config.path: ${path} is outside the allowed file roots (root) (line ${line})\n`);
      const v = await runCli(['validate', file, '--files', 'root'], { cwd: dir });
      expect(v.code).toBe(2);
      expect(v.stderr).toContain(`nodes[out].config.path: ${path} is outside the allowed file roots (root)`);
    }
    expect(existsSync(join(outside, 'out.jsonl'))).toBe(false);
  });

  it('--files: relative paths resolve against the first root, and the state file is out of reach', async () => {
    const { dir, file, state } = setup(() => 'sub/out.jsonl');
    const r = await runCli(['run', file, '--quiet', '--state', state, '--files', 'a', '--files', 'b'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(join(dir, 'a', 'sub', 'out.jsonl'))).toHaveLength(3);
    const onState = setup((d) => join(d, 'state.db'));
    const s = await runCli(['run', onState.file, '--quiet', '--state', onState.state, '--files', '.'], { cwd: onState.dir });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/nodes\[out\]\.config\.path: .*state\.db is inside the state file \(.*state\.db\), which flows cannot reach/);
  });

  it('--env-allow / --env-prefix: other names refused, and no env inside code', async () => {
    const { dir, file, state } = setup(() => 'out.jsonl');
    const refused = await runCli(['run', file, '--quiet', '--state', state, '--env-prefix', 'SLUICE_FLOW_'], { cwd: dir, env: { GEN_COUNT: '2' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/nodes\[gen\]\.config\.count: environment variable GEN_COUNT is not allowed here: .*--env-allow GEN_COUNT/);
    const allowed = await runCli(['run', file, '--quiet', '--state', state, '--env-allow', 'GEN_COUNT'], { cwd: dir, env: { GEN_COUNT: '2' } });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(2);
    const code = setup(() => 'out.jsonl', '${env:GEN_COUNT}');
    const inCode = await runCli(['validate', code.file, '--env-allow', 'GEN_COUNT'], { cwd: code.dir, env: { GEN_COUNT: '2' } });
    expect(inCode.code).toBe(2);
    expect(inCode.stderr).toMatch(/nodes\[map\]\.config\.code: \$\{env:GEN_COUNT\} cannot be used in code/);
  });

  it('documents the flags in --help', async () => {
    const run = await runCli(['run', '--help']);
    for (const flag of ['--files <dir>', '--env-allow <name>', '--env-prefix <prefix>']) expect(run.stdout).toContain(flag);
    const serve = await runCli(['serve', '--help']);
    for (const flag of ['--files <dir>', '--env-allow <name>', '--env-prefix <prefix>']) expect(serve.stdout).toContain(flag);
    expect(serve.stdout).toContain('default <data>/files');
  });
});
