/**
 * Secrets at rest: AES-256-GCM (node:crypto) under one 32-byte key, from `SLUICE_SECRET_KEY` (base64 or
 * hex) or the key file `secret.key` in the data directory (made, mode 0600, on first start). A sealed
 * value is text, `sluice-secret:v1:` + base64(iv | tag | ciphertext), so it sits in a JSON config.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../runtime/host.js';

const PREFIX = 'sluice-secret:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const KEY_FILE = 'secret.key';
/** the new key while `sluice secrets rotate-key` re-encrypts; renamed to KEY_FILE when done */
export const PENDING_KEY_FILE = 'secret.key.new';
export const KEY_ENV = 'SLUICE_SECRET_KEY';

/** the key does not open what was sealed (another key, or the data was altered) */
export class SecretKeyError extends UserError {
  override name = 'SecretKeyError';
}

export function isSealed(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith(PREFIX);
}

export class SecretBox {
  constructor(private readonly key: Buffer, readonly source: string) {
    if (key.length !== KEY_BYTES) throw new Error(`a secret key has ${KEY_BYTES} bytes, not ${key.length}`);
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /** throws SecretKeyError when this key did not seal it */
  open(sealed: string, what = 'a secret'): string {
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(`cannot decrypt ${what} with the key from ${this.source}: it is not the key the secrets were encrypted with (set ${KEY_ENV} to that key, or restore that ${KEY_FILE})`);
    }
  }
}

/** 32 bytes from base64 (44 characters) or hex (64); `where` names the source in the error, never the value */
export function parseKey(text: string, where: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    const b = Buffer.from(t, 'base64');
    if (b.length === KEY_BYTES) key = b;
  }
  if (!key) {
    throw new UserError(
      `${where} is malformed: expected ${KEY_BYTES} bytes as base64 (44 characters) or hex (64 characters), got ${t.length} characters; make one with: openssl rand -base64 32`,
    );
  }
  return key;
}

export function newKeyText(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** writes a key file readable by its owner only; refuses to overwrite one */
export function writeKeyFile(path: string, keyText: string): void {
  writeFileSync(path, `${keyText}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * The key of a data directory: `SLUICE_SECRET_KEY` when set, else `DIR/secret.key`, made on first use.
 * `mustExist`: the store already holds secrets, so a missing key file is an error, not a new key.
 */
export function loadSecretBox(dataDir: string, env: Record<string, string | undefined>, mustExist: boolean): SecretBox {
  const fromEnv = env[KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return new SecretBox(parseKey(fromEnv, KEY_ENV), KEY_ENV);
  const file = join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    if (mustExist) {
      throw new SecretKeyError(`${file} is missing, and the stored secrets were encrypted with it: restore it, or set ${KEY_ENV} to the key`);
    }
    writeKeyFile(file, newKeyText());
  }
  return new SecretBox(parseKey(readFileSync(file, 'utf8'), file), file);
}
