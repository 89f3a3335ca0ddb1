/**
 * `sluice serve` (and `node dist/server/main.js`): the server with its data directory (`./data`:
 * sluice.db for flows, connections and users, sluice-state.db for positions, secret.key unless
 * SLUICE_SECRET_KEY is set) or, with `--store postgres://…`, the cluster's shared PostgreSQL stores
 * (server/store/open-stores.ts; the data directory then holds only the default file root), its file roots and env policy (server/policy.ts), the demo flow on first
 * start, the built editor, and a graceful stop on SIGINT/SIGTERM (deployments finish their batches and commit).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { createRegistry } from '../nodes/catalog.js';
import { DeploymentManager, UserError, errorMessage, formatIssue, hasErrors, redactText, redactUrl, type CheckpointStore, type Deployments, type HostPolicy, type NodeRegistry } from '../runtime/host.js';
import { NAME_RE, passwordProblem, type AuthService } from './auth/service.js';
import { exitOnUserError, flowAccessOptions, parseOptions, stopOnSignals, wholeNumber } from './cli-options.js';
import { canonicalDocument } from './flow-format.js';
import { validateInput } from './flow-input.js';
import { processLog, redactingLog, type LogFormat, type ServerLog } from './log.js';
import { packageRoot } from './package-root.js';
import { serverPolicy } from './policy.js';
import { createSluiceServer } from './server.js';
import type { ControlStore } from './store/control-store.js';
import { claimDataDir } from './store/data-files.js';
import { isPostgresUrl, openStores } from './store/open-stores.js';

export interface ServeOptions {
  port: number;
  host: string;
  data: string;
  /** the stores: a postgres:// URL (cluster), or undefined for SQLite files in `data` */
  store?: string;
  /** directories flows may read and write (default `<data>/files`) */
  files?: string[];
  /** env names flows may read besides those with a prefix of envPrefix */
  envAllow?: string[];
  /** default [SLUICE_FLOW_] */
  envPrefix?: string[];
  /** where a reverse proxy serves it (accepted as Host and Origin; the setup link names it) */
  publicUrl?: string;
  /** cluster mode: the server is the control plane, agents run the flows */
  cluster?: { redis: string; leaseMs?: number };
  /** default: json unless stdout is a terminal */
  logFormat?: LogFormat;
}

/** the demo flow, once, into a store created just now */
async function seedDemo(store: ControlStore, registry: NodeRegistry, policy: HostPolicy, root: string, log: ServerLog): Promise<void> {
  if (!store.created || (await store.countFlows()) > 0) return;
  const file = join(root, 'examples', 'orders-demo.yaml');
  if (!existsSync(file)) return;
  const { issues, raw } = validateInput({ registry, env: process.env, policy }, { text: readFileSync(file, 'utf8'), format: 'yaml' });
  if (hasErrors(issues) || !raw) {
    log.warn(`demo flow not added: ${file}: ${issues.map(formatIssue).join('; ')}`);
    return;
  }
  await store.createFlow(raw.name as string, (v) => canonicalDocument(raw, v));
  log.info(`added the demo flow ${String(raw.name)} from ${file}`);
}

/** SLUICE_ADMIN_PASSWORD (and SLUICE_ADMIN_USER, default admin): the admin made without a browser, once */
async function seedAdmin(auth: AuthService, env: Record<string, string | undefined>, log: ServerLog): Promise<void> {
  const password = env.SLUICE_ADMIN_PASSWORD;
  if (!password) return;
  delete env.SLUICE_ADMIN_PASSWORD; // used here only: no flow or child process of this server may see it
  const name = env.SLUICE_ADMIN_USER || 'admin';
  if (await auth.store.getUser(name)) return; // made before: the password may have been changed since
  const problem = passwordProblem(password) ?? (NAME_RE.test(name) ? undefined : `SLUICE_ADMIN_USER ${JSON.stringify(name)} is not a valid user name`);
  if (problem) throw new UserError(`SLUICE_ADMIN_PASSWORD: ${problem}`);
  await auth.createUser(name, 'admin', password);
  await auth.store.appendAudit({ user: null, action: 'user.create', target: name, address: null, details: { role: 'admin', via: 'SLUICE_ADMIN_PASSWORD' } });
  log.info(`made the admin ${name} from SLUICE_ADMIN_PASSWORD`);
}

