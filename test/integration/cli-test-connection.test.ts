/**
 * `sluice test-connection`: a URL picks its connector by scheme; a flow document's named connections
 * are tested with their ${env:...} resolved. Exit 0 when every test passed, 1 when one failed (with
 * the hint), 2 for a user error (unknown scheme, no such connection).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { probePostgres, service } from '../helpers/services.js';

const postgres = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

describe.skipIf(!postgres.available)('sluice test-connection', () => {
  it('tests a URL: what was reached and whether CDC would work, exit 0', async () => {
    const r = await runCli(['test-connection', postgres.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: ok: connected to PostgreSQL \d+/);
    expect(r.stdout).toMatch(/CDC (ready|not ready)/);
  });

  it('a wrong user fails with exit 1, the reason and a hint; the password is never printed', async () => {
    const url = new URL(postgres.url);
    url.username = 'no_such_user_sluice';
    url.password = 'hunter2';
    const r = await runCli(['test-connection', url.toString(), '--json']);
    expect(r.code).toBe(1);
    const [result] = JSON.parse(r.stdout) as { ok: boolean; error: string; hint?: string; name: string }[];
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/no_such_user_sluice/);
    expect(result.hint).toMatch(/CREATE ROLE/);
    expect(r.stdout + r.stderr).not.toMatch(/hunter2/);
  });

  it("tests a flow's named connections with ${env:...} resolved, and names a missing one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-conn-'));
    const flow = join(dir, 'flow.yaml');
    writeFileSync(
      flow,
      [
        'apiVersion: sluice/v1',
        'name: conn-test',
        'connections:',
        '  shop:',
        '    type: postgres',
        '    url: ${env:SHOP_URL}',
        'nodes:',
        '  - { id: gen, type: core.generate, config: { dataset: counter, count: 1 } }',
        '  - { id: out, type: file.sink, config: { path: out.jsonl } }',
        'edges:',
        '  - { from: gen, to: out }',
        '',
      ].join('\n'),
    );
    const ok = await runCli(['test-connection', flow], { env: { SHOP_URL: postgres.url } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^shop: ok: connected to PostgreSQL/m);
    const missing = await runCli(['test-connection', flow, 'warehouse'], { env: { SHOP_URL: postgres.url } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no connection named "warehouse" \(it has: shop\)/);
  });

  it('an unknown URL scheme is a user error listing the known ones', async () => {
    const r = await runCli(['test-connection', 'redis://127.0.0.1:6379']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no connector for redis:\/\/ URLs \(known: postgres:\/\/.*mysql:\/\/.*mongodb:\/\//);
  });
});
