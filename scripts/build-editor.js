#!/usr/bin/env node
/**
 * Builds the browser editor into dist/editor with vite, unless the build there is newer than every
 * source it comes from (editor/ and the runtime modules it imports). `npm start` runs it before serving;
 * the browser tests run it before launching Chromium. `--force` builds anyway.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const index = join(root, 'dist', 'editor', 'index.html');
const sources = Math.max(newestMtime(join(root, 'editor')), newestMtime(join(root, 'runtime')));
if (!process.argv.includes('--force') && existsSync(index) && statSync(index).mtimeMs > sources) {
  process.exit(0);
}
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
if (!existsSync(vite)) {
  process.stderr.write('sluice: cannot build the editor: vite is not installed (run `npm ci`, which installs the dev dependencies)\n');
  process.exit(existsSync(index) ? 0 : 1);
}
process.stderr.write('building the editor (dist/editor)...\n');
// always a production build: vite keeps a NODE_ENV it finds set, and under vitest (NODE_ENV=test, the
// browser tests call this) it would bundle React's development build, twice as slow to render
execFileSync(process.execPath, [vite, 'build', '--config', join(root, 'editor', 'vite.config.ts'), '--mode', 'production', '--logLevel', 'warn'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, NODE_ENV: 'production' },
});
