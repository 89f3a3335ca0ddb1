/**
 * What the browser tests and the editor benchmark share besides the server (server-process.ts): a current
 * build of the editor, and headless Chromium (playwright-core drives the system's Chromium:
 * `apt-get install chromium`; CHROMIUM_PATH overrides where it is).
 *
 * Chromium missing: a failure under CI=true, a loud skip otherwise (like test/helpers/services.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../server/package-root.js';

/** the package directory, from test/helpers/ or from dist/test/helpers/ (benchmarks run compiled) */
export const ROOT = packageRoot(fileURLToPath(import.meta.url));
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';
/**
 * Launch flags that work on a CI machine: headless, no GPU, no sandbox (tests run as root, where
 * Chromium's sandbox refuses to start), and none of the background traffic (QUIC, updates, sync) that
 * has no network to reach there.
 */
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

/** builds the editor into dist/editor unless the build there is newer than every source (scripts/build-editor.js) */
export function ensureEditorBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-editor.js')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}
