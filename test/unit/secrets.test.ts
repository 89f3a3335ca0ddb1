/**
 * The pieces of secret handling on their own: text redaction, the declaration read from schemas, the
 * AES-256-GCM box and its key, and a control store that seals, opens and finishes an interrupted rotation.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { errorMessage } from '../../runtime/errors.js';
import { redactText, redactUrl } from '../../runtime/redact.js';
import { secretFieldsOf, secretFieldsOfJsonSchema, secretValues } from '../../runtime/secrets.js';
import { secretFieldsOfType } from '../../server/connections.js';
import { openControlStore } from '../../server/store/open-control-store.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { newKeyText, parseKey, SecretBox } from '../../server/store/secret-box.js';
import { tempDir } from '../helpers/node-harness.js';

describe('redaction of text', () => {
  it('masks the password of any URL, keeps everything else', () => {
    expect(redactUrl('postgres://user:pw@host/db')).toBe('postgres://user:***@host/db');
    expect(redactUrl('mongodb+srv://u:p%40ss@cluster0.example.net/shop?retryWrites=true')).toBe('mongodb+srv://u:***@cluster0.example.net/shop?retryWrites=true');
    expect(redactUrl('mysql://:only-pw@h:3306')).toBe('mysql://:***@h:3306');
    for (const plain of ['postgres://user@host/db', 'postgres://host:5432/db', 'http://example.com/a:b', 'no url here']) expect(redactUrl(plain)).toBe(plain);
    expect(redactText('connect to postgres://a:x1@h1/d failed; retry mysql://b:y2@h2 too')).toBe('connect to postgres://a:***@h1/d failed; retry mysql://b:***@h2 too');
    expect(errorMessage(new Error('getaddrinfo ENOTFOUND for postgres://app:hunter22@db/x'))).toBe('getaddrinfo ENOTFOUND for postgres://app:***@db/x');
  });

  it('masks known secret values, raw and URL-encoded, but not ones too short to be told from text', () => {
    expect(redactText('the password p@ss word! was refused (p%40ss%20word!)', ['p@ss word!'])).toBe('the password *** was refused (***)');
    expect(redactText('a b c', ['b'])).toBe('a b c');
  });
});

describe('the declaration', () => {
  it('lists the secret values of a config by its schema: fields and URL passwords, raw and decoded', () => {
    const pg = createRegistry().connector('postgres')!.entrySchema;
    expect(secretValues({ password: 'pw1', url: 'postgres://u:a%2Fb@h/db', host: 'h', tls: { passphrase: 'pp' } }, secretFieldsOf(pg)).sort()).toEqual(['a%2Fb', 'a/b', 'pp', 'pw1']);
  });

  /** connectors without a URL or TLS block: the fields that hold their secrets */
  const MESSAGING_SECRETS: Record<string, string[]> = { nats: ['password', 'token'], http: ['token', 'password', 'apiKey', 'hmacSecret'], solace: ['password'] };
  it('is in the JSON Schema of every connector, as the editor and the docs read it', () => {
    for (const c of createRegistry().connectors()) {
      const props = (c.configSchema as { properties: Record<string, Record<string, unknown>> }).properties;
      if (c.type === 'sqlite') continue;
      if (c.type === 'kafka') {
        // no URL and no top-level password: SASL's password and the TLS key are the secrets
        expect(secretFieldsOfJsonSchema(c.configSchema).paths, c.type).toEqual(expect.arrayContaining(['sasl.password', 'tls.key', 'tls.passphrase']));
        continue;
      }
      if (c.type in MESSAGING_SECRETS) {
        for (const f of MESSAGING_SECRETS[c.type]) expect(props[f], `${c.type}.${f}`).toMatchObject({ 'x-secret': true, writeOnly: true });
        continue;
      }
      expect(props.password, c.type).toMatchObject({ 'x-secret': true, writeOnly: true });
      expect(props.url, c.type).toMatchObject({ 'x-url-password': true });
      expect((props.tls as { properties: Record<string, unknown> }).properties.passphrase, c.type).toMatchObject({ 'x-secret': true });
    }
  });
});

