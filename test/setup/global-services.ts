/**
 * Vitest global set-up: the servers the integration and browser tests use, ready before the test workers
 * start. For each one, a URL given in the environment is used as it is; otherwise a private instance is
 * started for this run (test/setup/servers.ts) and its URL exported to the workers through process.env
 * (they are forked after this runs). Everything started here is stopped and removed at teardown.
 *
 *   PG_URL          private PostgreSQL cluster, wal_level=logical
 *   PG_RESTART_URL  a second private cluster that the crash test stops and starts (PG_RESTART_PGDATA)
 *   MYSQL_URL       private MariaDB
 *   MYSQL_CDC_URL   a second private MariaDB, binlog on (ROW), TLS (SLUICE_MARIADB_CDC_DIR/tls/ca.pem)
 *   MONGO_URL       mongo-java-server; MONGO_TLS_URL + MONGO_TLS_CA its TLS-only twin
 *   KAFKA_BROKERS   one Kafka 4.4 broker (KRaft), shared by the Kafka test files (KAFKA_SASL_BROKERS: its SASL
 *                   listener, user and password in servers.ts KAFKA_SASL; KAFKA_TLS_BROKERS: its TLS listener,
 *                   KAFKA_TLS_CA: the CA's PEM file); KAFKA_DIR lets a test
 *                   kill and restart it (servers.ts runKafka / killKafka). Its start is not waited for
 *                   here: the Kafka files wait for it (SLUICE_KAFKA_STARTING, test/helpers/kafka.ts)
 *   NATS_URL        private nats-server with JetStream
 *   NATS_RESTART_URL a second private nats-server that the broker-restart test kills and starts (NATS_RESTART_DIR)
 *   REDIS_URL       private redis-server (no persistence)
 *
 * Only the servers that the selected test files mention are started (`vitest run test/unit` starts none).
 * A server that cannot be started: its tests are skipped with a loud notice, or fail under CI=true
 * (test/helpers/services.ts reads SLUICE_NO_<VAR>, the reason). SLUICE_PRIVATE_SERVERS=0 starts none;
 * SLUICE_KEEP_SERVER_LOGS=1 keeps the run's directory (server logs) after the run. The servers of a run
 * that ended without its teardown (killed) are stopped by the next run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, chmodSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { has, KAFKA_FAILED, KAFKA_STARTED, kafkaToolsMissing, mariadbInstalled, mongoToolsMissing, natsServerInstalled, launchKafka, pgBinDir, pgCtl, startMariadb, startMongo, startNats, startPostgres, startRedis } from './servers.js';
import { isAlive } from '../helpers/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CI = process.env.CI === 'true' || process.env.CI === '1';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'bench' || e.name === 'servers' ? [] : testFiles(p);
    return /\.test\.tsx?$/.test(e.name) ? [p] : [];
  });
}

/** the env vars that the test files of this run mention (vitest's file filters are substrings of the path) */
function wantedVars(): Set<string> {
  const all = testFiles(join(ROOT, 'test'));
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-') && a !== 'run' && a !== 'watch' && !a.endsWith('vitest') && !a.endsWith('.mjs'));
  let files = args.length ? all.filter((f) => args.some((a) => relative(ROOT, f).includes(a.replace(/^\.\//, '')) || f.includes(a))) : all;
  if (!files.length) files = all;
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  return new Set(['PG_URL', 'PG_RESTART_URL', 'MYSQL_URL', 'MYSQL_CDC_URL', 'MONGO_URL', 'KAFKA_BROKERS', 'NATS_URL', 'NATS_RESTART_URL', 'REDIS_URL'].filter((v) => text.includes(`'${v}'`)));
}

const stops: (() => Promise<void>)[] = [];
const PREFIX = 'sluice-servers-';

const alive = isAlive;

/** the servers and directories of earlier runs that were killed before their teardown */
async function reapStale(): Promise<void> {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    const ownerFile = join(dir, 'owner.pid');
    const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8').trim()) || 0 : 0;
    if (!owner || alive(owner)) continue;
    for (const pgdata of ['pg/pgdata', 'pg-restart/pgdata'].map((d) => join(dir, d)).filter((d) => existsSync(join(d, 'postmaster.pid'))))
      await pgCtl(pgdata, 'stop', '-m', 'immediate').catch(() => undefined);
    for (const pidFile of ['mariadb/mariadbd.pid', 'mariadb-cdc/mariadbd.pid', 'mongo/pids', 'kafka/kafka.pid', 'nats/pids', 'nats-restart/pids', 'redis/redis.pid'].map((f) => join(dir, f)).filter(existsSync))
      for (const pid of readFileSync(pidFile, 'utf8').split(/\s+/).filter(Boolean).map(Number))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    rmSync(dir, { recursive: true, force: true });
  }
}
let runDir: string | undefined;

function unavailable(vars: string[], what: string, reason: string): void {
  if (CI) throw new Error(`${what} could not be started: ${reason}. Under CI=true this is a failure, not a skip.`);
  process.stderr.write(`\n\x1b[33m!!! ${what} could not be started, its tests will be skipped: ${reason}\x1b[0m\n\n`);
  for (const v of vars) process.env[`SLUICE_NO_${v}`] = `${what} could not be started for this run: ${reason}`;
}

/** how long each server took to start, for the set-up's summary line (the slowest decides when the files start) */
const startTimes: string[] = [];

async function prepare(vars: string[], what: string, missing: string | undefined, start: () => Promise<void>): Promise<void> {
  if (missing) return unavailable(vars, what, missing);
  const t = Date.now();
  try {
    await start();
    startTimes.push(`${what} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  } catch (err) {
    unavailable(vars, what, (err as Error).message);
  }
}

export async function setup(): Promise<void> {
  if (process.env.SLUICE_PRIVATE_SERVERS === '0') return;
  const wanted = wantedVars();
  const need = (v: string) => wanted.has(v) && !process.env[v];
  if (![...wanted].some(need)) return;
  const t0 = Date.now();
  await reapStale().catch((err) => process.stderr.write(`could not clean up the servers of an earlier run: ${(err as Error).message}\n`));
  runDir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(runDir, 0o755); // the postgres user (initdb refuses root) must reach its directory
  writeFileSync(join(runDir, 'owner.pid'), String(process.pid));
  const started: string[] = [];
  const jobs: Promise<void>[] = [];
  const dir = runDir;

  const noPg = pgBinDir() ? undefined : 'no PostgreSQL binaries under /usr/lib/postgresql/*/bin (set PG_BINDIR, or PG_URL to a server)';
  if (need('PG_URL'))
    jobs.push(prepare(['PG_URL'], 'PostgreSQL', noPg, async () => {
      const pg = await startPostgres(join(dir, 'pg'));
      stops.push(pg.stop);
      process.env.PG_URL = pg.url;
      started.push(`PG_URL=${pg.url}`);
    }));
  if (need('PG_RESTART_URL'))
    jobs.push(prepare(['PG_RESTART_URL'], 'PostgreSQL (restartable)', noPg, async () => {
      const pg = await startPostgres(join(dir, 'pg-restart'));
      stops.push(pg.stop);
      process.env.PG_RESTART_URL = pg.url;
      process.env.PG_RESTART_PGDATA = pg.pgdata;
      started.push(`PG_RESTART_URL=${pg.url}`);
    }));
  const noMaria = mariadbInstalled() ? undefined : 'mariadbd / mariadb-install-db are not installed (or set MYSQL_URL / MYSQL_CDC_URL)';
  if (need('MYSQL_URL'))
    jobs.push(prepare(['MYSQL_URL'], 'MariaDB', noMaria, async () => {
      const my = await startMariadb(join(dir, 'mariadb'));
      stops.push(my.stop);
      process.env.MYSQL_URL = `${my.url}/test`;
      const mysql = (await import('mysql2/promise')).default;
      const c = await mysql.createConnection({ uri: `${my.url}/mysql` });
      await c.query('CREATE DATABASE IF NOT EXISTS test');
      await c.end();
      started.push(`MYSQL_URL=${process.env.MYSQL_URL}`);
    }));
  if (need('MYSQL_CDC_URL'))
    jobs.push(prepare(['MYSQL_CDC_URL'], 'MariaDB with binlog', noMaria ?? (has('openssl') ? undefined : 'openssl is not installed'), async () => {
      const my = await startMariadb(join(dir, 'mariadb-cdc'), { tls: true });
      stops.push(my.stop);
      process.env.MYSQL_CDC_URL = `${my.url}/mysql`;
      process.env.SLUICE_MARIADB_CDC_DIR = my.dir;
      started.push(`MYSQL_CDC_URL=${process.env.MYSQL_CDC_URL}`);
    }));
  if (need('MONGO_URL')) {
    const missing = mongoToolsMissing();
    jobs.push(prepare(['MONGO_URL', 'MONGO_TLS_URL'], 'mongo-java-server', missing.length ? `${missing.join(', ')} not installed (needs a JDK 17+, Maven and openssl; or set MONGO_URL)` : undefined, async () => {
      const mongo = await startMongo(ROOT, join(dir, 'mongo'));
      stops.push(mongo.stop);
      process.env.MONGO_URL = mongo.url;
      if (!process.env.MONGO_TLS_URL) {
        process.env.MONGO_TLS_URL = mongo.tlsUrl;
        process.env.MONGO_TLS_CA = mongo.tlsCa;
      }
      started.push(`MONGO_URL=${mongo.url}`);
    }));
  }
  if (need('KAFKA_BROKERS')) {
    const missing = kafkaToolsMissing();
    jobs.push(prepare(['KAFKA_BROKERS'], 'Kafka', missing.length ? `${missing.join(', ')} not installed (needs a JDK 17+ and Maven; or set KAFKA_BROKERS)` : undefined, async () => {
      // not awaited: the broker (a JVM, the slowest server to start) comes up while the other files run
      const kafka = await launchKafka(ROOT, join(dir, 'kafka'));
      stops.push(kafka.stop);
      process.env.KAFKA_BROKERS = kafka.brokers;
      process.env.KAFKA_SASL_BROKERS = kafka.saslBrokers;
      process.env.KAFKA_TLS_BROKERS = kafka.tlsBrokers;
      process.env.KAFKA_TLS_CA = kafka.tlsCa;
      process.env.KAFKA_DIR = kafka.dir;
      process.env.SLUICE_KAFKA_STARTING = kafka.dir;
      started.push(`KAFKA_BROKERS=${kafka.brokers} (starting)`);
      const t = Date.now();
      kafka.ready.then(
        () => {
          writeFileSync(join(kafka.dir, KAFKA_STARTED), '');
          process.stderr.write(`private Kafka broker ready in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
        },
        (err: Error) => {
          // written whole, then renamed: a Kafka file polling for it never reads half a reason
          writeFileSync(join(kafka.dir, `${KAFKA_FAILED}.tmp`), err.message);
          renameSync(join(kafka.dir, `${KAFKA_FAILED}.tmp`), join(kafka.dir, KAFKA_FAILED));
          process.stderr.write(`\n\x1b[33m!!! Kafka could not be started, its tests will be ${CI ? 'failed' : 'skipped'}: ${err.message}\x1b[0m\n\n`);
        },
      ).catch((err: Error) => process.stderr.write(`could not mark the Kafka broker's start: ${err.message}\n`));
    }));
  }
  const noNats = natsServerInstalled() ? undefined : 'nats-server is not installed (apt-get install nats-server, or set NATS_URL)';
  if (need('NATS_URL'))
    jobs.push(prepare(['NATS_URL'], 'nats-server', noNats, async () => {
      const nats = await startNats(join(dir, 'nats'));
      stops.push(nats.stop);
      process.env.NATS_URL = nats.url;
      started.push(`NATS_URL=${nats.url}`);
    }));
  if (need('NATS_RESTART_URL'))
    jobs.push(prepare(['NATS_RESTART_URL'], 'nats-server (restartable)', noNats, async () => {
      const nats = await startNats(join(dir, 'nats-restart'));
      stops.push(nats.stop);
      process.env.NATS_RESTART_URL = nats.url;
      process.env.NATS_RESTART_DIR = nats.dir;
      started.push(`NATS_RESTART_URL=${nats.url}`);
    }));
  if (need('REDIS_URL'))
    jobs.push(prepare(['REDIS_URL'], 'Redis', has('redis-server') ? undefined : 'redis-server is not installed (or set REDIS_URL)', async () => {
      const redis = await startRedis(join(dir, 'redis'));
      stops.push(redis.stop);
      process.env.REDIS_URL = redis.url;
      started.push(`REDIS_URL=${redis.url}`);
    }));
  try {
    await Promise.all(jobs);
  } catch (err) {
    await teardown();
    throw err;
  }
  process.stderr.write(`private test servers ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${startTimes.splice(0).join(', ')}; ${runDir}): ${started.join(' ')}\n`);
}

export async function teardown(): Promise<void> {
  await Promise.all(stops.splice(0).map((s) => s().catch(() => undefined)));
  if (!process.env.SLUICE_KEEP_SERVER_LOGS && runDir && statSync(runDir, { throwIfNoEntry: false })) rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
}