export async function serve(opts: ServeOptions, baseLog: ServerLog = processLog(opts.logFormat)): Promise<void> {
  const root = packageRoot();
  const dataDir = resolve(opts.data);
  const registry = createRegistry();
  // first: a data directory is made 0700 before anything else creates it
  const stores = await openStores(opts.store ?? dataDir, { registry });
  const { control: store, checkpoints } = stores;
  // every line printed from here on has URL passwords and the stored secrets masked
  const log = redactingLog(baseLog, () => store.secretValues());
  const policy = serverPolicy({ dataDir: opts.data, files: opts.files, envAllow: opts.envAllow, envPrefixes: opts.envPrefix });
  // flow log lines keep URL passwords and the stored secrets masked
  let cluster: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  let manager: Deployments;
  if (opts.cluster) {
    // cluster mode: the agents run the flows; Redis is loaded only then, so the embedded default stays light
    cluster = await startControlPlane(opts.cluster, checkpoints, store, log);
    manager = cluster.control;
  } else {
    manager = new DeploymentManager({ store: checkpoints, cwd: process.cwd(), log, redact: (t) => redactText(t, store.secretValues()) });
  }
  await seedDemo(store, registry, policy, root, log);
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const trustProxy = process.env.SLUICE_TRUST_PROXY;
  const server = createSluiceServer({
    registry,
    store,
    manager,
    log,
    policy,
    version,
    editorDir: join(root, 'dist', 'editor'),
    trustProxy: trustProxy === undefined || trustProxy === '' ? undefined : trustProxy === 'true' ? true : trustProxy,
    publicUrls: opts.publicUrl ? [opts.publicUrl] : [],
    cluster: cluster ? () => cluster!.control.view() : undefined,
  });
  await seedAdmin(server.context.auth, process.env, log);

  let release = () => {};
  stopOnSignals(
    log,
    {
      stopping: (signal) => `${signal}: stopping (deployments finish their batches in flight and commit; ${signal} again to exit at once)`,
      again: (signal) => `${signal} again: exiting now without waiting for deployments to commit`,
    },
    async () => {
      await server.close();
      await cluster?.close();
      await stores.close();
      release();
      log.info('stopped');
    },
  );

  const address = await server.listen(opts.port, opts.host);
  if (stores.dataDir) release = claimDataDir(stores.dataDir);
  log.info(`Sluice ${version} listening on http://${opts.host}:${address.port} (${stores.kind === 'postgres' ? `stores in ${stores.location}` : `data in ${dataDir}`}; flows' files ${policy.files!.description})`);
  if ((await store.auth.countUsers()) === 0) {
    const token = server.context.auth.issueSetupToken();
    const base = opts.publicUrl ? opts.publicUrl.replace(/\/$/, '') : `http://localhost:${address.port}`;
    log.info(`no users yet: open this one-time link to set the first admin's password: ${base}/setup?token=${token}`);
  }
  // in cluster mode the agents resume what should run on their own
  if (!opts.cluster) await server.context.deployments.restore();
}