describe('the key and the box', () => {
  it('reads a key as base64 or hex, and says clearly when it is neither (never echoing it)', () => {
    const k = newKeyText();
    expect(parseKey(k, 'K')).toHaveLength(32);
    expect(parseKey(Buffer.alloc(32, 9).toString('hex'), 'K')).toEqual(Buffer.alloc(32, 9));
    expect(() => parseKey('c2hvcnQ=', 'SLUICE_SECRET_KEY')).toThrow(/^SLUICE_SECRET_KEY is malformed: expected 32 bytes as base64 \(44 characters\) or hex \(64 characters\), got 8 characters/);
    expect(() => parseKey('zz'.repeat(32), 'K')).toThrow(/malformed/);
  });

  it('seals with a fresh IV each time, opens with the same key, and refuses another key or altered text with a clear error', () => {
    const box = new SecretBox(parseKey(newKeyText(), 'K'), 'key A');
    const a = box.seal('hunter2');
    expect(a).toMatch(/^sluice-secret:v1:/);
    expect(a).not.toBe(box.seal('hunter2'));
    expect(box.open(a)).toBe('hunter2');
    const other = new SecretBox(parseKey(newKeyText(), 'K'), 'key B');
    expect(() => other.open(a, 'connection x')).toThrow(/^cannot decrypt connection x with the key from key B: it is not the key the secrets were encrypted with/);
    const tampered = a.slice(0, -4) + (a.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => box.open(tampered)).toThrow(/cannot decrypt/);
  });
});

describe('a data directory', () => {
  it('finishes a key rotation that stopped before the new key file replaced the old one', async () => {
    const dir = join(tempDir(), 'data');
    const env = { SLUICE_SECRET_KEY: '' };
    const registry = createRegistry();
    let store = openControlStore(dir, registry, env);
    await store.createConnection('c', 'mysql', { password: 'pw-rotate-1' });
    // the rotation re-encrypted under the pending key, then stopped
    const next = newKeyText();
    writeFileSync(join(dir, 'secret.key.new'), next, { mode: 0o600 });
    await store.rotateKey(new SecretBox(parseKey(next, 'new'), 'new'));
    await store.close();
    store = openControlStore(dir, registry, env);
    try {
      expect((await store.getConnection('c'))!.config).toEqual({ password: 'pw-rotate-1' });
      expect(readFileSync(join(dir, 'secret.key'), 'utf8')).toBe(next);
      expect(existsSync(join(dir, 'secret.key.new'))).toBe(false);
    } finally {
      store.close();
    }
  });

  it('says the key file is missing when the store holds secrets sealed with it, instead of making a new key', async () => {
    const dir = join(tempDir(), 'data');
    const registry = createRegistry();
    const store = openControlStore(dir, registry, {});
    await store.createConnection('c', 'postgres', { password: 'pw' });
    await store.close();
    unlinkSync(join(dir, 'secret.key'));
    expect(() => openControlStore(dir, registry, {})).toThrow(/secret\.key is missing, and the stored secrets were encrypted with it/);
    expect(existsSync(join(dir, 'secret.key'))).toBe(false);
  });

  it('seals what a save sends even when it looks sealed, and opens only declared fields', async () => {
    const dir = join(tempDir(), 'data');
    const store = openControlStore(dir, createRegistry(), {});
    try {
      const lookalike = 'sluice-secret:v1:AAAA';
      await store.createConnection('c', 'postgres', { host: lookalike, password: lookalike });
      expect((await store.getConnection('c'))!.config).toEqual({ host: lookalike, password: lookalike });
      expect(await store.listConnections()).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  it('a store opened without a key refuses sealed values instead of handing them out', async () => {
    const dir = join(tempDir(), 'data');
    await openControlStore(dir, createRegistry(), {}).close();
    const keyless = new SqliteControlStore(join(dir, 'sluice.db'));
    try {
      expect(await keyless.listConnections()).toEqual([]);
    } finally {
      keyless.close();
    }
    const store = openControlStore(dir, createRegistry(), {});
    await store.createConnection('c', 'postgres', { password: 'pw' });
    await store.close();
    const registry = createRegistry();
    const again = new SqliteControlStore(join(dir, 'sluice.db'), { secretFields: (t) => secretFieldsOfType(registry, t) });
    try {
      await expect(again.getConnection('c')).rejects.toThrow(/connection c holds encrypted secrets, and this store was opened without a key/);
    } finally {
      again.close();
    }
  });
});

describe('redaction at scale', () => {
  it('masks a password holding "@" up to the last "@" of the URL, and scans a megabyte of hostile text in linear time', () => {
    expect(redactUrl('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(redactUrl('{"url":"postgres://u:p@h/db","email":"a@b"}')).toBe('{"url":"postgres://u:***@h/db","email":"a@b"}');
    const started = performance.now();
    for (const s of ['a.'.repeat(500_000), 'x://u:'.repeat(170_000), 'http://a:b'.repeat(100_000), `x://u:${'@'.repeat(1_000_000)}`]) redactText(s, ['known-secret']);
    // a backtracking regular expression took seconds on the first three at 100 KB
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
