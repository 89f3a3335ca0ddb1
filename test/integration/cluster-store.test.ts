/**
 * `--store postgres://…`: `sluice serve` and the commands that manage users, API keys and secrets keep
 * everything in the PostgreSQL schema the URL names (PG_URL's server, a fresh schema per test), nothing
 * in the data directory. Runs the real `sluice` (dist/: build first with `npx tsc -p tsconfig.json`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { probePostgres, service } from '../helpers/services.js';
import { storeBackends } from '../helpers/store-backends.js';
import { signIn } from '../helpers/auth.js';

const pgService = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const postgres = storeBackends(pgService).find((b) => b.name === 'postgres')!;
const KEY = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const NEW_KEY = 'ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=';

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
afterAll(() => postgres.cleanup());

/** `sluice ARGS` with a password on stdin where given */
async function sluice(args: string[], env: Record<string, string> = {}, stdin?: string) {
  if (stdin === undefined) return runCli(args, { env });
  const { spawnSync } = await import('node:child_process');
  const { BIN } = await import('../helpers/cli.js');
  const r = spawnSync(process.execPath, [BIN, ...args], { input: stdin, encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!postgres.available)('--store postgres://', () => {
  it('users and API keys made from the command line sign in and call a server on the same store; the data directory stays empty of stores', async () => {
    const store = postgres.location();
    const add = await sluice(['users', 'add', 'ops', '--role', 'admin', '--password-stdin', '--store', store], {}, 'ops-password-1\n');
    expect([add.code, add.stdout, add.stderr]).toEqual([0, 'added ops (admin)\n', '']);
    const key = await sluice(['api-keys', 'create', '--user', 'ops', '--label', 'deploy', '--store', store]);
    expect(key.code).toBe(0);
    const apiKey = key.stdout.trim();
    expect((await sluice(['users', 'list', '--store', store])).stdout).toMatch(/^ops\tadmin\tcreated /);

    const server = await startServer({ admin: false, args: ['--store', store], env: { SLUICE_SECRET_KEY: KEY } });
    servers.push(server);
    expect(server.output()).toMatch(/stores in postgres:\/\/.*\(schema t_/);
    const auth = { authorization: `Bearer ${apiKey}` };
    const flows = await fetch(`${server.url}/api/flows`, { headers: auth });
    expect(flows.status).toBe(200);
    // the schema was made by `users add`, so this is not a first start: no demo flow (as with a data directory)
    expect(await flows.json()).toEqual([]);
    expect((await signIn(server.url, 'ops', 'ops-password-1')).role).toBe('admin');
    expect(existsSync(join(server.dataDir, 'sluice.db'))).toBe(false);
    expect(existsSync(join(server.dataDir, 'sluice-state.db'))).toBe(false);

    // a connection's password is sealed in PostgreSQL, and comes back after a restart
    const json = { ...auth, 'content-type': 'application/json' };
    const created = await fetch(`${server.url}/api/connections`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'shop', type: 'postgres', config: { host: 'db', password: 'pw-sealed-9' } }) });
    expect(created.status).toBe(201);
    const [row] = await postgres.raw<{ config: string }>(store, 'SELECT config FROM connections WHERE id = $1', ['shop']);
    expect(row.config).not.toContain('pw-sealed-9');
    const audit = await postgres.raw<{ action: string; user_name: string }>(store, 'SELECT action, user_name FROM audit ORDER BY id');
    expect(audit.map((a) => [a.action, a.user_name])).toEqual(expect.arrayContaining([['user.create', expect.stringMatching(/^cli:/)], ['key.create', expect.stringMatching(/^cli:/)], ['connection.create', 'ops']]));
    await server.stop();

    // rotate the key with the server stopped, then start on the new key
    const rotated = await sluice(['secrets', 'rotate-key', '--store', store, '--new-key', NEW_KEY], { SLUICE_SECRET_KEY: KEY });
    expect([rotated.code, rotated.stderr]).toEqual([0, '']);
    expect(rotated.stdout).toMatch(/re-encrypted the secrets of 1 connection\(s\) in .* under the new key/);
    const again = await startServer({ admin: false, args: ['--store', store], env: { SLUICE_SECRET_KEY: NEW_KEY } });
    servers.push(again);
    const conns = (await (await fetch(`${again.url}/api/connections`, { headers: auth })).json()) as { name: string; config: { hasPassword?: boolean } }[];
    expect(conns.map((c) => [c.name, c.config.hasPassword])).toEqual([['shop', true]]);

  });

  it('answers mistakes with exit 2 and one line, the URL password masked', async () => {
    const store = postgres.location();
    const noKey = await sluice(['serve', '--port', '0', '--data', join(tempDir(), 'data'), '--store', store], { SLUICE_SECRET_KEY: '' });
    expect([noKey.code, noKey.stderr]).toEqual([2, expect.stringMatching(/^sluice serve: the store .* keeps connection secrets encrypted, .*set SLUICE_SECRET_KEY/)]);
    expect(noKey.stderr.trim().split('\n')).toHaveLength(1);

    const notUrl = await sluice(['serve', '--port', '0', '--store', 'mysql://u:hunter2@h/db']);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toMatch(/is not a postgres:\/\/ URL/);
    expect(notUrl.stderr).not.toContain('hunter2');

    const missing = await sluice(['users', 'list', '--store', store]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/^sluice: no Sluice store at postgres:\/\/.*: start the server on it once, or check --store\n$/)]);

    const dir = await sluice(['users', 'list', '--store', './data']);
    expect([dir.code, dir.stderr]).toEqual([2, expect.stringMatching(/^sluice: --store \.\/data: expected a postgres:\/\/ URL/)]);

    const unreachable = await sluice(['users', 'list', '--store', 'postgres://u:hunter2@127.0.0.1:1/db']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).not.toContain('hunter2');
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
  });
});
