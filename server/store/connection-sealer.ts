/**
 * How a connection's config is kept at rest, the same in every control store: each declared secret
 * (and each URL that holds a password) sealed with the store's SecretBox, everything else as it is.
 */
import { getPath, rawUrlPassword, setPath, type SecretFields } from '../../runtime/host.js';
import { isSealed, SecretKeyError, type SecretBox } from './secret-box.js';

/** the plain text sealed in the settings table: proves on open that the key is the one secrets were sealed with */
export const KEY_CHECK = 'sluice key check';
export const KEY_CHECK_SETTING = 'secret_key_check';

export class ConnectionSealer {
  constructor(
    readonly fieldsOf: (type: string) => SecretFields,
    /** undefined: secrets are stored as they are (in-memory stores of tests) */
    public box: SecretBox | undefined,
  ) {}

  /**
   * A config as stored: each declared secret (and each URL holding a password) sealed. `written`: the
   * config comes from a save, so every declared value is plain text and is sealed whatever it looks
   * like; otherwise (a stored config being migrated) values already sealed are left as they are.
   */
  seal(type: string, config: Record<string, unknown>, written: boolean, box = this.box): Record<string, unknown> {
    if (!box) return config;
    const fields = this.fieldsOf(type);
    const plain = (v: unknown): v is string => typeof v === 'string' && (written || !isSealed(v));
    let out = config;
    for (const p of fields.paths) {
      const v = getPath(out, p);
      if (plain(v) && v !== '') out = setPath(out, p, box.seal(v));
    }
    for (const p of fields.urlPaths) {
      const v = getPath(out, p);
      if (plain(v) && rawUrlPassword(v) !== undefined) out = setPath(out, p, box.seal(v));
    }
    return out;
  }

  /** a stored config with its declared secrets opened (nothing else is ever sealed) */
  open(id: string, type: string, config: Record<string, unknown>, box = this.box): Record<string, unknown> {
    const fields = this.fieldsOf(type);
    let out = config;
    for (const p of [...fields.paths, ...fields.urlPaths]) {
      const v = getPath(out, p);
      if (!isSealed(v)) continue;
      if (!box) throw new SecretKeyError(`connection ${id} holds encrypted secrets, and this store was opened without a key`);
      out = setPath(out, p, box.open(v, `connection ${id}'s secrets`));
    }
    return out;
  }

  /** true when a declared secret of the stored config is in clear */
  hasPlainSecret(type: string, config: Record<string, unknown>): boolean {
    return JSON.stringify(this.seal(type, config, false)) !== JSON.stringify(config);
  }
}
