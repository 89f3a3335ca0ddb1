/** Opening the server's control store from its data directory, with the key that seals its secrets. */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeRegistry } from '../../runtime/host.js';
import { secretFieldsOfType } from '../connections.js';
import { SqliteControlStore } from './sqlite-control-store.js';
import { CONTROL_DB, prepareDataDir, restrictDataFiles } from './data-files.js';
import { KEY_ENV, KEY_FILE, PENDING_KEY_FILE, SecretBox, SecretKeyError, loadSecretBox, parseKey } from './secret-box.js';

/**
 * The data directory's control store (made 0700/0600 if new, chmodded otherwise), its secrets sealed
 * under `SLUICE_SECRET_KEY` or the directory's key file. A wrong or missing key is a UserError.
 */
export function openControlStore(dataDir: string, registry: NodeRegistry, env: Record<string, string | undefined> = process.env): SqliteControlStore {
  prepareDataDir(dataDir);
  const open = (box: (hasSecrets: boolean) => SecretBox): SqliteControlStore =>
    new SqliteControlStore(join(dataDir, CONTROL_DB), { secretFields: (type) => secretFieldsOfType(registry, type), secretBox: box });
  let store: SqliteControlStore;
  try {
    store = open((hasSecrets) => loadSecretBox(dataDir, env, hasSecrets));
  } catch (err) {
    // a key rotation that stopped between re-encrypting and replacing the key file: finish it
    const pending = join(dataDir, PENDING_KEY_FILE);
    if (!(err instanceof SecretKeyError) || env[KEY_ENV] || !existsSync(pending)) throw err;
    store = open(() => new SecretBox(parseKey(readFileSync(pending, 'utf8'), pending), pending));
    renameSync(pending, join(dataDir, KEY_FILE));
  }
  restrictDataFiles(dataDir);
  return store;
}


