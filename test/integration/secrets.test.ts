/**
 * Secrets end to end, through the real `sluice serve` process (build first: `npx tsc -p .`), called as
 * its admin (test/helpers/auth.ts): connections with secrets in every form are stored, then every GET
 * route of server/API.md (users, API keys, the audit log and the session included), every line the
 * server printed, every error and every file of the data directory (byte-wise) is searched for them,
 * and for the users' passwords and API keys. Plus: a plain-text store of the first schema (no settings,
 * no auth tables) sealed on open, file modes (of `sluice users` too), validation on write, and key
 * rotation (key file and SLUICE_SECRET_KEY).
 * Real servers: MariaDB (MYSQL_URL, default 127.0.0.1:3306 root: a wrong password, and a user made with
 * a password), PostgreSQL (PG_URL, default 127.0.0.1:5432).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { io, type Socket } from 'socket.io-client';
import { createRegistry } from '../../nodes/catalog.js';
import { secretFieldsOfType } from '../../server/connections.js';
import { packageRoot } from '../../server/package-root.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { parseKey, SecretBox } from '../../server/store/secret-box.js';
import { TEST_ADMIN, signIn } from '../helpers/auth.js';
import { tempDir } from '../helpers/node-harness.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { probePostgres, probeMysql, service } from '../helpers/services.js';

const MY = await service('MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/mysql', probeMysql);
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const root = packageRoot(fileURLToPath(import.meta.url));
const registry = createRegistry();

/** one secret per form, each unlike any other text */
const S = {
  field: 'pw-field-7Qx2k',
  url: 'pw-url-Lk93m',
  passphrase: 'pp-tls-Zr55q',
  tlsKey: '-----BEGIN PRIVATE KEY-----pk-Bb61w',
  mongo: 'pw-mongo-Hh21j',
  mysqlField: 'pw-my-Nn08v',
  mysqlUrl: 'pw-myurl-Tt64c',
  echo: 'pw-echo-Vv17d',
  migrated: 'pw-old-Pp42s',
  mysqlOk: 'pw-myok-Gg35r',
};
/** PostgreSQL's URL with S.migrated as its password (trust: any password is accepted), and that masked */
const PG_WITH = (password: string) => {
  const u = new URL(PG.url);
  u.password = password;
  return u.toString();
};

/** where MariaDB is, `host:port` */
const MY_AT = (() => {
  const u = new URL(MY.url);
  return { host: u.hostname, port: Number(u.port || 3306), addr: `${u.hostname}:${u.port || 3306}` };
})();
/** a MariaDB user whose password is S.mysqlOk: a test that connects proves the stored secret opens right */
const MY_USER = 'sluice_secret_test';

