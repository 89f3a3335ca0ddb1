/**
 * What the browser tests and the editor benchmark share: a current build of the editor, headless
 * Chromium (playwright-core drives the system's Chromium: `apt-get install chromium`; CHROMIUM_PATH
 * overrides where it is), and `openEditor()`, a server with a signed-in page on the editor, which every
 * test/e2e file starts from.
 *
 * Chromium missing: a failure under CI=true, a loud skip otherwise (like test/helpers/services.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { packageRoot } from '../../server/package-root.js';
import { signInBrowser } from './auth.js';
import { startServer, type ServerProcess } from './server-process.js';

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

export interface EditorSession {
  server: ServerProcess;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** closes the browser, stops the server and removes its directory */
  close(): Promise<void>;
}

export interface OpenEditorOptions {
  /** startServer's options (e.g. `{ admin: false }`) */
  server?: Parameters<typeof startServer>[0];
  /** added to the browser context's options (a 1440×900 viewport) */
  context?: BrowserContextOptions;
  /** sign the context in as the test admin (default true) */
  signIn?: boolean;
  /** runs before the page loads anything: listeners, init scripts */
  prepare?: (page: Page, context: BrowserContext) => void | Promise<void>;
  /** go to the editor and wait for this palette entry (a node type); false stays on a blank page */
  waitFor?: string | false;
}

/**
 * A fresh server (with a current editor build), Chromium, and a page signed in on the editor with
 * the palette loaded (the page's default timeout 15 s). What is started is stopped again when a later
 * step fails; `close()` ends it all (safe in afterAll after a failed start: call it on what you got).
 */
export async function openEditor(o: OpenEditorOptions = {}): Promise<EditorSession> {
  ensureEditorBuilt();
  const server = await startServer(o.server);
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server.stop();
    rmSync(server.cwd, { recursive: true, force: true });
  };
  try {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...o.context });
    if (o.signIn !== false) await signInBrowser(context, server.url);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await o.prepare?.(page, context);
    const waitFor = o.waitFor ?? 'core.generate';
    if (waitFor !== false) {
      await page.goto(`${server.url}/#/`);
      await page.getByTestId(`palette-${waitFor}`).waitFor();
    }
    return { server, browser, context, page, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
