/**
 * The first start and the command line, against the real `sluice` process: the one-time setup link,
 * SLUICE_ADMIN_PASSWORD, the loopback default, and `sluice users …` / `sluice api-keys …` on the data
 * directory of a running server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { BIN, startCli, until } from '../helpers/cli.js';
import { TEST_ADMIN, signIn } from '../helpers/auth.js';
import { tempDir } from '../helpers/node-harness.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

/** `sluice ARGS` with `input` on stdin */
/**
 * The CLI as a child process, awaited without blocking this process: a blocked event loop lets the
 * server close an idle keep-alive socket unseen, and the next fetch on it fails ("other side closed").
 */
function sluice(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const json = { 'content-type': 'application/json' };

describe('first start', () => {
  it('prints a one-time setup link; the link makes the first admin, signed in; it works once', async () => {
    const server = await startServer({ admin: false });
    servers.push(server);
    await until(() => /setup\?token=/.test(server.output()), 5000, 'the setup link');
    const m = /no users yet: .*(http:\/\/localhost:(\d+)\/setup\?token=([\w-]+))/.exec(server.output())!;
    expect(m[2]).toBe(new URL(server.url).port);
    const flows = await fetch(`${server.url}/api/flows`);
    expect([flows.status, await flows.json()]).toEqual([401, { error: expect.any(String), setupRequired: true }]);
    const page = await fetch(`${server.url}/setup?token=${m[3]}`);
    expect(page.status).toBe(200);
    const setup = (token: string) => fetch(`${server.url}/api/auth/setup`, { method: 'POST', headers: json, body: JSON.stringify({ token, user: 'root', password: 'first-admin-pw' }) });
    expect((await setup('wrong-token')).status).toBe(403);
    const ok = await setup(m[3]);
    expect(ok.status).toBe(201);
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0];
    const me = await fetch(`${server.url}/api/auth/session`, { headers: { cookie } });
    expect(await me.json()).toMatchObject({ user: 'root', role: 'admin', via: 'session' });
    expect((await setup(m[3])).status).toBe(409);
    expect((await signIn(server.url, 'root', 'first-admin-pw')).role).toBe('admin');
  });

  it('seeds the admin from SLUICE_ADMIN_PASSWORD, once: no setup link, and a restart does not reset the password', async () => {
    const server = await startServer(); // SLUICE_ADMIN_USER/PASSWORD of test/helpers/auth.ts
    expect(server.output()).toMatch(/made the admin admin from SLUICE_ADMIN_PASSWORD/);
    expect(server.output()).not.toMatch(/setup\?token=/);
    const session = await signIn(server.url);
    const change = await fetch(`${server.url}/api/auth/password`, { method: 'POST', headers: { ...session.headers, ...json }, body: JSON.stringify({ current: TEST_ADMIN.password, password: 'changed-password' }) });
    expect(change.status).toBe(200);
    expect(await server.stop()).toBe(0);
    const again = await startServer({ cwd: server.cwd, dataDir: server.dataDir, admin: false, env: { SLUICE_ADMIN_PASSWORD: TEST_ADMIN.password } });
    servers.push(again);
    expect(again.output()).not.toMatch(/made the admin/);
    await expect(signIn(again.url)).rejects.toThrow(/401/);
    expect((await signIn(again.url, 'admin', 'changed-password')).role).toBe('admin');
  });

  it('refuses a SLUICE_ADMIN_PASSWORD that is too short with exit 2 and one line', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--data', join(tempDir(), 'data')], { encoding: 'utf8', env: { ...process.env, SLUICE_ADMIN_PASSWORD: 'short' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('sluice serve: SLUICE_ADMIN_PASSWORD: must be at least 8 characters\n');
  });

  it('listens on 127.0.0.1 unless told otherwise', async () => {
    const dir = tempDir();
    const { child, done } = startCli(['serve', '--port', '0', '--data', join(dir, 'data')], { cwd: dir, env: { HOST: '' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await until(() => /listening on/.test(out), 15_000, 'the server to listen');
    expect(out).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});

describe('sluice users / sluice api-keys', () => {
  it('adds, lists and removes users and creates, lists and revokes keys on a running server’s data', async () => {
    const server = await startServer();
    servers.push(server);
    const data = ['--data', server.dataDir];
    const add = (await sluice(['users', 'add', 'bob', '--role', 'viewer', '--password-stdin', ...data], 'bob-password\n'));
    expect([add.code, add.stdout, add.stderr]).toEqual([0, 'added bob (viewer)\n', '']);
    const generated = (await sluice(['users', 'add', 'eve', '--role', 'editor', ...data]));
    const evePassword = /password \(shown once\): (\S+)/.exec(generated.stdout)![1];
    expect((await signIn(server.url, 'eve', evePassword)).role).toBe('editor');
    expect((await sluice(['users', 'list', ...data])).stdout).toMatch(/^admin\tadmin\t.*\nbob\tviewer\t.*\neve\teditor\t.*\n$/);

    const bob = await signIn(server.url, 'bob', 'bob-password');
    const created = (await sluice(['api-keys', 'create', '--user', 'bob', '--label', 'report script', ...data]));
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^sluice_[\w-]{40,}$/);
    const auth = { authorization: `Bearer ${key}` };
    expect((await fetch(`${server.url}/api/flows`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${server.url}/api/flows`, { method: 'POST', headers: { ...auth, ...json }, body: '{}' })).status).toBe(403); // a viewer
    const listed = (await sluice(['api-keys', 'list', ...data])).stdout;
    const id = new RegExp(`^(\\w+)\\tbob\\tviewer\\tactive\\tlast used \\S+\\treport script$`, 'm').exec(listed)![1];
    expect((await sluice(['api-keys', 'revoke', id, ...data])).stdout).toBe(`revoked ${id}\n`);
    expect((await fetch(`${server.url}/api/flows`, { headers: auth })).status).toBe(401);

    expect((await sluice(['users', 'remove', 'bob', ...data])).code).toBe(0);
    expect((await fetch(`${server.url}/api/auth/session`, { headers: { cookie: bob.cookie } })).status).toBe(401);
    const audit = (await (await server.fetch(`/api/audit?user=cli:${userInfo().username}`)).json()) as { action: string; target: string; address: string }[];
    expect(audit.map((e) => [e.action, e.target, e.address]).reverse()).toEqual([
      ['user.create', 'bob', 'cli'],
      ['user.create', 'eve', 'cli'],
      ['key.create', id, 'cli'],
      ['key.revoke', id, 'cli'],
      ['user.delete', 'bob', 'cli'],
    ]);
  });

  it('answers mistakes with exit 2 and one line', async () => {
    const data = ['--data', join(tempDir(), 'none')];
    const cases: [string[], string, RegExp][] = [
      [['users', 'add', 'x', '--role', 'boss', ...data], '', /error: option '--role <role>' argument 'boss' is invalid/],
      [['users', 'add', 'x', '--role', 'viewer', '--password-stdin', ...data], 'short\n', /^sluice: the password on stdin must be at least 8 characters\n$/],
      [['users', 'list', ...data], '', /^sluice: no sluice.db in .*none \(start the server once, or pass --data DIR\)\n$/],
      [['users', 'add', 'bad name', '--role', 'viewer', ...data], '', /value 'bad name' is invalid/],
    ];
    for (const [args, input, err] of cases) {
      const r = await sluice(args, input);
      expect([r.code, r.stderr.trim().split('\n').length], args.join(' ')).toEqual([2, 1]);
      expect(r.stderr).toMatch(err);
    }
    const dir = join(tempDir(), 'data');
    expect((await sluice(['users', 'add', 'admin', '--role', 'admin', '--password-stdin', '--data', dir], 'admin-password\n')).code).toBe(0);
    for (const [args, err] of [
      [['api-keys', 'create', '--user', 'nobody', '--data', dir], /^sluice: no user named nobody/],
      [['users', 'remove', 'admin', '--data', dir], /^sluice: admin is the only admin/],
      [['api-keys', 'revoke', 'nope', '--data', dir], /^sluice: no API key nope\n$/],
    ] as [string[], RegExp][]) {
      const r = await sluice(args);
      expect([r.code, r.stderr.trim().split('\n').length], args.join(' ')).toEqual([2, 1]);
      expect(r.stderr).toMatch(err);
    }
  });
});
