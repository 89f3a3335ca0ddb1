/**
 * Exported flows run anywhere (issue 19), through real `sluice serve` processes and the real CLI (build
 * first: `npx tsc -p .`): a flow on stored connections with passwords (PostgreSQL 127.0.0.1:5432, a role
 * made with a password — trusted locally, so MariaDB 127.0.0.1:3306 too, where a user made with a
 * password must give it) is deployed, exported (no secret in the file, `${env:…}` placeholders, the sink
 * path relative to the file root), run by `sluice run` with the variables (environment, --env-file) to
 * the same sink content; missing variables are all listed (exit 2); `--check` tests the connections;
 * imported into a second server with `secrets` it deploys to the same content; without them the
 * connections are incomplete and deploying is refused until they are completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { runCli, until } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { probeMysql, probePostgres, type ScratchDb, scratchMysql, service } from '../helpers/services.js';

const MY = await service('MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/mysql', probeMysql);
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const PG_PASSWORD = 'pw-exp-pg-Qm48z';
const MY_PASSWORD = 'pw-exp-my-Jr72w';
const PG_ROLE = 'sluice_export_role';
const MY_USER = 'sluice_export_user';
const MY_DB = 'sluice_export';
const VARS = { SLUICE_FLOW_SHOP_PASSWORD: PG_PASSWORD, SLUICE_FLOW_STORE_URL_PASSWORD: MY_PASSWORD };

const live = MY.available && PG.available;

describe.skipIf(!live)('exported flows with their connections (real PostgreSQL, MariaDB, servers and CLI)', () => {
  const servers: ServerProcess[] = [];
  let a: ServerProcess;
  let exported = '';
  let expected: { pg: unknown[]; my: unknown[] };
  const pgAddr = () => new URL(PG.url);
  const myAddr = () => new URL(MY.url);

  const sql = async (text: string) => {
    const c = new pg.Client({ connectionString: PG.url });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  const mariadb = async (text: string) => {
    const c = await mysql.createConnection({ uri: MY.url, multipleStatements: true });
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  const start = async () => {
    const s = await startServer();
    servers.push(s);
    return s;
  };
  const call = async (s: ServerProcess, method: string, path: string, body?: unknown) => {
    const res = await s.fetch(path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, headers: res.headers };
  };
  /** the records a JSON-lines sink wrote, sorted */
  const lines = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.stringify(JSON.parse(l)))
      .sort();
  const deployAndWait = async (s: ServerProcess) => {
    const r = await call(s, 'POST', '/api/flows/exp/deploy', {});
    expect(r.status, r.text).toBe(202);
    let status = '';
    // one status request at a time, each awaited: none is left in flight when the servers stop
    await until(async () => {
      status = (await call(s, 'GET', '/api/flows/exp/status')).json?.status;
      return status === 'completed' || status === 'failed';
    }, 30_000, 'the deployment to end');
    expect(status, JSON.stringify((await call(s, 'GET', '/api/flows/exp/logs')).json)).toBe('completed');
  };
  const sinks = (dir: string) => ({ pg: lines(join(dir, 'pg.jsonl')), my: lines(join(dir, 'my.jsonl')) });

  let scratch: ScratchDb | undefined;
  beforeAll(async () => {
    await sql(`DROP TABLE IF EXISTS exp_orders; DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${PG_ROLE}') THEN DROP OWNED BY ${PG_ROLE}; DROP ROLE ${PG_ROLE}; END IF; END $$;`);
    await sql(`CREATE ROLE ${PG_ROLE} LOGIN PASSWORD '${PG_PASSWORD}'`);
    await sql(`CREATE TABLE exp_orders (id int PRIMARY KEY, item text, qty int); INSERT INTO exp_orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', 7); GRANT SELECT ON exp_orders TO ${PG_ROLE}`);
    scratch = await scratchMysql(MY.url, MY_DB);
    await mariadb(`DROP USER IF EXISTS '${MY_USER}'@'%';
      CREATE TABLE ${MY_DB}.items (id int PRIMARY KEY, name varchar(20)); INSERT INTO ${MY_DB}.items VALUES (1, 'bolt'), (2, 'nut');
      CREATE USER '${MY_USER}'@'%' IDENTIFIED BY '${MY_PASSWORD}'; GRANT ALL ON ${MY_DB}.* TO '${MY_USER}'@'%';`);

    a = await start();
    const files = join(a.dataDir, 'files');
    expect((await call(a, 'POST', '/api/connections', { name: 'shop', type: 'postgres', config: { host: pgAddr().hostname, port: Number(pgAddr().port || 5432), user: PG_ROLE, password: PG_PASSWORD, database: 'postgres' } })).status).toBe(201);
    expect((await call(a, 'POST', '/api/connections', { name: 'store', type: 'mysql', config: { url: `mysql://${MY_USER}:${MY_PASSWORD}@${myAddr().host}/${MY_DB}` } })).status).toBe(201);
    // stored but unused: not exported
    expect((await call(a, 'POST', '/api/connections', { name: 'other', type: 'postgres', config: { url: 'postgres://x:pw-unused-Kk11@h/db' } })).status).toBe(201);
    const flow = {
      apiVersion: 'sluice/v1',
      name: 'exp',
      nodes: [
        { id: 'orders', type: 'postgres.source', config: { connection: 'shop', tables: ['public.exp_orders'] } },
        { id: 'pg-out', type: 'file.sink', config: { path: join(files, 'pg.jsonl') } },
        { id: 'items', type: 'mysql.source', config: { connection: 'store', tables: ['items'] } },
        { id: 'my-out', type: 'file.sink', config: { path: join(files, 'my.jsonl') } },
      ],
      edges: [
        { from: 'orders', to: 'pg-out' },
        { from: 'items', to: 'my-out' },
      ],
    };
    const created = await call(a, 'POST', '/api/flows', flow);
    expect(created.status, created.text).toBe(201);
    await deployAndWait(a);
    expected = sinks(files);
    expect(expected.pg).toHaveLength(3);
    expect(expected.my).toHaveLength(2);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (live) {
      await sql(`DROP TABLE IF EXISTS exp_orders; DROP OWNED BY ${PG_ROLE}; DROP ROLE IF EXISTS ${PG_ROLE}`).catch(() => {});
      await scratch?.drop();
      await mariadb(`DROP USER IF EXISTS '${MY_USER}'@'%'`).catch(() => {});
    }
  });

  it('exports the connections the flow uses with placeholders for the secrets, paths relative to the file root, and lists the variables', async () => {
    const r = await call(a, 'GET', '/api/flows/exp/export');
    expect(r.status).toBe(200);
    exported = r.text;
    for (const secret of [PG_PASSWORD, MY_PASSWORD, 'pw-unused-Kk11']) expect(exported).not.toContain(secret);
    expect(exported).toContain('password: ${env:SLUICE_FLOW_SHOP_PASSWORD}');
    expect(exported).toContain(`url: mysql://${MY_USER}:\${env:SLUICE_FLOW_STORE_URL_PASSWORD}@${myAddr().host}/${MY_DB}`);
    expect(exported).toContain('path: pg.jsonl');
    expect(exported).not.toContain('other');
    expect(r.headers.get('x-sluice-variables')).toBe('SLUICE_FLOW_SHOP_PASSWORD, SLUICE_FLOW_STORE_URL_PASSWORD');

    const described = await call(a, 'GET', '/api/flows/exp/export?format=json&variables=true');
    expect(described.json.variables).toEqual([
      { name: 'SLUICE_FLOW_SHOP_PASSWORD', connection: 'shop', field: 'password' },
      { name: 'SLUICE_FLOW_STORE_URL_PASSWORD', connection: 'store', field: 'url' },
    ]);
    expect(JSON.parse(described.json.text).connections.shop).toMatchObject({ type: 'postgres', user: PG_ROLE, password: '${env:SLUICE_FLOW_SHOP_PASSWORD}' });
  });

  it('sluice run: every missing variable at once (exit 2), then the same sink content with them set, and with --env-file', async () => {
    const dir = tempDir('sluice-export-run-');
    writeFileSync(join(dir, 'exported.yaml'), exported);
    const missing = await runCli(['run', 'exported.yaml', '--quiet', '--state', 'state.db'], { cwd: dir });
    expect(missing.code).toBe(2);
    // one line naming every variable and what needs it
    expect(missing.stderr.trim().split('\n')).toEqual([
      'sluice: exported.yaml: 2 environment variables are not set: SLUICE_FLOW_SHOP_PASSWORD (connection shop, field password), SLUICE_FLOW_STORE_URL_PASSWORD (connection store, field url); set them, or pass --env-file FILE',
    ]);

    const run = await runCli(['run', 'exported.yaml', '--quiet', '--state', 'state.db'], { cwd: dir, env: VARS });
    expect(run.code, run.stderr).toBe(0);
    expect(sinks(dir)).toEqual(expected);

    const dir2 = tempDir('sluice-export-envfile-');
    writeFileSync(join(dir2, 'exported.yaml'), exported);
    writeFileSync(join(dir2, 'prod.env'), `# secrets\nSLUICE_FLOW_SHOP_PASSWORD="${PG_PASSWORD}"\nexport SLUICE_FLOW_STORE_URL_PASSWORD='${MY_PASSWORD}'  # the MariaDB user\n`);
    const viaFile = await runCli(['run', 'exported.yaml', '--quiet', '--state', 'state.db', '--env-file', 'prod.env'], { cwd: dir2 });
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(sinks(dir2)).toEqual(expected);
  }, 60_000);

  it('sluice run --check tests every connection without running: a wrong MariaDB password fails it', async () => {
    const dir = tempDir('sluice-export-check-');
    writeFileSync(join(dir, 'exported.yaml'), exported);
    const ok = await runCli(['run', 'exported.yaml', '--check'], { cwd: dir, env: VARS });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^shop: ok/m);
    expect(ok.stdout).toMatch(/^store: ok/m);
    expect(() => readFileSync(join(dir, 'pg.jsonl'))).toThrow(); // nothing ran
    const bad = await runCli(['run', 'exported.yaml', '--check'], { cwd: dir, env: { ...VARS, SLUICE_FLOW_STORE_URL_PASSWORD: 'wrong-password' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^store: failed/m);
    expect(bad.stderr).not.toContain('wrong-password');
  }, 60_000);

  it('imports into a second server with the secrets and deploys to the same content', async () => {
    const b = await start();
    const r = await call(b, 'POST', '/api/flows/import', { text: exported, format: 'yaml', secrets: VARS });
    expect(r.status, r.text).toBe(201);
    expect(r.json.connections).toEqual([
      { name: 'shop', type: 'postgres', action: 'created', missing: [] },
      { name: 'store', type: 'mysql', action: 'created', missing: [] },
    ]);
    expect(r.json.document.connections).toBeUndefined();
    await deployAndWait(b);
    expect(sinks(join(b.dataDir, 'files'))).toEqual(expected);
    // imported again: matched to the stored ones of the same name and type
    const again = await call(b, 'POST', '/api/flows/import?overwrite=true', { text: exported });
    expect(again.json.connections.map((c: { action: string }) => c.action)).toEqual(['matched', 'matched']);
    // a node's own secret (an inline URL's password) filled in from `secrets` would be written in the flow:
    // the server refuses it, naming the node and field, without echoing it
    const nodeSecret = [
      'apiVersion: sluice/v1',
      'name: exp-node',
      'nodes:',
      '  - { id: gen, type: core.generate, config: { dataset: counter, count: 1 } }',
      `  - { id: out, type: mysql.sink, config: { url: "mysql://${MY_USER}:\${env:SLUICE_FLOW_NODE_OUT_URL_PASSWORD}@${myAddr().host}/${MY_DB}", table: t } }`,
      'edges: [{ from: gen, to: out }]',
    ].join('\n');
    const withNode = await call(b, 'POST', '/api/flows/import', { text: nodeSecret, secrets: { SLUICE_FLOW_NODE_OUT_URL_PASSWORD: MY_PASSWORD } });
    expect(withNode.status, withNode.text).toBe(400);
    expect(withNode.json.error).toMatch(/^cannot import: nodes\[out\]\.config\.url: a password written in the flow is refused by the server/);
    expect(withNode.text).not.toContain(MY_PASSWORD);
    expect((await call(b, 'GET', '/api/flows/exp-node')).status).toBe(404);
    // a stored connection of the same name but another type is not silently used
    const clash = exported.replace('type: postgres', 'type: mysql');
    expect((await call(b, 'POST', '/api/flows/import?overwrite=true', { text: clash })).status).toBe(409);
  }, 60_000);

  it('without the secrets the connections are incomplete, and deploying is refused until they are completed', async () => {
    const c = await start();
    const r = await call(c, 'POST', '/api/flows/import', { text: exported, secrets: { SLUICE_FLOW_SHOP_PASSWORD: PG_PASSWORD } });
    expect(r.status, r.text).toBe(201);
    expect(r.json.connections[1]).toEqual({ name: 'store', type: 'mysql', action: 'created', missing: [{ field: 'url', variable: 'SLUICE_FLOW_STORE_URL_PASSWORD' }] });
    const listed = await call(c, 'GET', '/api/connections/store');
    expect(listed.json.incomplete).toEqual([{ field: 'url', variable: 'SLUICE_FLOW_STORE_URL_PASSWORD' }]);
    expect((await call(c, 'GET', '/api/connections/shop')).json.incomplete).toBeUndefined();
    // the editor's node badge: validation warns on the node that uses the incomplete connection
    const doc = (await call(c, 'GET', '/api/flows/exp')).json.document;
    const validated = await call(c, 'POST', '/api/flows/validate', doc);
    expect(validated.json.issues).toContainEqual(expect.objectContaining({ nodeId: 'items', severity: 'warning', path: 'nodes[items].config.connection' }));
    expect(validated.json.issues.filter((i: { nodeId?: string }) => i.nodeId === 'orders')).toEqual([]);
    const refused = await call(c, 'POST', '/api/flows/exp/deploy', {});
    expect(refused.status).toBe(409);
    expect(refused.json.error).toContain('store (url needs SLUICE_FLOW_STORE_URL_PASSWORD)');
    expect((await call(c, 'POST', '/api/flows/import?overwrite=true', { text: exported, secrets: { NOT_IN_FILE: 'x' } })).status).toBe(400);

    const completed = await call(c, 'PUT', '/api/connections/store', { config: { url: `mysql://${MY_USER}:${MY_PASSWORD}@${myAddr().host}/${MY_DB}` } });
    expect(completed.status, completed.text).toBe(200);
    expect(completed.json.incomplete).toBeUndefined();
    await deployAndWait(c);
    expect(sinks(join(c.dataDir, 'files'))).toEqual(expected);
  }, 60_000);
});
