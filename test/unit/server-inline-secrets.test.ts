/**
 * A flow document saved in the server never holds a secret: a declared secret field of a node or of a
 * `connections:` entry written out (not an `${env:NAME}` placeholder), or a URL's password, is refused
 * by validate, save, import and test run, naming the node and field and never echoing the value; nothing
 * of it reaches the data directory. Placeholders are accepted; the CLI (no policy) still runs an inline URL.
 * In-process server over its real HTTP API; the CLI run writes to the real PostgreSQL (trust auth).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { serverPolicy } from '../../server/policy.js';
import { createSluiceServer } from '../../server/server.js';
import { openControlStore } from '../../server/store/open-control-store.js';
import { adminKey } from '../helpers/auth.js';
import { tempDir } from '../helpers/node-harness.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

interface Res {
  status: number;
  text: string;
  json: any;
}

const PLACEHOLDER_VAR = 'SLUICE_FLOW_SRC_URL_PASSWORD';

async function start() {
  const base = tempDir('sluice-inline-');
  const dataDir = join(base, 'data');
  mkdirSync(dataDir);
  const registry = createRegistry();
  // as `sluice serve` opens it: stored secrets encrypted under a key file in the data dir
  const store = openControlStore(dataDir, registry, {});
  const checkpoints = new SqliteCheckpointStore(join(dataDir, 'sluice-state.db'));
  const server = createSluiceServer({
    registry,
    store,
    manager: new DeploymentManager({ store: checkpoints, cwd: base }),
    cwd: base,
    env: { [PLACEHOLDER_VAR]: 'from-the-environment' },
    policy: serverPolicy({ dataDir, cwd: base }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  closers.push(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });
  const admin = await adminKey(server);
  const api = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<Res> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: body === undefined ? admin.headers : { ...admin.headers, 'content-type': type },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
  };
  return { dataDir, api };
}

const flow = (src: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'sluice/v1',
  name: 'f',
  nodes: [
    { id: 'src', type: 'postgres.source', config: src },
    { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } },
  ],
  edges: [{ from: 'src', to: 'out' }],
  ...extra,
});

/** every file under `dir`, as bytes decoded as latin1 (a secret in clear shows as its text) */
function filesUnder(dir: string): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [{ path: p, text: readFileSync(p).toString('latin1') }];
  });
}

function expectNowhere(secret: string, texts: string[], dataDir: string) {
  for (const t of texts) expect(t).not.toContain(secret);
  const files = filesUnder(dataDir);
  expect(files.some((f) => f.path.endsWith('sluice.db'))).toBe(true);
  for (const f of files) expect(f.text.includes(secret), `${secret} in ${f.path}`).toBe(false);
}

/** refused by validate (valid: false), save (POST and PUT), import and test run: 400 naming `where`, the secret nowhere */
async function expectRefused(s: Awaited<ReturnType<typeof start>>, doc: Record<string, unknown>, where: string, message: RegExp, secret: string) {
  const issue = expect.objectContaining({ path: where, message: expect.stringMatching(message), severity: 'error' });
  const answers: Res[] = [];
  const validated = await s.api('POST', '/api/flows/validate', doc);
  expect(validated.json, validated.text).toMatchObject({ valid: false, issues: expect.arrayContaining([issue]) });
  answers.push(validated);
  const created = await s.api('POST', '/api/flows', doc);
  const saved = await s.api('PUT', '/api/flows/f', { baseVersion: 1, document: doc });
  const imported = await s.api('POST', '/api/flows/import', JSON.stringify(doc), 'application/yaml');
  const tested = await s.api('POST', '/api/flows/f/preview?wait=true', { document: doc });
  for (const r of [created, saved, imported, tested]) {
    expect(r, r.text).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
    expect(r.json.error).toContain(where);
    answers.push(r);
  }
  expectNowhere(secret, answers.map((a) => a.text), s.dataDir);
  expect((await s.api('GET', '/api/flows/f')).json.document.nodes[0].config).toEqual({ url: 'postgres://bob@10.0.0.1:5432/db', tables: ['t'] });
}

