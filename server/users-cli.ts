/**
 * `sluice users …` and `sluice api-keys …`: the control store's users and keys from the command line
 * (the server may be running: SQLite lets both write). Exit 0, or 2 with one line for a mistake.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../runtime/host.js';
import { hashPassword, randomToken } from './auth/crypto.js';
import { AuthService, NAME_RE, passwordProblem } from './auth/service.js';
import type { ControlStore } from './store/control-store.js';
import { restrictDataFiles } from './store/data-files.js';
import { isPostgresUrl, openControlStoreAt } from './store/open-stores.js';
import { ROLES, roleAtLeast, type Role } from './store/auth-store.js';

class CliError extends Error {}

const roleOption = (what: string) => new Option('--role <role>', what).choices(ROLES as unknown as string[]);
const dataOption = () => new Option('--data <dir>', 'data directory holding sluice.db').default('./data');
const storeOption = () => new Option('--store <url>', 'the shared store of a cluster, postgres://… (in place of --data)').env('SLUICE_STORE');

interface Where {
  data: string;
  store?: string;
}

/**
 * The control store (users and password hashes live there): the cluster's PostgreSQL store with
 * `--store URL`, else the data directory's sluice.db, made 0700/0600 like the server's. No key is
 * needed: these commands never read connections.
 */
async function withStore<T>(where: Where, mustExist: boolean, fn: (store: ControlStore, auth: AuthService) => T | Promise<T>): Promise<T> {
  const location = where.store ?? where.data;
  if (where.store !== undefined && !isPostgresUrl(where.store)) throw new CliError(`--store ${where.store}: expected a postgres:// URL (a data directory goes in --data)`);
  let store: ControlStore;
  try {
    store = await openControlStoreAt(location, { secrets: false, mustExist });
  } catch (err) {
    if (err instanceof UserError) throw new CliError(err.message);
    throw err;
  }
  try {
    return await fn(store, new AuthService(store.auth));
  } finally {
    await store.close();
    if (!isPostgresUrl(location)) restrictDataFiles(resolve(location));
  }
}

const actor = () => `cli:${userInfo().username}`;

/** the password from stdin (its trailing newline dropped), or a new random one printed once */
function readPassword(fromStdin: boolean | undefined): { password: string; generated: boolean } {
  if (!fromStdin) return { password: randomToken(15), generated: true };
  const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  const problem = passwordProblem(password);
  if (problem) throw new CliError(`the password on stdin ${problem}`);
  return { password, generated: false };
}

const userName = (v: string) => {
  if (!NAME_RE.test(v)) throw new InvalidArgumentError('must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
  return v;
};

const out = (s: string) => process.stdout.write(`${s}\n`);
const date = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function usersCommand(): Command {
  const users = new Command('users').description('the people who may sign in: add, list, remove, set a password');
  users
    .command('add')
    .argument('<name>', 'user name', userName)
    .addOption(roleOption('viewer, editor or admin').makeOptionMandatory())
    .option('--password-stdin', 'read the password from stdin (default: make one and print it once)')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((name: string, o: { role: Role; passwordStdin?: boolean } & Where) => {
      const { password, generated } = readPassword(o.passwordStdin); // before the store: a mistake leaves no sluice.db behind
      return withStore(o, false, async (store, auth) => {
        if (!(await auth.createUser(name, o.role, password))) throw new CliError(`a user named ${name} exists`);
        await store.auth.appendAudit({ user: actor(), action: 'user.create', target: name, address: 'cli', details: { role: o.role } });
        out(generated ? `added ${name} (${o.role}); password (shown once): ${password}` : `added ${name} (${o.role})`);
      });
    });
  users
    .command('list')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((o: Where) =>
      withStore(o, true, async (store) => {
        for (const u of await store.auth.listUsers()) out(`${u.name}\t${u.role}\tcreated ${date(u.createdAt)}`);
      }),
    );
  users
    .command('remove')
    .argument('<name>', 'user name')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((name: string, o: Where) =>
      withStore(o, true, async (store) => {
        const u = await store.auth.getUser(name);
        if (!u) throw new CliError(`no user named ${name}`);
        if (u.role === 'admin' && (await store.auth.countAdmins()) === 1) throw new CliError(`${name} is the only admin: add another admin first`);
        await store.auth.deleteUser(name);
        await store.auth.appendAudit({ user: actor(), action: 'user.delete', target: name, address: 'cli', details: null });
        out(`removed ${name} (and their sessions and API keys)`);
      }),
    );
  users
    .command('passwd')
    .description("set a user's password (ends their sessions)")
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from stdin (default: make one and print it once)')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((name: string, o: { passwordStdin?: boolean } & Where) =>
      withStore(o, true, async (store) => {
        if (!(await store.auth.getUser(name))) throw new CliError(`no user named ${name}`);
        const { password, generated } = readPassword(o.passwordStdin);
        await store.auth.setPassword(name, await hashPassword(password));
        await store.auth.appendAudit({ user: actor(), action: 'user.update', target: name, address: 'cli', details: { password: true } });
        out(generated ? `new password for ${name} (shown once): ${password}` : `password of ${name} set`);
      }),
    );
  return users;
}

function keysCommand(): Command {
  const keys = new Command('api-keys').description('keys for scripts and agents (Authorization: Bearer KEY): create, list, revoke');
  keys
    .command('create')
    .requiredOption('--user <name>', 'the user the key acts as')
    .addOption(roleOption("the key's role, at most the user's (default: the user's)"))
    .option('--label <text>', 'what the key is for', '')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((o: { user: string; role?: Role; label: string } & Where) =>
      withStore(o, true, async (store, auth) => {
        const user = await store.auth.getUser(o.user);
        if (!user) throw new CliError(`no user named ${o.user} (sluice users add ${o.user} --role …)`);
        const role = o.role ?? user.role;
        if (!roleAtLeast(user.role, role)) throw new CliError(`${o.user} is ${user.role}: a key cannot have more rights than its user`);
        const { key, id } = await auth.createKey(user, role, o.label);
        await store.auth.appendAudit({ user: actor(), action: 'key.create', target: id, address: 'cli', details: { user: user.name, role } });
        process.stderr.write(`API key ${id} for ${user.name} (${role}); it is shown once, keep it now:\n`);
        out(key);
      }),
    );
  keys
    .command('list')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((o: Where) =>
      withStore(o, true, async (store) => {
        for (const k of await store.auth.listKeys()) {
          out(`${k.id}\t${k.user}\t${k.role}\t${k.revokedAt === null ? 'active' : `revoked ${date(k.revokedAt)}`}\tlast used ${date(k.lastUsedAt)}\t${k.label}`);
        }
      }),
    );
  keys
    .command('revoke')
    .argument('<id>', 'the key id (sluice api-keys list)')
    .addOption(dataOption())
    .addOption(storeOption())
    .action((id: string, o: Where) =>
      withStore(o, true, async (store) => {
        if (!(await store.auth.getKey(id))) throw new CliError(`no API key ${id}`);
        await store.auth.revokeKey(id);
        await store.auth.appendAudit({ user: actor(), action: 'key.revoke', target: id, address: 'cli', details: null });
        out(`revoked ${id}`);
      }),
    );
  return keys;
}

/** `sluice users …` / `sluice api-keys …`; resolves with the exit code */
export async function cli(argv: string[]): Promise<number> {
  const program = new Command()
    .name('sluice')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addCommand(usersCommand())
    .addCommand(keysCommand());
  for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const c of program.commands.flatMap((c) => c.commands)) c.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
