/**
 * `sluice agent --redis URL --store LOCATION [--name N] [--capacity K]`: one agent of the cluster
 * (runtime/cluster/agent.ts) over the shared stores. SIGTERM or SIGINT hands its flows over at once
 * (each stops and commits), then it leaves; a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createRegistry } from '../../nodes/catalog.js';
import { Agent, maskUrl, openRedis } from '../../runtime/host-cluster.js';
import { UserError, errorMessage, redactText, serveMetrics, startHookServer } from '../../runtime/host.js';
import { hookKeyCheck } from '../auth/hook-key.js';
import { AuthService } from '../auth/service.js';
import { exitOnUserError, flowAccessOptions, parseOptions, stopOnSignals, wholeNumber } from '../cli-options.js';
import { processLog, redactingLog } from '../log.js';
import { packageRoot } from '../package-root.js';
import { serverPolicy } from '../policy.js';
import { openStores } from '../store/open-stores.js';
import { storeFlowSource } from './flow-source.js';

export interface AgentCliOptions {
  redis: string;
  store: string;
  name: string;
  capacity?: number;
  leaseMs: number;
  files?: string[];
  envAllow?: string[];
  envPrefix?: string[];
  startRetries: number;
  startRetryMs: number;
  metricsPort?: number;
  metricsHost: string;
  hooksPort?: number;
  hooksHost: string;
}

export async function runAgent(opts: AgentCliOptions): Promise<void> {
  const registry = createRegistry();
  // a PostgreSQL store writes this agent's name with each checkpoint commit
  const stores = await openStores(opts.store, { registry, agent: opts.name });
  const format = process.env.SLUICE_LOG_FORMAT;
  const log = redactingLog(processLog(format === 'json' || format === 'text' ? format : undefined), () => stores.control.secretValues());
  const dataDir = stores.dataDir ?? join(process.cwd(), 'data');
  const policy = serverPolicy({ dataDir, files: opts.files, envAllow: opts.envAllow, envPrefixes: opts.envPrefix });
  let redis, subscriber;
  try {
    redis = await openRedis(opts.redis);
    // the subscriber may queue its SUBSCRIBE while reconnecting
    subscriber = await openRedis(opts.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
  } catch (err) {
    await stores.close();
    throw new UserError(`--redis: ${errorMessage(err)}`);
  }
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const agent = new Agent({
    name: opts.name,
    redis,
    subscriber,
    store: stores.checkpoints,
    flows: storeFlowSource(stores.control, registry, policy, process.env),
    address: `${hostname()} pid ${process.pid}`,
    version,
    capacity: opts.capacity,
    leaseTtlMs: opts.leaseMs,
    startRetries: opts.startRetries,
    startRetryMs: opts.startRetryMs,
    cwd: process.cwd(),
    redact: (t) => redactText(t, stores.control.secretValues()),
    log,
  });
  stopOnSignals(
    log,
    {
      stopping: (signal) => `${signal}: handing the flows over (each stops and commits); ${signal} again to exit at once`,
      again: (signal) => `${signal} again: exiting now; the flows' leases lapse and other agents resume them`,
    },
    async () => {
      await agent.drain();
      redis.disconnect();
      subscriber.disconnect();
      await stores.close();
      log.info(`agent ${opts.name} left the cluster`);
    },
  );
  if (opts.hooksPort !== undefined) {
    // the webhooks of the http.source nodes this agent runs: signed requests (the node's hmacSecret), or
    // an API key checked here against the cluster's users and keys, as the server's own route checks it
    try {
      const authenticate = hookKeyCheck(new AuthService(stores.control.auth));
      const hooks = await startHookServer(opts.hooksPort, opts.hooksHost, { endpoints: agent.manager.endpoints, authenticate });
      agent.advertiseHooks(hooks.url);
      log.info(`agent ${opts.name}: webhooks at ${hooks.url}/hooks/FLOW/NODE`);
    } catch (err) {
      redis.disconnect();
      subscriber.disconnect();
      await stores.close();
      throw new UserError(`--hooks-port ${opts.hooksPort}: cannot listen on ${opts.hooksHost}: ${errorMessage(err)}`);
    }
  }
  if (opts.metricsPort !== undefined) {
    // the metrics of the flows this agent runs, under the names the server's GET /metrics uses
    agent.manager.metrics.collectProcessMetrics();
    try {
      const endpoint = await serveMetrics(agent.manager.metrics, opts.metricsPort, opts.metricsHost);
      log.info(`agent ${opts.name}: metrics at http://${opts.metricsHost}:${endpoint.port}/metrics`);
    } catch (err) {
      redis.disconnect();
      subscriber.disconnect();
      await stores.close();
      throw err;
    }
  }
  await agent.start();
  log.info(`agent ${opts.name} (Sluice ${version}) joined the cluster at ${maskUrl(opts.redis)}; store ${stores.location}; lease ${opts.leaseMs} ms`);
}

export async function cli(argv: string[]): Promise<void> {
  const program = new Command()
    .name('sluice agent')
    .description('run an agent of the cluster: it runs the deployed flows the leader assigns to it, each under a Redis lease')
    .option('--redis <url>', 'the cluster\'s Redis (default: env SLUICE_REDIS_URL)')
    .option('--store <location>', 'the shared stores: postgres://… (as the server\'s --store), or the data directory the server uses on this machine (default: env SLUICE_STORE)')
    .option('--name <name>', 'this agent\'s name, unique in the cluster (default: HOST-PID)')
    .option('--capacity <k>', 'run at most this many flows', wholeNumber('--capacity', 1))
    .option('--lease-ms <ms>', 'lease time of the flows: a dead agent\'s flows resume elsewhere after about this long', wholeNumber('--lease-ms', 500), 10_000)
    .option('--start-retries <n>', 'a flow that fails to start is started again this many times (waiting 1, 2, 4 … × --start-retry-ms), then marked failed', wholeNumber('--start-retries', 0), 3)
    .option('--start-retry-ms <ms>', 'the first wait before starting a failed start again', wholeNumber('--start-retry-ms', 10), 1000)
    .option('--metrics-port <n>', 'serve the Prometheus metrics of the flows this agent runs at http://HOST:N/metrics (0: any free port, logged)', wholeNumber('--metrics-port', 0))
    .option('--metrics-host <host>', 'the address --metrics-port listens on (default 127.0.0.1: there is no authentication)', '127.0.0.1')
    .option('--hooks-port <n>', 'serve the webhooks of the http.source nodes this agent runs at POST http://HOST:N/hooks/FLOW/NODE (an API key checked as by the server, or a signed request; advertised in the membership, GET /api/cluster)', wholeNumber('--hooks-port', 0))
    .option('--hooks-host <host>', 'the address --hooks-port listens on', '127.0.0.1');
  flowAccessOptions(program, 'a directory flows may read and write files in (repeatable; default <data directory>/files, ./data/files with PostgreSQL)');
  const opts = parseOptions('sluice agent', program, argv, (): AgentCliOptions => {
    const o = program.opts<Partial<AgentCliOptions>>();
    const redis = o.redis ?? process.env.SLUICE_REDIS_URL;
    const store = o.store ?? process.env.SLUICE_STORE;
    if (!redis) throw new InvalidArgumentError('--redis URL is required (or SLUICE_REDIS_URL)');
    if (!store) throw new InvalidArgumentError('--store LOCATION is required (or SLUICE_STORE)');
    if (o.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(o.name)) throw new InvalidArgumentError(`--name ${JSON.stringify(o.name)}: letters, digits, ".", "_" and "-", at most 64`);
    return { redis, store, name: o.name ?? `${hostname()}-${process.pid}`, capacity: o.capacity, leaseMs: o.leaseMs!, files: o.files, envAllow: o.envAllow, envPrefix: o.envPrefix, startRetries: o.startRetries!, startRetryMs: o.startRetryMs!, metricsPort: o.metricsPort, metricsHost: o.metricsHost!, hooksPort: o.hooksPort, hooksHost: o.hooksHost! };
  });
  try {
    await runAgent(opts);
  } catch (err) {
    exitOnUserError('sluice agent', err);
    throw err;
  }
}
