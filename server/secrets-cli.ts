/**
 * `sluice secrets rotate-key [--data DIR | --store URL] [--new-key KEY]`: every stored secret
 * re-encrypted under a new key. With the key file: a new `secret.key` (written as `secret.key.new`
 * first, renamed once the store is re-encrypted, so a stop half-way is finished by the next start).
 * With SLUICE_SECRET_KEY (always so for a PostgreSQL store): the new key comes from `--new-key` or
 * SLUICE_NEW_SECRET_KEY, and the user sets the variable afterwards. Run it while the server (and, on
 * PostgreSQL, every agent) is stopped.
 */
import { existsSync, renameSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { createRegistry } from '../nodes/catalog.js';
import { UserError } from '../runtime/host.js';
import { openControlStore } from './store/open-control-store.js';
import { isPostgresUrl, openControlStoreAt } from './store/open-stores.js';
import { CONTROL_DB, restrictDataFiles, runningServer } from './store/data-files.js';
import { KEY_ENV, KEY_FILE, PENDING_KEY_FILE, SecretBox, newKeyText, parseKey, writeKeyFile } from './store/secret-box.js';

export const NEW_KEY_ENV = 'SLUICE_NEW_SECRET_KEY';

/** a PostgreSQL store: the current key is SLUICE_SECRET_KEY, the new one must be given; one transaction */
async function rotatePostgresKey(url: string, newKey: string | undefined, env: Record<string, string | undefined>): Promise<string> {
  const given = newKey ?? env[NEW_KEY_ENV];
  if (!given) throw new UserError(`a PostgreSQL store takes its key from ${KEY_ENV}: pass the new key with --new-key KEY or ${NEW_KEY_ENV} (32 random bytes: openssl rand -base64 32)`);
  const next = new SecretBox(parseKey(given, newKey !== undefined ? '--new-key' : NEW_KEY_ENV), 'the new key');
  const store = await openControlStoreAt(url, { registry: createRegistry(), env, mustExist: true });
  try {
    const n = await store.rotateKey(next);
    return `re-encrypted the secrets of ${n} connection(s) in ${store.location} under the new key. Set ${KEY_ENV} to the new key on the server and every agent before they start again: the old key no longer opens them`;
  } finally {
    await store.close();
  }
}

/** re-encrypts the secrets of the store at `location` (a data directory or a PostgreSQL URL); returns what to tell the user */
export async function rotateKey(location: string, newKey: string | undefined, env: Record<string, string | undefined> = process.env): Promise<string> {
  if (isPostgresUrl(location)) return rotatePostgresKey(location, newKey, env);
  const dataDir = resolve(location);
  if (!existsSync(join(dataDir, CONTROL_DB))) throw new UserError(`${join(dataDir, CONTROL_DB)} does not exist: --data names the server's data directory`);
  const pid = runningServer(dataDir);
  if (pid !== undefined) throw new UserError(`a Sluice server (pid ${pid}) is running on ${dataDir}: stop it first, it holds the current key`);
  const fromEnv = Boolean(env[KEY_ENV]);
  const given = newKey ?? env[NEW_KEY_ENV];
  if (fromEnv && !given) {
    throw new UserError(`${KEY_ENV} is set, so the new key must come from you: pass --new-key KEY or set ${NEW_KEY_ENV} (32 random bytes: openssl rand -base64 32)`);
  }
  const keyText = given ?? newKeyText();
  const next = new SecretBox(parseKey(keyText, newKey !== undefined ? '--new-key' : given ? NEW_KEY_ENV : 'the new key'), fromEnv ? 'the new key' : join(dataDir, KEY_FILE));
  const store = openControlStore(dataDir, createRegistry(), env);
  try {
    const pending = join(dataDir, PENDING_KEY_FILE);
    if (!fromEnv) {
      if (existsSync(pending)) unlinkSync(pending);
      writeKeyFile(pending, keyText.trim());
    }
    const n = await store.rotateKey(next);
    if (fromEnv) {
      return `re-encrypted the secrets of ${n} connection(s) under the new key. Set ${KEY_ENV} to the new key before the server starts again: the old key no longer opens them`;
    }
    renameSync(pending, join(dataDir, KEY_FILE));
    return `re-encrypted the secrets of ${n} connection(s) under a new key in ${join(dataDir, KEY_FILE)}`;
  } finally {
    await store.close();
    restrictDataFiles(dataDir);
  }
}

/** `sluice secrets …`: returns the exit code */
export async function cli(argv: string[]): Promise<number> {
  const program = new Command()
    .name('sluice secrets')
    .description('manage the key that encrypts stored connection secrets')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command('rotate-key')
    .description(`re-encrypt every stored secret under a new key (stop the server first); with ${KEY_ENV} set, give the new key`)
    .option('--data <dir>', 'data directory: sluice.db and secret.key', './data')
    .addOption(new Option('--store <url>', 'the shared store of a cluster, postgres://… (in place of --data)').env('SLUICE_STORE'))
    .option('--new-key <key>', `the new key, 32 bytes as base64 or hex (default: ${NEW_KEY_ENV}, else a random one in the key file)`)
    .action(async (opts: { data: string; store?: string; newKey?: string }) => {
      if (opts.store !== undefined && !isPostgresUrl(opts.store)) throw new UserError(`--store ${opts.store}: expected a postgres:// URL (a data directory goes in --data)`);
      process.stdout.write(`${await rotateKey(opts.store ?? opts.data, opts.newKey)}\n`);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UserError) {
      process.stderr.write(`sluice secrets: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return 0;
}
