/**
 * `sluice test-connection` and the server's connection test (the editor's Test button) for the nats,
 * http and solace connection types: what each reached, or what is wrong. Real nats-server (NATS_URL) and
 * a real local HTTP server; Solace only as a refused connect (no broker can run here).
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer } from '../../server/server.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { adminKey } from '../helpers/auth.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';
import { service } from '../helpers/services.js';

const NATS = await service('NATS JetStream', 'NATS_URL', 'nats://127.0.0.1:4222', async (url) => (await connect({ servers: url, timeout: 3000, maxReconnectAttempts: 0 })).close());

const api = createServer((req, res) => (req.headers.authorization === 'Bearer good' ? res.writeHead(200).end('ok') : res.writeHead(401).end()));
let apiUrl = '';
beforeAll(async () => {
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => api.close(() => r())));

describe.skipIf(!NATS.available)('sluice test-connection for messaging connections', () => {
  it('nats:// URL: reports the server and JetStream', async () => {
    const r = await runCli(['test-connection', NATS.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok: reached .*\(nats-server [\d.]+\) at 127\.0\.0\.1:\d+; JetStream on, \d+ stream\(s\)/);
  });

  it('a flow\'s nats, http and solace connections: each says what it reached or what is wrong (exit 1 when one fails)', async () => {
    const dir = tempDir();
    const flow = join(dir, 'flow.yaml');
    writeFileSync(
      flow,
      [
        'apiVersion: sluice/v1',
        'name: conns',
        'connections:',
        `  jet: { type: nats, servers: ["${NATS.url}"] }`,
        `  api: { type: http, baseUrl: "${apiUrl}/", token: good }`,
        `  badapi: { type: http, baseUrl: "${apiUrl}/", token: wrong }`,
        '  bus: { type: solace, url: "tcp://127.0.0.1:1", vpn: default, user: u, timeoutMs: 2000 }',
        'nodes:',
        '  - { id: g, type: core.generate, config: { count: 1 } }',
        '  - { id: out, type: nats.sink, config: { connection: jet, stream: X, subject: x } }',
        'edges: [{ from: g, to: out }]',
        '',
      ].join('\n'),
    );
    const r = await runCli(['test-connection', flow, '--json']);
    expect(r.code).toBe(1);
    const results = JSON.parse(r.stdout) as { name: string; ok: boolean; message?: string; error?: string }[];
    const by = Object.fromEntries(results.map((x) => [x.name, x]));
    expect(by.jet).toMatchObject({ ok: true });
    expect(by.api.message).toMatch(new RegExp(`reached ${apiUrl}/: HTTP 200`));
    expect(by.badapi).toMatchObject({ ok: false, error: expect.stringMatching(/answered 401: the credentials were refused/) });
    expect(by.bus).toMatchObject({ ok: false, error: expect.stringMatching(/cannot connect to tcp:\/\/127\.0\.0\.1:1/) });
    // the token never shows
    expect(r.stdout).not.toMatch(/"good"|"wrong"/);
  });

  it('the server\'s connection test (the editor\'s Test button) for a stored nats connection', async () => {
    const dir = tempDir();
    const store = new SqliteControlStore(join(dir, 'sluice.db'));
    const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    const server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
    try {
      const url = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
      const admin = await adminKey(server);
      const h = { ...admin.headers, 'content-type': 'application/json' };
      const made = await fetch(`${url}/api/connections`, { method: 'POST', headers: h, body: JSON.stringify({ name: 'jet', type: 'nats', config: { servers: [NATS.url], token: 's3cret-token' } }) });
      expect(made.status, await made.text()).toBe(201);
      const shown = (await (await fetch(`${url}/api/connections/jet`, { headers: h })).json()) as Record<string, unknown>;
      expect(JSON.stringify(shown)).not.toContain('s3cret-token');
      const res = await fetch(`${url}/api/connections/jet/test`, { method: 'POST', headers: h, body: '{}' });
      const body = (await res.json()) as { ok: boolean; message?: string; error?: string };
      // the test server has no authorization: it lets the token pass
      expect(res.status).toBe(200);
      expect(body).toMatchObject({ ok: true, message: expect.stringMatching(/^reached .* at 127\.0\.0\.1:\d+; JetStream on/) });
    } finally {
      await server.close();
      await checkpoints.close();
      store.close();
    }
  });
});
