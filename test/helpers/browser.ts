/**
 * What the browser tests and the editor benchmark share besides the server (server-process.ts): a current
 * build of the editor, and headless Chromium (playwright-core drives the system's Chromium:
 * `apt-get install chromium`; CHROMIUM_PATH overrides where it is).
 *
 * Chromium missing: a failure under CI=true, a loud skip otherwise (like test/helpers/services.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../server/package-root.js';

/** the package directory, from test/helpers/ or from dist/test/helpers/ (benchmarks run compiled) */
export const ROOT = packageRoot(fileURLToPath(import.meta.url));
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';
/** launch flags verified on these machines (shared/ENVIRONMENT.md) */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface ChromiumCheck {
  available: boolean;
  reason?: string;
}

export function chromiumAvailable(): ChromiumCheck {
  if (existsSync(CHROMIUM_PATH)) return { available: true };
  const reason = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${reason}. Under CI=true this is a failure, not a skip.`);
  process.stderr.write(`\n\x1b[33m!!! SKIPPING browser tests: ${reason}\x1b[0m\n\n`);
  return { available: false, reason };
}

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** builds the editor into dist/editor unless the build there is newer than every source file */
export function ensureEditorBuilt(): void {
  const index = join(ROOT, 'dist', 'editor', 'index.html');
  const sources = Math.max(newestMtime(join(ROOT, 'editor')), newestMtime(join(ROOT, 'runtime', 'flow')));
  if (existsSync(index) && statSync(index).mtimeMs > sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'editor', 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