async function mariadb(sql: string): Promise<void> {
  const c = await mysql.createConnection({ uri: MY.url, connectTimeout: 3000 });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
const ALL = Object.values(S);
/** sign-in credentials: the admin's password, a user's password, API keys; filled as they are made */
const CREDENTIALS = [TEST_ADMIN.password, 'user-pw-Ww73k'];
/** where every route of server/API.md is listed (the authorization matrix reads the same table) */
const API_MD = join(packageRoot(fileURLToPath(import.meta.url)), 'server', 'API.md');

let server: ServerProcess;
let cwd: string;
let dataDir: string;
const seen: string[] = []; // every response body

interface Res {
  status: number;
  text: string;
  json: any;
}

/** every HTTP call of this file goes through here, as the admin of `at` (its API key) unless `headers` are given */
async function api(method: string, path: string, body?: unknown, at: ServerProcess = server, headers?: Record<string, string>): Promise<Res> {
  const res = await fetch(at.url + path, {
    method,
    headers: { ...(headers ?? at.admin!.headers), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  seen.push(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** the secrets found in `text` (none, we hope) */
const leaked = (text: string) => ALL.filter((s) => text.includes(s));
/** the secrets and credentials found in `text` */
const leakedAny = (text: string) => [...ALL, ...CREDENTIALS].filter((s) => text.includes(s));

/** every file under the data directory (its file root `files/` too), byte-wise: which secret or credential appears in which file */
function scanDataDir(dir: string, at = ''): string[] {
  const found: string[] = [];
  for (const e of readdirSync(join(dir, at), { withFileTypes: true })) {
    const f = join(at, e.name);
    if (e.isDirectory()) {
      found.push(...scanDataDir(dir, f));
      continue;
    }
    const bytes = readFileSync(join(dir, f));
    for (const s of [...ALL, ...CREDENTIALS]) if (bytes.includes(Buffer.from(s, 'utf8'))) found.push(`${f}: ${s}`);
  }
  return found;
}

/** the data directory's own files (not the flows' file root in it) */
const ownFiles = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

/** the GET routes of server/API.md's role table, `:param`s filled by `fill` */
function getRoutes(fill: (route: string) => string[]): string[] {
  const routes = [...readFileSync(API_MD, 'utf8').matchAll(/^\| `GET (\/api\/[^`]*)` \|/gm)].map((m) => m[1]);
  expect(routes).toEqual(expect.arrayContaining(['/api/users', '/api/api-keys', '/api/audit', '/api/auth/session', '/api/connections/:id']));
  return routes.flatMap((r) => (r.includes(':') ? fill(r) : [r]));
}

const mode = (path: string) => statSync(path).mode & 0o777;

function sluice(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'sluice.js'), ...args], { cwd, env: { ...process.env, SLUICE_SECRET_KEY: '', ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

async function waitFor(flowId: string, statuses: string[]): Promise<any> {
  const until = Date.now() + 30_000;
  for (;;) {
    const s = await api('GET', `/api/flows/${flowId}/status`);
    if (statuses.includes(s.json.status)) return s.json;
    if (Date.now() > until) throw new Error(`${flowId} is ${s.json.status}, not ${statuses.join('|')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** a control store opened by hand with the key in `keyText` */
function openStore(keyText: string) {
  return new SqliteControlStore(join(dataDir, 'sluice.db'), {
    secretFields: (t) => secretFieldsOfType(registry, t),
    secretBox: () => new SecretBox(parseKey(keyText, 'the test key'), 'the test key'),
  });
}

beforeAll(async () => {
  cwd = tempDir('sluice-secrets-');
  dataDir = join(cwd, 'data');
  mkdirSync(dataDir);
  // a store as Sluice wrote it before encryption: secrets in clear, the file world-readable
  const old = new SqliteControlStore(join(dataDir, 'sluice.db'));
  old.createConnection('old-pg', 'postgres', { url: PG_WITH(S.migrated), password: S.migrated });
  old.close();
  // as the first schema had it: no settings table (so no key check), no users, sessions, keys or audit; user_version 1
  const raw = new Database(join(dataDir, 'sluice.db'));
  raw.exec('DROP TABLE settings; DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TABLE audit; DROP TABLE api_keys; DROP TABLE sessions; DROP TABLE users;');
  expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('settings', 'users', 'audit')").get()).toEqual({ n: 0 });
  raw.pragma('user_version = 1');
  raw.close();
  chmodSync(join(dataDir, 'sluice.db'), 0o644);
  expect(scanDataDir(dataDir)).toEqual([`sluice.db: ${S.migrated}`]);
  if (MY.available) {
    await mariadb(`DROP USER IF EXISTS '${MY_USER}'@'%'`);
    await mariadb(`CREATE USER '${MY_USER}'@'%' IDENTIFIED BY '${S.mysqlOk}'`);
  }
  // the admin is made from SLUICE_ADMIN_PASSWORD into the auth tables the server adds
  server = await startServer({ cwd, dataDir, env: { SLUICE_SECRET_KEY: '' } });
  CREDENTIALS.push(server.admin!.key);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (MY.available) await mariadb(`DROP USER IF EXISTS '${MY_USER}'@'%'`);
});

describe('a store written before encryption', () => {
  it('is sealed when the server opens it: no secret left in any file, files 0600, the key file made 0600; it gains the auth tables', async () => {
    expect(scanDataDir(dataDir)).toEqual([]);
    for (const f of ownFiles(dataDir)) expect(mode(join(dataDir, f)), f).toBe(0o600);
    expect(ownFiles(dataDir).sort()).toEqual(expect.arrayContaining(['secret.key', 'sluice.db', 'sluice.db-wal', 'sluice.db-shm', 'sluice-state.db']));
    expect((await api('GET', '/api/auth/session')).json).toMatchObject({ user: TEST_ADMIN.user, role: 'admin', via: 'key' });
    const c = await api('GET', '/api/connections/old-pg');
    expect(c.json.config).toEqual({ url: PG_WITH('***'), hasPassword: true });
  });
});

describe('connections with secrets in every form', () => {
  it('answers every write with flags and masked URLs, never the secret', async () => {
    const bodies = [
      { name: 'pg-field', type: 'postgres', config: { host: '127.0.0.1', user: 'app', password: S.field, database: 'shop' } },
      { name: 'pg-url', type: 'postgres', config: { url: `postgres://app:${S.url}@127.0.0.1:5432/postgres` } },
      { name: 'pg-tls', type: 'postgres', config: { host: 'db.example', tls: { key: S.tlsKey, passphrase: S.passphrase, rejectUnauthorized: false } } },
      { name: 'mongo-url', type: 'mongodb', config: { url: `mongodb://reader:${S.mongo}@127.0.0.1:27017/shop?authSource=admin` } },
      { name: 'my-field', type: 'mysql', config: { host: MY_AT.host, port: MY_AT.port, user: 'root', password: S.mysqlField } },
      { name: 'my-url', type: 'mariadb', config: { url: `mysql://root:${S.mysqlUrl}@${MY_AT.addr}/mysql` } },
    ];
    for (const b of bodies) expect((await api('POST', '/api/connections', b)).status, b.name).toBe(201);
    const list = (await api('GET', '/api/connections')).json as { name: string; config: Record<string, unknown> }[];
    const byName = Object.fromEntries(list.map((c) => [c.name, c.config]));
    expect(byName['pg-field']).toEqual({ host: '127.0.0.1', user: 'app', hasPassword: true, database: 'shop' });
    expect(byName['pg-url']).toEqual({ url: 'postgres://app:***@127.0.0.1:5432/postgres' });
    expect(byName['pg-tls']).toEqual({ host: 'db.example', tls: { hasKey: true, hasPassphrase: true, rejectUnauthorized: false } });
    expect(byName['mongo-url']).toEqual({ url: 'mongodb://reader:***@127.0.0.1:27017/shop?authSource=admin' });
    expect(byName['my-url']).toEqual({ url: `mysql://root:***@${MY_AT.addr}/mysql` });
  });

  it('keeps the stored password when a save sends back the masked URL or the flags', async () => {
    const got = await api('GET', '/api/connections/pg-url');
    const put = await api('PUT', '/api/connections/pg-url', { config: { ...got.json.config, url: got.json.config.url.replace('5432/postgres', '5432/shop') } });
    expect(put.json.config).toEqual({ url: 'postgres://app:***@127.0.0.1:5432/shop' });
    const tls = await api('GET', '/api/connections/pg-tls');
    expect((await api('PUT', '/api/connections/pg-tls', { config: tls.json.config })).json.config).toEqual(tls.json.config);
    // what was kept is checked in the store itself below (key rotation), after the server stops
  });

  it('refuses a config its connector schema does not allow, naming the field', async () => {
    const port = await api('POST', '/api/connections', { name: 'bad-port', type: 'postgres', config: { host: 'h', port: 'five' } });
    expect(port.status).toBe(400);
    expect(port.json.error).toMatch(/^invalid postgres connection: config\.port: /);
    expect(port.json.details).toEqual([expect.objectContaining({ path: 'config.port' })]);
    const unknown = await api('POST', '/api/connections', { name: 'bad-field', type: 'mysql', config: { host: 'h', pwd: 'x' } });
    expect(unknown).toMatchObject({ status: 400, json: { error: 'invalid mysql connection: config.pwd: unknown field: the mysql connector has no "pwd"', details: [{ path: 'config.pwd', message: expect.any(String) }] } });
    const nested = await api('POST', '/api/connections', { name: 'bad-tls', type: 'mongodb', config: { tls: { passphrase: 5 } } });
    expect(nested).toMatchObject({ status: 400, json: { details: [expect.objectContaining({ path: 'config.tls.passphrase' })] } });
    const put = await api('PUT', '/api/connections/pg-field', { config: { host: 'h', port: 70000 } });
    expect(put).toMatchObject({ status: 400, json: { details: [expect.objectContaining({ path: 'config.port' })] } });
    const masked = await api('POST', '/api/connections', { name: 'bad-mask', type: 'postgres', config: { url: 'postgres://u:***@h/db' } });
    expect(masked).toMatchObject({ status: 400, json: { error: expect.stringMatching(/no password is stored/) } });
    expect((await api('GET', '/api/connections/bad-port')).status).toBe(404);
  });

  it.skipIf(!MY.available)('a connection test with the right password, stored encrypted, connects (the secret opens as it was written)', async () => {
    expect((await api('POST', '/api/connections', { name: 'my-ok', type: 'mysql', config: { url: `mysql://${MY_USER}:${S.mysqlOk}@${MY_AT.addr}/` } })).status).toBe(201);
    const r = await api('POST', '/api/connections/my-ok/test');
    expect(r.json).toMatchObject({ ok: true });
    expect(leaked(r.text)).toEqual([]);
  });

  it.skipIf(!MY.available)('a failed connection test against MariaDB with a wrong password names the problem, not the password', async () => {
    for (const name of ['my-field', 'my-url']) {
      const r = await api('POST', `/api/connections/${name}/test`);
      expect(r.json, name).toMatchObject({ ok: false, error: expect.stringMatching(/access denied|password/i) });
      expect(leaked(r.text), name).toEqual([]);
    }
  });

  it.skipIf(!PG.available)('a connection test that succeeds through a URL with a password says so without it', async () => {
    const r = await api('POST', '/api/connections/old-pg/test');
    expect(r.json).toMatchObject({ ok: true });
    expect(leaked(r.text)).toEqual([]);
  });

  it.skipIf(!MY.available)('the CLI test-connection masks the URL password in what it prints', () => {
    const r = sluice(['test-connection', `mysql://root:${S.mysqlUrl}@${MY_AT.addr}/mysql`]);
    expect(r.code).toBe(1);
    expect(r.out.startsWith(`mysql://root:***@${MY_AT.addr}/mysql: failed: `)).toBe(true);
    expect(r.out).toMatch(/access denied/i);
    expect(leaked(r.out)).toEqual([]);
  });
});

describe('errors and log lines of flows', () => {
  // every socket.io event about these flows (status, log, preview:*) is kept with the responses
  let socket: Socket;
  const events: string[] = [];
  beforeAll(async () => {
    socket = io(server.url, { transports: ['websocket'], reconnection: false, extraHeaders: server.admin!.headers });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    socket.onAny((event: string, payload: unknown) => events.push(`${event} ${JSON.stringify(payload)}`));
    for (const flowId of ['echo', 'wrong-password']) await socket.emitWithAck('subscribe', { flowId });
  });
  afterAll(() => {
    socket?.close();
    seen.push(...events);
  });
  const echo = {
    apiVersion: 'sluice/v1',
    name: 'echo',
    nodes: [
      { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } },
      // the password is made at run time (a flow document is the user's text, kept as written)
      // and a stored secret (pg-field's password) appears as a plain value, as a driver may echo it
      {
        id: 'boom',
        type: 'core.map',
        config: {
          code: `(v) => { throw new Error('cannot reach postgres://app:' + ${JSON.stringify(S.echo.split('-'))}.join('-') + '@db:5432/shop; password ' + ${JSON.stringify(S.field.split('-'))}.join('-') + ' refused') }`,
        },
      },
      { id: 'out', type: 'file.sink', config: { path: './echo.jsonl' } },
    ],
    edges: [
      { from: 'gen', to: 'boom' },
      { from: 'boom', to: 'out' },
    ],
  };
  const wrongPassword = {
    apiVersion: 'sluice/v1',
    name: 'wrong-password',
    settings: { retry: { attempts: 1, backoffMs: 0 } },
    nodes: [
      { id: 'users', type: 'mysql.source', config: { connection: 'my-field', tables: ['mysql.db'] } },
      { id: 'out', type: 'file.sink', config: { path: './users.jsonl' } },
    ],
    edges: [{ from: 'users', to: 'out' }],
  };

  it('masks a URL password that an error echoes, in dead letters, test runs and logs', async () => {
    expect((await api('POST', '/api/flows', echo)).status).toBe(201);
    expect((await api('POST', '/api/flows/echo/deploy')).status).toBe(202);
    await waitFor('echo', ['completed', 'failed']);
    const letters = await api('GET', '/api/flows/echo/dead-letters');
    expect(letters.json).toHaveLength(3);
    expect(letters.json[0].error).toContain('postgres://app:***@db:5432/shop; password *** refused');
    const preview = await api('POST', '/api/flows/echo/preview?wait=true', {});
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('postgres://app:***@db:5432/shop; password *** refused');
  });

  it.skipIf(!MY.available)('a deployment that fails on a stored connection’s wrong password reports it without the password', async () => {
    expect((await api('POST', '/api/flows', wrongPassword)).status).toBe(201);
    expect((await api('POST', '/api/flows/wrong-password/deploy')).status).toBe(202);
    const status = await waitFor('wrong-password', ['failed']);
    expect(status.error).toMatch(/access denied/i);
  });

  it.skipIf(!MY.available)('sends the failure and its log lines over socket.io without the password', async () => {
    expect(events.some((e) => e.startsWith('log ') && /echo/.test(e))).toBe(true);
    expect(events.some((e) => e.startsWith('status ') && /access denied/i.test(e))).toBe(true);
    expect(events.flatMap(leaked)).toEqual([]);
  });
});

describe('nothing in clear anywhere', () => {
  it('not in any GET route of server/API.md (users, keys, audit and session too), any line the server printed, or any file of the data directory', async () => {
    // a user with a password and a key of theirs, made through the API: neither may show again
    const [userPw] = CREDENTIALS.slice(1);
    expect((await api('POST', '/api/users', { name: 'reader', role: 'viewer', password: userPw })).status).toBe(201);
    const session = await signIn(server.url, 'reader', userPw);
    const created = await fetch(`${server.url}/api/api-keys`, { method: 'POST', headers: { ...session.headers, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'scan' }) });
    expect(created.status).toBe(201);
    CREDENTIALS.push(((await created.json()) as { key: string }).key);
    // a failed sign-in is audited too
    expect((await fetch(`${server.url}/api/auth/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'reader', password: S.field }) })).status).toBe(401);
    const flows = ['echo', 'wrong-password'];
    const connections = ((await api('GET', '/api/connections')).json as { id: string }[]).map((c) => c.id);
    const paths = getRoutes((route) => {
      if (route.startsWith('/api/connections/:id')) return connections.map((c) => route.replace(':id', c));
      if (route.startsWith('/api/flows/:id')) {
        const shown = route.endsWith('/export') ? [`${route}?format=yaml`, `${route}?format=json`] : [route];
        return flows.flatMap((f) => shown.map((p) => p.replace(':id', f).replace(':v', '1')));
      }
      throw new Error(`no values for ${route}: add them here`);
    });
    for (const p of paths) {
      for (const [who, headers] of [
        ['key', server.admin!.headers],
        ['session', session.headers],
      ] as const) {
        const r = await api('GET', p, undefined, server, headers);
        // a flow not deployed on a schedule has none to show
        if (who === 'key') expect(r.status, p).toBe(p.endsWith('/schedule') ? 404 : 200);
        expect(leaked(r.text), `${who} ${p}`).toEqual([]);
      }
    }
    // the audit log records the connection changes, the user, the key and the failed sign-in, and holds no secret or credential
    const audit = await api('GET', '/api/audit?limit=10000');
    expect((audit.json as { action: string }[]).map((e) => e.action)).toEqual(
      expect.arrayContaining(['connection.create', 'connection.update', 'user.create', 'key.create', 'auth.signin', 'auth.signin-failed']),
    );
    expect(leakedAny(audit.text)).toEqual([]);
    // users, keys and the session show no password, hash or key
    for (const p of ['/api/users', '/api/api-keys', '/api/auth/session']) {
      const r = await api('GET', p);
      expect(leakedAny(r.text), p).toEqual([]);
      expect(r.text, p).not.toMatch(/scrypt|hash|"key":/i);
    }
    const logs = (await api('GET', '/api/flows/echo/logs')).text + (await api('GET', '/api/flows/wrong-password/logs')).text;
    if (MY.available) expect(logs).toMatch(/access denied/i);
    expect(seen.flatMap(leaked)).toEqual([]);
    expect(server.output()).toContain('POST /api/connections 201');
    expect(leakedAny(server.output())).toEqual([]);
    expect(scanDataDir(dataDir)).toEqual([]);
    // the key cannot be rotated under a running server (it holds the current key)
    expect(sluice(['secrets', 'rotate-key', '--data', dataDir])).toMatchObject({ code: 2, out: expect.stringMatching(/^sluice secrets: a Sluice server \(pid \d+\) is running on .*: stop it first/) });
    await server.stop();
    expect(existsSync(join(dataDir, 'sluice.pid'))).toBe(false);
    expect(leakedAny(server.output())).toEqual([]);
    expect(scanDataDir(dataDir)).toEqual([]);
    for (const f of ownFiles(dataDir)) expect(mode(join(dataDir, f)), f).toBe(0o600);
  });
});

describe('the key', () => {
  it('rotates: a new key file opens every secret, the old one no longer does; the secrets kept by PUT are intact', async () => {
    const keyFile = join(dataDir, 'secret.key');
    const before = readFileSync(keyFile, 'utf8');
    const r = sluice(['secrets', 'rotate-key', '--data', dataDir]);
    expect(r.out).toMatch(new RegExp(`^re-encrypted the secrets of ${MY.available ? 8 : 7} connection\\(s\\) under a new key in .*secret\\.key$`, 'm'));
    expect(r.code).toBe(0);
    const after = readFileSync(keyFile, 'utf8');
    expect(after).not.toBe(before);
    expect(mode(keyFile)).toBe(0o600);
    expect(existsSync(join(dataDir, 'secret.key.new'))).toBe(false);
    const store = openStore(after);
    try {
      expect((await store.getConnection('pg-url'))!.config).toEqual({ url: `postgres://app:${S.url}@127.0.0.1:5432/shop` });
      expect((await store.getConnection('pg-tls'))!.config).toEqual({ host: 'db.example', tls: { key: S.tlsKey, passphrase: S.passphrase, rejectUnauthorized: false } });
      expect((await store.getConnection('old-pg'))!.config.password).toBe(S.migrated);
    } finally {
      await store.close();
    }
    expect(() => openStore(before)).toThrow(/cannot decrypt .*sluice\.db's secrets with the key from the test key: it is not the key the secrets were encrypted with/);
    expect(scanDataDir(dataDir)).toEqual([]);
  });

  it('a wrong or malformed SLUICE_SECRET_KEY stops the server with one clear line, and garbage is never served', async () => {
    const other = Buffer.alloc(32, 7).toString('base64');
    await expect(startServer({ cwd, dataDir, env: { SLUICE_SECRET_KEY: other } })).rejects.toThrow(/exited \(code 2\)[\s\S]*sluice serve: cannot decrypt .* with the key from SLUICE_SECRET_KEY: it is not the key/);
    await expect(startServer({ cwd, dataDir, env: { SLUICE_SECRET_KEY: 'not-a-key' } })).rejects.toThrow(
      /exited \(code 2\)[\s\S]*sluice serve: SLUICE_SECRET_KEY is malformed: expected 32 bytes as base64 \(44 characters\) or hex \(64 characters\), got 9 characters/,
    );
    const again = await startServer({ cwd, dataDir, env: { SLUICE_SECRET_KEY: '' } });
    try {
      const c = await api('GET', '/api/connections/pg-field', undefined, again);
      expect(c.json.config).toEqual({ host: '127.0.0.1', user: 'app', hasPassword: true, database: 'shop' });
    } finally {
      await again.stop();
    }
  });

  it('from SLUICE_SECRET_KEY: no key file, a new data directory 0700, rotation takes the new key from you and says to update the variable', async () => {
    const home = tempDir('sluice-secrets-env-');
    const dir = join(home, 'data');
    const k1 = Buffer.alloc(32, 1).toString('hex');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const first = await startServer({ cwd: home, dataDir: dir, env: { SLUICE_SECRET_KEY: k1 } });
    try {
      expect(mode(dir)).toBe(0o700);
      expect((await api('POST', '/api/connections', { name: 'env-pg', type: 'postgres', config: { password: S.field } }, first)).status).toBe(201);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(dir, 'secret.key'))).toBe(false);
    expect(scanDataDir(dir)).toEqual([]);
    const missing = sluice(['secrets', 'rotate-key', '--data', dir], { SLUICE_SECRET_KEY: k1 });
    expect(missing).toMatchObject({ code: 2, out: expect.stringMatching(/^sluice secrets: SLUICE_SECRET_KEY is set, so the new key must come from you: pass --new-key KEY or set SLUICE_NEW_SECRET_KEY/) });
    const rotated = sluice(['secrets', 'rotate-key', '--data', dir], { SLUICE_SECRET_KEY: k1, SLUICE_NEW_SECRET_KEY: k2 });
    expect(rotated.out).toMatch(/re-encrypted the secrets of 1 connection\(s\) under the new key\. Set SLUICE_SECRET_KEY to the new key/);
    expect(rotated.code).toBe(0);
    await expect(startServer({ cwd: home, dataDir: dir, env: { SLUICE_SECRET_KEY: k1 } })).rejects.toThrow(/not the key/);
    const second = await startServer({ cwd: home, dataDir: dir, env: { SLUICE_SECRET_KEY: k2 } });
    try {
      expect((await api('GET', '/api/connections/env-pg', undefined, second)).json.config).toEqual({ hasPassword: true });
    } finally {
      await second.stop();
    }
  });
});

describe('sluice users', () => {
  it('makes a new data directory 0700 and its sluice.db (users, password hashes) 0600, and chmods an existing one', () => {
    const home = tempDir('sluice-secrets-users-');
    const dir = join(home, 'data');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'sluice.js'), 'users', 'add', 'ops', '--role', 'admin', '--password-stdin', '--data', dir], { input: `${CREDENTIALS[1]}\n`, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(mode(dir)).toBe(0o700);
    expect(ownFiles(dir)).toContain('sluice.db');
    for (const f of ownFiles(dir)) expect(mode(join(dir, f)), f).toBe(0o600);
    expect(scanDataDir(dir)).toEqual([]);
    chmodSync(join(dir, 'sluice.db'), 0o644);
    expect(sluice(['users', 'list', '--data', dir]).code).toBe(0);
    for (const f of ownFiles(dir)) expect(mode(join(dir, f)), f).toBe(0o600);
  });
});
