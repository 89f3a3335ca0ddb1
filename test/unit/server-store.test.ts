import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { parseFlowText } from '../../runtime/flow/parse.js';
import { checkShape, FORBIDDEN_KEYS } from '../../runtime/flow/limits.js';
import { canonicalDocument, toJson, toYaml, type Doc } from '../../server/flow-format.js';
import { z } from 'zod';
import { flagPath, mergeSecrets, redact } from '../../server/connections.js';
import { secret, secretFieldsOf } from '../../runtime/secrets.js';
import { connectionEntrySchema as postgresEntry } from '../../nodes/postgres/connection.js';
import { connectionEntrySchema as mongoEntry } from '../../nodes/mongodb/connection.js';
import { connectionEntrySchema as sqliteEntry } from '../../nodes/sqlite/connection.js';
import { testConnection as testSqlite } from '../../nodes/sqlite/connection.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { tempDir } from '../helpers/node-harness.js';
import { fileAccess, unconfinedFiles } from '../../runtime/files.js';

const stores: SqliteControlStore[] = [];
const open = (path = join(tempDir(), 'sluice.db')) => {
  const s = new SqliteControlStore(path);
  stores.push(s);
  return s;
};
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const parseText = (text: string, file: string) => {
  const r = parseFlowText(text, file);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.parsed.value;
};

// the ControlStore's own tests run against SQLite and PostgreSQL alike: test/integration/stores.test.ts

describe('flow documents as text', () => {
  it('orders keys stably: document, nodes, edges, positions; unknown fields keep their order after', () => {
    const d = canonicalDocument(
      {
        edges: [{ to: 'b', from: 'a' }],
        nodes: [{ position: { y: 2, x: 1 }, config: { z: 1, a: 2 }, type: 't', id: 'a' }],
        name: 'n',
        apiVersion: 'sluice/v1',
        version: 9,
      },
      3,
    );
    expect(JSON.stringify(d)).toBe(
      '{"apiVersion":"sluice/v1","name":"n","version":3,"nodes":[{"id":"a","type":"t","config":{"z":1,"a":2},"position":{"x":1,"y":2}}],"edges":[{"from":"a","to":"b"}]}',
    );
  });

  it('round-trips the demo flow through YAML and JSON exactly', () => {
    const demo = canonicalDocument(parseText(readFileSync('examples/orders-demo.yaml', 'utf8'), 'demo.yaml') as Doc, 1);
    const yaml = toYaml(demo);
    expect(parseText(yaml, 'x.yaml')).toEqual(demo);
    expect(toYaml(canonicalDocument(parseText(yaml, 'x.yaml') as Doc))).toBe(yaml);
    expect(parseText(toJson(demo), 'x.json')).toEqual(demo);
    expect(yaml).toContain('  - { from: orders, to: add_tax }');
    expect(yaml).toContain('    position: { x: 80, y: 160 }');
  });

  it('round-trips any JSON config value through YAML (property)', () => {
    // plain data as the limits allow it (runtime/flow/limits.ts: no __proto__, constructor or prototype key)
    const value = fc
      .jsonValue({ maxDepth: 3, stringUnit: 'binary' })
      .map((v) => JSON.parse(JSON.stringify(v)) as unknown)
      .filter((v) => checkShape(v) === undefined);
    const node = fc.record({
      id: fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/),
      type: fc.constantFrom('core.map', 'file.sink'),
      config: fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => !FORBIDDEN_KEYS.has(k)), value, { maxKeys: 6 }),
      position: fc.record({ x: fc.integer(), y: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.parse(JSON.stringify(n)) as number) }),
    });
    fc.assert(
      fc.property(fc.array(node, { minLength: 1, maxLength: 4 }), fc.string({ unit: 'binary' }), (nodes, description) => {
        const d = canonicalDocument({ apiVersion: 'sluice/v1', name: 'p', description, nodes, edges: [{ from: 'a', to: 'b' }] }, 1);
        expect(parseText(toYaml(d), 'p.yaml')).toEqual(d);
        expect(parseText(toJson(d), 'p.json')).toEqual(d);
      }),
      { numRuns: 60 },
    );
  });
});

describe('connection secrets', () => {
  const pg = secretFieldsOf(postgresEntry);

  it('reads the secret fields from the connector schema declaration, nested ones included, never from names', () => {
    expect(pg).toEqual({ paths: ['password', 'tls.key', 'tls.passphrase'], urlPaths: ['url'] });
    expect(secretFieldsOf(mongoEntry)).toEqual({ paths: ['password', 'tls.key', 'tls.passphrase'], urlPaths: ['url'] });
    expect(secretFieldsOf(sqliteEntry)).toEqual({ paths: [], urlPaths: [] });
    // a field named like a secret but not declared is not one; a declared one with any name is
    const declared = z.object({ pwd: secret(z.string()), apiKey: z.string(), nested: z.object({ pass: secret(z.string()).optional() }).optional() });
    expect(secretFieldsOf(declared)).toEqual({ paths: ['pwd', 'nested.pass'], urlPaths: [] });
    expect(flagPath('tls.passphrase')).toBe('tls.hasPassphrase');
  });

  it('replaces declared secrets with has<Field> flags, nested too, and masks the URL password', () => {
    expect(redact({ host: 'h', password: 'pw', url: 'postgres://u:p%40ss@h:5432/db', tls: { key: 'k', passphrase: '', ca: 'c' } }, pg)).toEqual({
      host: 'h',
      hasPassword: true,
      url: 'postgres://u:***@h:5432/db',
      tls: { hasKey: true, ca: 'c' },
    });
  });

  it('keeps a stored secret the save leaves out or sends empty, replaces a sent one, removes one sent as null, drops echoed flags, keeps a masked URL password', () => {
    const stored = { host: 'h', password: 'pw', url: 'postgres://u:old@h/db', tls: { key: 'k', passphrase: 'pp' } };
    expect(mergeSecrets({ host: 'h2', hasPassword: true, url: 'postgres://u:***@h2/db', tls: { ca: 'c', hasPassphrase: true, key: null } }, stored, pg)).toEqual({
      host: 'h2',
      password: 'pw',
      url: 'postgres://u:old@h2/db',
      tls: { ca: 'c', passphrase: 'pp' },
    });
    expect(mergeSecrets({ password: 'new' }, stored, pg)).toEqual({ password: 'new' });
    expect(() => mergeSecrets({ url: 'postgres://u:***@h/db' }, undefined, pg)).toThrow(/no password is stored/);
  });

  it('tests a sqlite connection by opening the file', async () => {
    const dir = tempDir();
    const ctx = { files: fileAccess(unconfinedFiles(dir), 'test') };
    expect(await testSqlite({}, ctx)).toMatchObject({ ok: false, error: expect.stringMatching(/path is required/) });
    expect(await testSqlite({ path: 'missing.db' }, ctx)).toMatchObject({ ok: false, error: expect.stringMatching(/no such file/), hint: expect.any(String) });
    open(join(dir, 'real.db'));
    expect(await testSqlite({ path: 'real.db' }, ctx)).toMatchObject({ ok: true, message: expect.stringMatching(/11 tables/) });
    const notDb = join(dir, 'not.db');
    (await import('node:fs')).writeFileSync(notDb, 'this is not a database, just text '.repeat(100));
    expect(await testSqlite({ path: notDb }, ctx)).toMatchObject({ ok: false, error: expect.stringMatching(/not a database/) });
  });
});
