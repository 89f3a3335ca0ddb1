/**
 * The control store and the auth store, the same tests against both back-ends: SQLite files in a data
 * directory (the embedded default) and PostgreSQL (the cluster's `--store postgres://…`, a fresh schema
 * per test on the server at PG_URL). Opened through server/store/open-stores.ts, as the server opens them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import type { ControlStore } from '../../server/store/control-store.js';
import { DuplicateError, StaleVersionError } from '../../server/store/control-store.js';
import { isPostgresUrl, openControlStoreAt, splitSchema } from '../../server/store/open-stores.js';
import { SecretBox, SecretKeyError, newKeyText, parseKey } from '../../server/store/secret-box.js';
import { probePostgres, service } from '../helpers/services.js';
import { storeBackends, type StoreBackend } from '../helpers/store-backends.js';

const pgService = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const backends = storeBackends(pgService);
const registry = createRegistry();

const opened: ControlStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

const doc = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'sluice/v1', name, nodes: [{ id: 'a', type: 'core.generate' }], edges: [], ...extra });

describe('openStores locations', () => {
  it('tells a PostgreSQL URL from a data directory, and takes the schema out of the URL', () => {
    expect(isPostgresUrl('postgres://u:p@h/db')).toBe(true);
    expect(isPostgresUrl('postgresql://h/db')).toBe(true);
    expect(isPostgresUrl('./data')).toBe(false);
    expect(isPostgresUrl('/var/lib/postgres')).toBe(false);
    expect(splitSchema('postgres://u:p@h:5432/db?schema=tenant_1&sslmode=disable')).toEqual({ url: 'postgres://u:p@h:5432/db?sslmode=disable', schema: 'tenant_1' });
    expect(splitSchema('postgres://h/db')).toEqual({ url: 'postgres://h/db', schema: undefined });
    expect(() => splitSchema('postgres://u:secret@[bad')).toThrow(/is not a valid URL/);
    expect(() => splitSchema('postgres://u:secret@[bad')).not.toThrow(/secret/);
  });
});

describe.each(backends)('ControlStore on $name', (b: StoreBackend) => {
  const open = async (location: string, extra: Parameters<typeof openControlStoreAt>[1] = {}) => {
    const s = await openControlStoreAt(location, { secrets: extra.registry !== undefined, ...extra });
    opened.push(s);
    return s;
  };

  it.skipIf(!b.available)('keeps every version, refuses a stale save with the current version, lists newest first', async () => {
    const store = await open(b.location());
    expect(store.created).toBe(true);
    const v1 = await store.createFlow('f', (v) => ({ ...doc('f'), version: v }));
    expect(v1).toMatchObject({ id: 'f', version: 1, document: { version: 1 } });
    await expect(store.createFlow('f', () => doc('f'))).rejects.toThrow(DuplicateError);
    const v2 = (await store.saveFlow('f', 1, (v) => ({ ...doc('f', { description: 'two' }), version: v })))!;
    expect(v2.version).toBe(2);
    const stale = await store.saveFlow('f', 1, () => doc('f')).catch((err: unknown) => err);
    expect(stale).toBeInstanceOf(StaleVersionError);
    expect((stale as StaleVersionError).current).toBe(2);
    expect(await store.saveFlow('nope', 1, () => doc('nope'))).toBeUndefined();
    expect((await store.versions('f'))!.map((v) => [v.version, v.nodes, v.edges])).toEqual([
      [2, 1, 0],
      [1, 1, 0],
    ]);
    expect((await store.getFlow('f', 1))!.document.description).toBeUndefined();
    expect((await store.getFlow('f'))!.document.description).toBe('two');
    expect((await store.getFlow('f', 7))).toBeUndefined();
    expect((await store.listFlows()).map((f) => [f.id, f.version])).toEqual([['f', 2]]);
    expect(await store.countFlows()).toBe(1);
    await store.setDeployment('f', 2, 'running');
    expect(await store.deleteFlow('f')).toBe(true);
    expect(await store.versions('f')).toBeUndefined();
    expect(await store.deployments()).toEqual([]);
    expect(await store.deleteFlow('f')).toBe(false);
  });

  it.skipIf(!b.available)("keeps a flow's tests by name, replaces one of the same name, deletes them with the flow", async () => {
    const store = await open(b.location());
    await store.createFlow('f', (v) => ({ ...doc('f'), version: v }));
    await store.createFlow('g', (v) => ({ ...doc('g'), version: v }));
    expect(await store.listFlowTests('f')).toEqual([]);
    const t = (name: string, n: number) => ({ name, inputs: { gen: [{ key: { id: n }, op: 'r', value: { id: n, s: 'ü' } }] }, expect: { out: [] } });
    expect(await store.saveFlowTest('f', t('b', 1), 'ann')).toBe(true);
    expect(await store.saveFlowTest('f', t('a', 2), null)).toBe(true);
    expect(await store.saveFlowTest('g', t('a', 3), null)).toBe(true);
    expect(await store.saveFlowTest('f', t('b', 4), 'bob')).toBe(false);
    const tests = await store.listFlowTests('f');
    expect(tests.map((x) => [x.name, x.author, (x.test.inputs as any).gen[0].value.id])).toEqual([
      ['a', null, 2],
      ['b', 'bob', 4],
    ]);
    expect(tests[1].test).toEqual(t('b', 4));
    expect(tests[0].savedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await store.deleteFlowTest('f', 'a')).toBe(true);
    expect(await store.deleteFlowTest('f', 'a')).toBe(false);
    expect(await store.deleteFlow('f')).toBe(true);
    expect(await store.listFlowTests('f')).toEqual([]);
    expect((await store.listFlowTests('g')).map((x) => x.name)).toEqual(['a']);
  });

  it.skipIf(!b.available)('keeps who saved each version, the message and the exact time; a store from before they were kept reads null', async () => {
    const location = b.location();
    const store = await open(location);
    const before = Date.now();
    await store.createFlow('m', (v) => ({ ...doc('m'), version: v }), { author: 'ada', message: 'first cut' });
    const v2 = (await store.saveFlow('m', 1, (v) => ({ ...doc('m', { description: 'two' }), version: v }), { author: 'bob', message: 'filter on country' }))!;
    expect(v2).toMatchObject({ version: 2, author: 'bob', message: 'filter on country' });
    await store.saveFlow('m', 2, (v) => ({ ...doc('m'), version: v }));
    const versions = (await store.versions('m'))!;
    expect(versions.map((v) => [v.version, v.author, v.message])).toEqual([
      [3, null, null],
      [2, 'bob', 'filter on country'],
      [1, 'ada', 'first cut'],
    ]);
    for (const v of versions) expect(v.savedAt).toBeGreaterThanOrEqual(before); // ms, not rounded to a day or a second
    expect((await store.getFlow('m', 1))!).toMatchObject({ author: 'ada', message: 'first cut' });
    expect((await store.listFlows()).map((f) => [f.id, f.version, f.author])).toEqual([['m', 3, null]]);
    await store.close();
    // a store written before authors and messages: the columns gone, as in an old database
    await b.raw(location, 'ALTER TABLE flow_versions DROP COLUMN author');
    await b.raw(location, 'ALTER TABLE flow_versions DROP COLUMN message');
    if (b.name === 'sqlite') await b.raw(location, 'PRAGMA user_version = 2');
    const again = await open(location);
    expect((await again.versions('m'))!.map((v) => [v.version, v.author, v.message])).toEqual([
      [3, null, null],
      [2, null, null],
      [1, null, null],
    ]);
    await again.saveFlow('m', 3, (v) => ({ ...doc('m'), version: v }), { author: 'cy', message: 'after the upgrade' });
    expect((await again.getFlow('m'))!).toMatchObject({ version: 4, author: 'cy', message: 'after the upgrade' });
  });

  it.skipIf(!b.available)('keeps a document as written: key order and every value survive', async () => {
    const store = await open(b.location());
    const written = { apiVersion: 'sluice/v1', name: 'k', zeta: 1, alpha: { z: [1, 'two', null, true], a: 1.5 }, nodes: [], edges: [], version: 1 };
    await store.createFlow('k', () => written);
    expect(JSON.stringify((await store.getFlow('k'))!.document)).toBe(JSON.stringify(written));
  });

  it.skipIf(!b.available)('keeps connections and what the user deployed across a reopen', async () => {
    const location = b.location();
    const a = await open(location);
    await a.createConnection('pg', 'postgres', { host: 'h', password: 'pw' });
    await expect(a.createConnection('pg', 'postgres', {})).rejects.toThrow(/a connection named pg exists/);
    await a.setDeployment('f', 3, 'running');
    await a.setDeploymentState('f', 'paused');
    await a.close();
    const again = await open(location);
    expect(again.created).toBe(false);
    expect((await again.getConnection('pg'))!.config).toEqual({ host: 'h', password: 'pw' });
    expect((await again.updateConnection('pg', 'postgres', { host: 'h2' }))!.config).toEqual({ host: 'h2' });
    expect(await again.updateConnection('nope', 'x', {})).toBeUndefined();
    expect(await again.deployments()).toEqual([{ flowId: 'f', version: 3, state: 'paused' }]);
    expect(await again.deleteConnection('pg')).toBe(true);
    expect(await again.deleteConnection('pg')).toBe(false);
    expect(await again.listConnections()).toEqual([]);
  });

  it.skipIf(!b.available)('lets one of two saves based on the same version through, from two store instances', async () => {
    const location = b.location();
    const one = await open(location);
    const two = await open(location);
    await one.createFlow('race', (v) => ({ ...doc('race'), version: v }));
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => (i % 2 ? one : two).saveFlow('race', 1, (v) => ({ ...doc('race', { description: `by ${i}` }), version: v }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StaleVersionError);
    expect((await two.getFlow('race'))!.version).toBe(2);
  });

  it.skipIf(!b.available)('seals declared secrets at rest, opens them with the key, refuses another key, and rotates', async () => {
    const location = b.location();
    const key = newKeyText();
    const env = { SLUICE_SECRET_KEY: key };
    const store = await open(location, { registry, env, secrets: true });
    await store.createConnection('shop', 'postgres', { host: 'db', password: 'pw-at-rest-1', url: 'postgres://app:pw-in-url-2@db/shop' });
    const [row] = await b.raw<{ config: string }>(location, 'SELECT config FROM connections WHERE id = $1', ['shop']);
    expect(row.config).not.toMatch(/pw-at-rest-1|pw-in-url-2/);
    expect(JSON.parse(row.config)).toMatchObject({ host: 'db', password: expect.stringMatching(/^sluice-secret:v1:/), url: expect.stringMatching(/^sluice-secret:v1:/) });
    expect((await store.getConnection('shop'))!.config).toEqual({ host: 'db', password: 'pw-at-rest-1', url: 'postgres://app:pw-in-url-2@db/shop' });
    expect(store.secretValues()).toEqual(expect.arrayContaining(['pw-at-rest-1', 'pw-in-url-2']));
    await store.close();

    await expect(openControlStoreAt(location, { registry, env: { SLUICE_SECRET_KEY: newKeyText() } })).rejects.toThrow(SecretKeyError);
    const next = newKeyText();
    const rotating = await open(location, { registry, env });
    expect(await rotating.rotateKey(new SecretBox(parseKey(next, 'next'), 'next'))).toBe(1);
    await rotating.close();
    await expect(openControlStoreAt(location, { registry, env })).rejects.toThrow(/cannot decrypt/);
    const reopened = await open(location, { registry, env: { SLUICE_SECRET_KEY: next } });
    expect((await reopened.getConnection('shop'))!.config.password).toBe('pw-at-rest-1');
  });

  it.skipIf(!b.available)('seals, when opened with a key, the secrets a keyless writer stored in clear', async () => {
    const location = b.location();
    const keyless = await open(location);
    await keyless.createConnection('old', 'postgres', { host: 'db', password: 'pw-clear-3' });
    await keyless.close();
    const env = { SLUICE_SECRET_KEY: newKeyText() };
    const store = await open(location, { registry, env });
    const [row] = await b.raw<{ config: string }>(location, 'SELECT config FROM connections WHERE id = $1', ['old']);
    expect(row.config).not.toContain('pw-clear-3');
    expect((await store.getConnection('old'))!.config.password).toBe('pw-clear-3');
    await store.close();
    const without = await open(location, { registry, secrets: false });
    await expect(without.getConnection('old')).rejects.toThrow(/holds encrypted secrets, and this store was opened without a key/);
  });

  it.skipIf(!b.available)('refuses to open a location without a store when one must exist', async () => {
    await expect(openControlStoreAt(b.location(), { secrets: false, mustExist: true })).rejects.toThrow(/no (sluice\.db|Sluice store)/);
  });
});

describe.each(backends)('AuthStore on $name', (b: StoreBackend) => {
  const open = async () => {
    const s = await openControlStoreAt(b.location(), { secrets: false });
    opened.push(s);
    return s.auth;
  };

  it.skipIf(!b.available)('users: unique names, roles, the admin count, a new password ends their sessions, removal takes sessions and keys', async () => {
    const auth = await open();
    expect(await auth.countUsers()).toBe(0);
    expect(await auth.createUser('bob', 'editor', 'hash-b')).toBe(true);
    expect(await auth.createUser('bob', 'admin', 'other')).toBe(false);
    expect(await auth.createUser('ann', 'admin', 'hash-a')).toBe(true);
    expect((await auth.listUsers()).map((u) => [u.name, u.role])).toEqual([
      ['ann', 'admin'],
      ['bob', 'editor'],
    ]);
    expect(await auth.countAdmins()).toBe(1);
    expect(await auth.setRole('bob', 'admin')).toBe(true);
    expect(await auth.setRole('nobody', 'admin')).toBe(false);
    expect(await auth.countAdmins()).toBe(2);
    const bob = (await auth.getUser('bob'))!;
    expect(bob).toMatchObject({ name: 'bob', role: 'admin', passwordHash: 'hash-b', createdAt: expect.any(Number) });
    await auth.createSession('s1', bob.id, 'csrf1', Date.now() + 60_000);
    expect(await auth.setPassword('bob', 'hash-b2')).toBe(true);
    expect(await auth.setPassword('nobody', 'x')).toBe(false);
    expect(await auth.getSession('s1')).toBeUndefined();
    expect((await auth.getUser('bob'))!.passwordHash).toBe('hash-b2');
    await auth.createSession('s2', bob.id, 'csrf2', Date.now() + 60_000);
    await auth.createKey('k1', bob.id, 'khash', 'viewer', 'ci');
    expect(await auth.deleteUser('bob')).toBe(true);
    expect(await auth.deleteUser('bob')).toBe(false);
    expect(await auth.getSession('s2')).toBeUndefined();
    expect(await auth.getKey('k1')).toBeUndefined();
    expect(await auth.countUsers()).toBe(1);
  });

  it.skipIf(!b.available)('sessions: found by hash with their user, extended, deleted; expired ones dropped when a new one starts', async () => {
    const auth = await open();
    await auth.createUser('ann', 'viewer', 'h');
    const ann = (await auth.getUser('ann'))!;
    const soon = Date.now() + 60_000;
    await auth.createSession('old', ann.id, 'c0', Date.now() - 1);
    await auth.createSession('s', ann.id, 'c1', soon);
    expect(await auth.getSession('old')).toBeUndefined();
    expect(await auth.getSession('s')).toEqual({ userId: ann.id, user: 'ann', role: 'viewer', csrf: 'c1', expiresAt: soon });
    await auth.extendSession('s', soon + 1000);
    expect((await auth.getSession('s'))!.expiresAt).toBe(soon + 1000);
    await auth.deleteSession('s');
    expect(await auth.getSession('s')).toBeUndefined();
  });

  it.skipIf(!b.available)('API keys: by hash and id with their user role, last use, revoked once', async () => {
    const auth = await open();
    await auth.createUser('ann', 'editor', 'h');
    const ann = (await auth.getUser('ann'))!;
    const k = await auth.createKey('k1', ann.id, 'hash-1', 'viewer', 'ci');
    expect(k).toMatchObject({ id: 'k1', userId: ann.id, user: 'ann', role: 'viewer', userRole: 'editor', label: 'ci', lastUsedAt: null, revokedAt: null });
    expect((await auth.keyByHash('hash-1'))!.id).toBe('k1');
    expect(await auth.keyByHash('nope')).toBeUndefined();
    await auth.touchKey('k1', 1234);
    expect((await auth.getKey('k1'))!.lastUsedAt).toBe(1234);
    expect(await auth.revokeKey('k1')).toBe(true);
    expect(await auth.revokeKey('k1')).toBe(false);
    expect(await auth.revokeKey('nope')).toBe(false);
    expect((await auth.listKeys()).map((x) => [x.id, x.revokedAt !== null])).toEqual([['k1', true]]);
  });

  it.skipIf(!b.available)('audit: newest first, filtered by user, action (a prefix matches its dotted children only) and time, limited; never rewritten', async () => {
    const location = b.location();
    const store = await openControlStoreAt(location, { secrets: false });
    opened.push(store);
    const auth = store.auth;
    await auth.appendAudit({ at: 1000, user: 'ann', action: 'flow.save', target: 'f', address: '127.0.0.1', details: { version: 2 } });
    await auth.appendAudit({ at: 2000, user: 'bob', action: 'flow.delete', target: 'f', address: null, details: null });
    await auth.appendAudit({ at: 3000, user: 'ann', action: 'flowy', target: null, address: null, details: null });
    await auth.appendAudit({ at: 4000, user: null, action: 'flow_x.save', target: null, address: null, details: null });
    const actions = async (f: Parameters<typeof auth.audit>[0]) => (await auth.audit(f)).map((e) => e.action);
    expect(await actions({ limit: 10 })).toEqual(['flow_x.save', 'flowy', 'flow.delete', 'flow.save']);
    expect(await actions({ limit: 10, action: 'flow' })).toEqual(['flow.delete', 'flow.save']);
    expect(await actions({ limit: 10, action: 'flow_' })).toEqual([]);
    expect(await actions({ limit: 10, user: 'ann' })).toEqual(['flowy', 'flow.save']);
    expect(await actions({ limit: 10, since: 2000, until: 3000 })).toEqual(['flowy', 'flow.delete']);
    expect(await actions({ limit: 1 })).toEqual(['flow_x.save']);
    expect((await auth.audit({ limit: 10, action: 'flow.save' }))[0]).toMatchObject({ at: 1000, user: 'ann', target: 'f', address: '127.0.0.1', details: { version: 2 }, id: expect.any(Number) });
    await expect(b.raw(location, 'UPDATE audit SET action = $1', ['forged'])).rejects.toThrow(/append-only/);
    await expect(b.raw(location, 'DELETE FROM audit')).rejects.toThrow(/append-only/);
    expect(await actions({ limit: 10 })).toHaveLength(4);
  });
});
