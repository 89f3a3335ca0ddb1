/**
 * Structured logs: the server's lines as JSON (pino) with level, time, and the flow, node and deployment
 * of flow lines; a stored secret never in a line, not even where a request put it in a URL. Then
 * `sluice run --log-format json` on stderr, with the flow's connection secret masked.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLog } from '../../runtime/log/json-log.js';
import { runCli } from '../helpers/cli.js';
import { inProcessServerForFile } from '../helpers/in-process-server.js';

const SECRET = 'Zq7-sekrit-pass-4412';
const lines: string[] = [];
const srv = inProcessServerForFile({ secretFields: true, log: jsonLog({ write: (l: string) => lines.push(l) }) });

const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the server log as JSON lines', () => {
  it('gives each line a level and a time, flow lines their flow, node and deployment, and never a secret', async () => {
    const post = (path: string, body: unknown) => fetch(srv.url + path, { method: 'POST', headers: { ...srv.admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/connections', { name: 'shop', type: 'postgres', config: { host: '127.0.0.1', port: 1, user: 'u', password: SECRET, database: 'd' } })).status).toBe(201);
    const flow = {
      apiVersion: 'sluice/v1',
      name: 'logged',
      settings: { onError: 'stop' },
      nodes: [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 50 } },
        { id: 'boom', type: 'core.map', config: { code: '(v) => { if (v.n === 7) throw new Error("seven is not allowed"); return v; }' } },
        { id: 'out', type: 'file.sink', config: { path: 'out.jsonl' } },
      ],
      edges: [{ from: 'gen', to: 'boom' }, { from: 'boom', to: 'out' }],
    };
    expect((await post('/api/flows', flow)).status).toBe(201);
    expect((await post('/api/flows/logged/deploy', {})).status).toBe(202);
    // a secret that reaches a URL (a mistake a script can make) is masked in the request line and its fields
    expect((await fetch(`${srv.url}/api/flows/${SECRET}`, { headers: srv.admin })).status).toBe(404);
    const deadline = Date.now() + 30_000;
    while (!parsed().some((l) => l.level === 'error' && l.node === 'boom') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const all = parsed();
    for (const l of all) {
      expect(['info', 'warn', 'error']).toContain(l.level);
      expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof l.msg).toBe('string');
    }
    const failure = all.find((l) => l.level === 'error' && l.node === 'boom')!;
    expect(failure, lines.join('')).toBeDefined();
    expect(failure).toMatchObject({ flow: 'logged', node: 'boom' });
    expect(failure.msg).toMatch(/seven is not allowed/);
    expect(failure.deployment).toMatch(/^[0-9a-f-]{36}$/);
    const deploying = all.find((l) => l.flow === 'logged' && /deploying version/.test(String(l.msg)))!;
    expect(deploying.deployment).toBe(failure.deployment);
    const request = all.find((l) => l.method === 'GET' && String(l.path).startsWith('/api/flows/') && l.status === 404)!;
    expect(request, lines.join('')).toBeDefined();
    expect(request.path).not.toContain(SECRET);
    expect(lines.join('')).not.toContain(SECRET);
    expect(lines.join('')).toContain('/api/flows/***');
  }, 60_000);
});

describe('sluice run --log-format json', () => {
  it('writes JSON lines on stderr with the flow and node, the connection secret masked', async () => {
    const file = join(srv.dir, 'pg.json');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'sluice/v1',
        name: 'pgflow',
        connections: { shop: { type: 'postgres', url: '${env:SLUICE_FLOW_SHOP_URL}' } },
        nodes: [
          { id: 'src', type: 'postgres.source', config: { connection: 'shop', tables: ['public.items'] } },
          { id: 'out', type: 'file.sink', config: { path: 'pg.jsonl' } },
        ],
        edges: [{ from: 'src', to: 'out' }],
      }),
    );
    const r = await runCli(['run', file, '--state', join(srv.dir, 'cli.db'), '--log-format', 'json', '--quiet'], {
      cwd: srv.dir,
      env: { SLUICE_FLOW_SHOP_URL: `postgres://nobody:${SECRET}@127.0.0.1:1/db` },
    });
    const json = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(json.length, r.stderr).toBeGreaterThan(0);
    expect(json.every((l) => l.flow === 'pgflow' && typeof l.time === 'string')).toBe(true);
    expect(json.some((l) => l.level === 'error' && l.node === 'src'), r.stderr).toBe(true);
    expect(r.stderr + r.stdout).not.toContain(`nobody:${SECRET}`);
  }, 60_000);
});