/** the cluster's control plane: Redis connections and the ClusterControl over them */
async function startControlPlane(o: NonNullable<ServeOptions['cluster']>, checkpoints: CheckpointStore, store: ControlStore, log: ServerLog) {
  const { ClusterControl, openRedis } = await import('../runtime/host-cluster.js');
  let redis, subscriber;
  try {
    redis = await openRedis(o.redis);
    subscriber = await openRedis(o.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
  } catch (err) {
    throw new UserError(`--redis: ${errorMessage(err)}`);
  }
  const control = new ClusterControl({ redis, subscriber, store: checkpoints, desired: (flowId, state) => store.setDeploymentState(flowId, state), leaseTtlMs: o.leaseMs, log });
  await control.start();
  return {
    control,
    async close() {
      await control.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return n;
};

/** checked after parsing, not by commander: its message would repeat the value, password and all */
const storeUrl = (v: string | undefined, where: string) => {
  if (v !== undefined && !isPostgresUrl(v)) throw new InvalidArgumentError(`${where} ${redactUrl(v)} is not a postgres:// URL (without --store the stores are SQLite files in --data)`);
  return v;
};

const publicUrl = (v: string) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`${v} is not a URL (such as https://sluice.example.com)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new InvalidArgumentError(`${v} must be an http or https URL`);
  return u.origin;
};

const logFormat = (v: string): LogFormat => {
  if (v !== 'text' && v !== 'json') throw new InvalidArgumentError(`${JSON.stringify(v)}: must be text or json`);
  return v;
};

/** a setting from the environment, parsed; its mistake names the variable */
function fromEnv<T>(name: string, parse: (v: string) => T): T | undefined {
  const v = process.env[name];
  if (!v) return undefined;
  try {
    return parse(v);
  } catch (err) {
    throw new InvalidArgumentError(`${name} ${(err as Error).message}`);
  }
}

/** `sluice serve [--port N] [--host H] [--data DIR] [--public-url URL]`; PORT, HOST and SLUICE_PUBLIC_URL from the environment are the defaults */
export async function cli(argv: string[]): Promise<void> {
  const program = new Command()
    .name('sluice serve')
    .description('run the Sluice server: the HTTP API, socket.io and the editor')
    .option('--port <n>', 'port to listen on, 0 for a free one (default: env PORT, else 8080)', port)
    .option('--host <host>', 'address to listen on; 0.0.0.0 for every interface (default: env HOST, else 127.0.0.1)')
    .option('--data <dir>', 'data directory: sluice.db and sluice-state.db (with --store: the default file root only)', './data')
    .option('--store <url>', 'keep flows, connections, users, deployments and checkpoints in PostgreSQL (postgres://…?schema=NAME) instead of SQLite files in --data (default: env SLUICE_STORE)')
    .option('--public-url <url>', 'the URL a TLS reverse proxy serves it at (default: env SLUICE_PUBLIC_URL)', publicUrl)
    .option('--cluster', 'run as the control plane of a cluster: `sluice agent`s run the flows (needs --redis and --store)')
    .option('--redis <url>', 'cluster mode: the cluster\'s Redis (default: env SLUICE_REDIS_URL)')
    .option('--lease-ms <ms>', 'cluster mode: the agents\' lease time, to tell live agents from dead ones (default 10000)', wholeNumber('--lease-ms', 500))
    .option('--log-format <format>', 'text (a line per event) or json (JSON lines with flow, node and deployment ids, for a log collector); default: json unless stdout is a terminal (env SLUICE_LOG_FORMAT)', logFormat);
  flowAccessOptions(
    program,
    'a directory flows may read and write files in (repeatable; default <data>/files, created on start). Relative paths in flows resolve against the first; the data directory is never reachable',
  );
  const opts = parseOptions('sluice serve', program, argv, (): ServeOptions => {
    const o = program.opts<Partial<Omit<ServeOptions, 'cluster'>> & { cluster?: boolean; redis?: string; leaseMs?: number }>();
    const redis = o.redis ?? process.env.SLUICE_REDIS_URL;
    if (o.cluster && !redis) throw new InvalidArgumentError('--cluster needs --redis URL (or SLUICE_REDIS_URL)');
    if (!o.cluster && o.redis) throw new InvalidArgumentError('--redis is for --cluster');
    return {
      cluster: o.cluster ? { redis: redis!, leaseMs: o.leaseMs } : undefined,
      port: o.port ?? fromEnv('PORT', port) ?? 8080,
      host: o.host ?? (process.env.HOST || '127.0.0.1'),
      data: o.data!,
      store: o.store !== undefined ? storeUrl(o.store, '--store') : storeUrl(process.env.SLUICE_STORE || undefined, 'SLUICE_STORE'),
      files: o.files,
      envAllow: o.envAllow,
      envPrefix: o.envPrefix,
      publicUrl: o.publicUrl ?? fromEnv('SLUICE_PUBLIC_URL', publicUrl),
      logFormat: o.logFormat ?? fromEnv('SLUICE_LOG_FORMAT', logFormat),
    };
  });
  try {
    await serve(opts);
  } catch (err) {
    exitOnUserError('sluice serve', err);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(`sluice serve: cannot listen on ${opts.host}:${opts.port}: ${errorMessage(err)}\n`);
      process.exit(2);
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`sluice serve: internal error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(1);
  });
}