describe('inline secrets in the server', () => {
  it('refuses a URL password, a tls.passphrase, PEM key text and a connections: entry written in the flow', async () => {
    const s = await start();
    // a clean version 1 to PUT over
    expect((await s.api('POST', '/api/flows', flow({ url: 'postgres://bob@10.0.0.1:5432/db', tables: ['t'] }))).status).toBe(201);

    await expectRefused(
      s,
      flow({ url: 'postgres://bob:SuperSecretPW@10.0.0.1:5432/db', tables: ['t'] }),
      'nodes[src].config.url',
      /^a password written in the flow is refused by the server \(anyone who can read the flow would see it\): use a stored connection \(connection: NAME\) or a placeholder such as \$\{env:SLUICE_FLOW_NODE_SRC_URL_PASSWORD\}$/,
      'SuperSecretPW',
    );
    await expectRefused(
      s,
      flow({ url: 'postgres://bob@10.0.0.1:5432/db', tables: ['t'], tls: { passphrase: 'PassPhrase4711' } }),
      'nodes[src].config.tls.passphrase',
      /^a secret written in the flow is refused by the server .*\$\{env:SLUICE_FLOW_NODE_SRC_TLS_PASSPHRASE\}$/,
      'PassPhrase4711',
    );
    await expectRefused(
      s,
      flow({ url: 'postgres://bob@10.0.0.1:5432/db', tables: ['t'], tls: { key: '-----BEGIN PRIVATE KEY-----\nKeyMaterial0815\n-----END PRIVATE KEY-----\n' } }),
      'nodes[src].config.tls.key',
      /^a secret written in the flow is refused/,
      'KeyMaterial0815',
    );
    const entry = { type: 'postgres', url: 'postgres://bob@10.0.0.1:5432/db', password: 'ConnPassword42' };
    const withEntry = { ...flow({ connection: 'shop', tables: ['t'] }), connections: { shop: entry } };
    const issue = expect.objectContaining({ path: 'connections.shop.password', message: expect.stringMatching(/^a secret written in the flow is refused by the server .*\$\{env:SLUICE_FLOW_SHOP_PASSWORD\}$/) });
    const validated = await s.api('POST', '/api/flows/validate', withEntry);
    expect(validated.json, validated.text).toMatchObject({ valid: false, issues: expect.arrayContaining([issue]) });
    const saved = await s.api('PUT', '/api/flows/f', { baseVersion: 1, document: withEntry });
    expect(saved).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
    const tested = await s.api('POST', '/api/flows/f/preview?wait=true', { document: withEntry });
    expect(tested).toMatchObject({ status: 400, json: { details: expect.arrayContaining([issue]) } });
    expectNowhere('ConnPassword42', [validated.text, saved.text, tested.text], s.dataDir);
    expect((await s.api('GET', '/api/flows/f/versions')).json).toHaveLength(1);
  });

  it('accepts placeholders, and a connections: entry on import (stored encrypted, not kept in the flow)', async () => {
    const s = await start();
    const placeholders = flow({ url: `postgres://bob:\${env:${PLACEHOLDER_VAR}}@10.0.0.1:5432/db`, tables: ['t'], tls: { passphrase: `\${env:${PLACEHOLDER_VAR}}` } });
    expect((await s.api('POST', '/api/flows/validate', placeholders)).json.issues.filter((i: { severity: string }) => i.severity === 'error')).toEqual([]);
    const created = await s.api('POST', '/api/flows', placeholders);
    expect(created.status, created.text).toBe(201);
    expect(created.json.document.nodes[0].config.url).toBe(`postgres://bob:\${env:${PLACEHOLDER_VAR}}@10.0.0.1:5432/db`);
    // a password with the placeholder only in part is written out
    const partly = await s.api('PUT', '/api/flows/f', { baseVersion: 1, document: flow({ url: `postgres://bob:Pre\${env:${PLACEHOLDER_VAR}}@10.0.0.1/db`, tables: ['t'] }) });
    expect(partly.status).toBe(400);

    // import: the file's connections become stored (encrypted) connections, the flow keeps only the name
    const yaml = JSON.stringify({ ...flow({ connection: 'shop', tables: ['t'] }, { name: 'g' }), connections: { shop: { type: 'postgres', url: 'postgres://bob@10.0.0.1:5432/db', password: 'ConnPassword42' } } });
    const imported = await s.api('POST', '/api/flows/import', yaml, 'application/yaml');
    expect(imported.status, imported.text).toBe(201);
    expect(imported.json.connections).toEqual([{ name: 'shop', type: 'postgres', action: 'created', missing: [] }]);
    expect(imported.json.document.connections).toBeUndefined();
    const read = [imported.text, (await s.api('GET', '/api/flows/g')).text, (await s.api('GET', '/api/flows/g/versions/1')).text];
    expectNowhere('ConnPassword42', read, s.dataDir);
  });
});

describe('the CLI without a policy', () => {
  it('still runs a flow with an inline URL password', async () => {
    const dir = tempDir('sluice-inline-cli-');
    const table = `sluice_inline_cli_${process.pid}`;
    const file = join(dir, 'f.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: sluice/v1',
        'name: cli-inline',
        'nodes:',
        '  - { id: gen, type: core.generate, config: { dataset: counter, count: 2 } }',
        // trust auth on the test server: any password is accepted, so this one is written out and works
        `  - { id: out, type: postgres.sink, config: { url: "postgres://postgres:SuperSecretPW@127.0.0.1:5432/postgres", table: ${table} } }`,
        'edges: [{ from: gen, to: out }]',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['bin/sluice.js', 'run', file, '--state', join(dir, 'state.db'), '--quiet'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      expect((await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(2);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  }, 60_000);
});
