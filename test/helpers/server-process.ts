/**
 * Starts the real server (`node bin/sluice.js serve`, from dist/: build first with `npx tsc -p .`;
 * `npm test` builds in pretest) on a free port, with its data and working directory in a temp dir.
 * It starts with the admin of test/helpers/auth.ts (SLUICE_ADMIN_PASSWORD) and hands back an admin
 * API key: `server.fetch('/api/flows')` sends it; `server.admin.headers` to add it yourself.
 * `{ admin: false }` starts it without any user (the first-start setup link).
 */
import { afterAll, beforeAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../server/package-root.js';
import { tempDir } from './node-harness.js';
import { TEST_ADMIN, createKey, signIn, type Credential } from './auth.js';

export interface ServerProcess {
  url: string;
  dataDir: string;
  cwd: string;
  child: ChildProcess;
  /** everything it printed so far */
  output(): string;
  /** resolves with the exit code once the process ended */
  exited: Promise<number | null>;
  /** sends the signal (SIGTERM by default) and waits for the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** an admin API key (undefined when started with `admin: false`) */
  admin?: Credential;
  /** fetch(url + path) with the admin key's Authorization header */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** `args`: more arguments for `sluice serve` (such as `--store postgres://…`) */
export async function startServer(opts: { dataDir?: string; cwd?: string; env?: Record<string, string>; admin?: boolean; args?: string[] } = {}): Promise<ServerProcess> {
  const root = packageRoot(fileURLToPath(import.meta.url));
  if (!existsSync(join(root, 'dist', 'server', 'main.js'))) throw new Error('dist/server/main.js is missing: build first with `npx tsc -p .`');
  const cwd = opts.cwd ?? tempDir('sluice-server-');
  const dataDir = opts.dataDir ?? join(cwd, 'data');
  const child = spawn(process.execPath, [join(root, 'bin', 'sluice.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--data', dataDir, ...(opts.args ?? [])], {
    cwd,
    env: { ...process.env, ...(opts.admin === false ? {} : { SLUICE_ADMIN_USER: TEST_ADMIN.user, SLUICE_ADMIN_PASSWORD: TEST_ADMIN.password }), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`the server exited (code ${code}) before listening:\n${out}`)));
  });
  const admin = opts.admin === false ? undefined : await createKey(url, await signIn(url), { label: 'test admin' });
  return {
    url,
    admin,
    fetch: (path, init = {}) => fetch(url + path, { ...init, headers: { ...admin?.headers, ...(init.headers as Record<string, string> | undefined) } }),
    dataDir,
    cwd,
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** a JSON request to `at` as its admin: the status, and the answer parsed (undefined when empty) */
export async function callJson(at: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await at.fetch(path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** a `sluice serve` process started before the file's tests and stopped after them; `.server` once started */
export function serverForFile(opts: Parameters<typeof startServer>[0] = {}): { readonly server: ServerProcess } {
  const holder = {} as { server: ServerProcess };
  beforeAll(async () => {
    holder.server = await startServer(opts);
  });
  afterAll(async () => {
    await holder.server?.stop();
  });
  return holder;
}
