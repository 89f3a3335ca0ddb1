/**
 * Private database servers for a test run, started from the binaries installed on the machine (no system
 * service is touched): a PostgreSQL cluster (initdb + pg_ctl), a MariaDB instance (mariadb-install-db +
 * mariadbd --no-defaults) and mongo-java-server (Maven + javac, jars cached under $SLUICE_CACHE).
 * Each lives in its own directory under the run's temp dir and listens on a free loopback port, so two
 * runs (or two worktrees) never share a port, a pid file or a data directory.
 *
 * The global set-up (global-services.ts) starts them; the crash tests restart them with pgCtl / startMariadb.
 */
import { execFile, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, chownSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** a loopback port nobody listens on now */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

export async function waitPort(what: string, port: number, ms = 30_000, log?: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline) {
      const tail = log && existsSync(log) ? `\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}` : '';
      throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms / 1000} s${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** a long-running server: detached, its output in `log`, not tied to the process that started it */
function daemon(cmd: string, args: string[], log: string, opts: SpawnOptions = {}): number {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  return child.pid!;
}

function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export function has(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

// ---------------------------------------------------------------- PostgreSQL

/** the bin directory of the newest PostgreSQL installed (PG_BINDIR overrides) */
export function pgBinDir(): string | undefined {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin/pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

/** initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user */
function pgUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root and there is no postgres user to run initdb as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** runs pg_ctl on a private cluster: `pgCtl(dir, 'stop', '-m', 'immediate')`, `pgCtl(dir, 'start')` */
export async function pgCtl(pgdata: string, ...args: string[]): Promise<void> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (set PG_BINDIR)');
  const user = pgUser();
  const extra = args[0] === 'start' ? ['-l', join(pgdata, '..', 'postgres.log'), '-w', '-t', '60'] : ['-w'];
  await exec(join(bin, 'pg_ctl'), ['-D', pgdata, ...extra, ...args], { ...user, env: { ...process.env, LC_ALL: 'C' } });
}

export interface PrivateServer {
  url: string;
  /** stops the server; its directory goes with the run's temp dir */
  stop(): Promise<void>;
}

const pgTemplates = new Map<string, Promise<string>>();

/** a cluster with wal_level=logical and trust auth in dir/pgdata, started on a free port */
export async function startPostgres(dir: string): Promise<PrivateServer & { pgdata: string }> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (set PG_BINDIR)');
  const user = pgUser();
  mkdirSync(dir, { recursive: true });
  if (user) chownSync(dir, user.uid, user.gid);
  const pgdata = join(dir, 'pgdata');
  // one initdb per run directory, copied for each cluster (the run starts two): initdb is most of a start
  const parent = dirname(dir);
  let template = pgTemplates.get(parent);
  if (!template) {
    const tparent = join(parent, 'pg-template');
    mkdirSync(tparent, { recursive: true });
    if (user) chownSync(tparent, user.uid, user.gid);
    const tdir = join(tparent, 'pgdata');
    template = exec(join(bin, 'initdb'), ['-D', tdir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { ...user, env: { ...process.env, LC_ALL: 'C' } }).then(() => tdir);
    pgTemplates.set(parent, template);
  }
  await exec('cp', ['-a', await template, pgdata]);
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'wal_level = logical',
    'max_replication_slots = 40',
    'max_wal_senders = 40',
    'max_connections = 200',
    // no fsync: the crash tests kill the server process, never the machine, so the OS cache survives;
    // commits stay synchronous (an asynchronous commit is lost by an immediate stop)
    'fsync = off',
    'full_page_writes = off',
    'shared_buffers = 64MB',
  ];
  writeFileSync(join(pgdata, 'postgresql.auto.conf'), `${conf.join('\n')}\n`);
  if (user) chownSync(join(pgdata, 'postgresql.auto.conf'), user.uid, user.gid);
  await pgCtl(pgdata, 'start');
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, pgdata, stop: () => pgCtl(pgdata, 'stop', '-m', 'immediate').catch(() => undefined) };
}

// ---------------------------------------------------------------- MariaDB

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd'].find(existsSync);

export function mariadbInstalled(): boolean {
  return Boolean(MARIADBD) && has('mariadb-install-db');
}

/** a test CA and a server certificate for 127.0.0.1 / localhost in `dir` (ca.pem, server.pem, server.key) */
export async function makeTls(dir: string): Promise<void> {
  if (existsSync(join(dir, 'server.pem'))) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const o = (...args: string[]) => exec('openssl', args, { cwd: dir });
  await o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=sluice test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  await o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650', '-extfile', 'ext.cnf', '-out', 'server.pem');
}

/**
 * (re)starts the private MariaDB whose data is in `dir` (made by startMariadb) on `port`: binlog on, ROW
 * format, TLS with dir/tls/ca.pem. Resolves when it listens.
 */
export async function runMariadb(dir: string, port: number): Promise<void> {
  const tls = existsSync(join(dir, 'tls/server.pem'))
    ? [`--ssl-ca=${join(dir, 'tls/ca.pem')}`, `--ssl-cert=${join(dir, 'tls/server.pem')}`, `--ssl-key=${join(dir, 'tls/server.key')}`]
    : [];
  const log = join(dir, 'error.log');
  daemon(
    MARIADBD!,
    ['--no-defaults', '--user=root', `--datadir=${join(dir, 'data')}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`,
      `--pid-file=${join(dir, 'mariadbd.pid')}`, `--tmpdir=${join(dir, 'tmp')}`, `--log-bin=${join(dir, 'binlog')}`, '--binlog-format=ROW', '--server-id=1', `--log-error=${log}`,
      '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', '--sync-binlog=0', '--max-connections=300', ...tls],
    join(dir, 'mariadbd.out'),
  );
  await waitPort('MariaDB', port, 60_000, log);
}

const mariadbTemplates = new Map<string, Promise<string>>();

export async function startMariadb(dir: string, opts: { tls?: boolean } = {}): Promise<PrivateServer & { dir: string }> {
  // a tmpdir of its own: two installs at once in /tmp collide on their temporary tables
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  // one install per run directory, copied for each server (the run starts two)
  const parent = dirname(dir);
  let template = mariadbTemplates.get(parent);
  if (!template) {
    const tdir = join(parent, 'mariadb-template');
    mkdirSync(join(tdir, 'tmp'), { recursive: true });
    template = exec('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${join(tdir, 'data')}`, `--tmpdir=${join(tdir, 'tmp')}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
      cwd: tdir,
    }).then(() => join(tdir, 'data'));
    mariadbTemplates.set(parent, template);
  }
  const install = template.then((data) => exec('cp', ['-a', data, join(dir, 'data')]));
  await Promise.all([install, opts.tls ? makeTls(join(dir, 'tls')) : undefined]);
  const port = await freePort();
  await runMariadb(dir, port);
  const url = `mysql://root@127.0.0.1:${port}`;
  return {
    url,
    dir,
    stop: async () => {
      const pidFile = join(dir, 'mariadbd.pid');
      if (existsSync(pidFile)) killPid(Number(readFileSync(pidFile, 'utf8').trim()));
    },
  };
}

// ---------------------------------------------------------------- MongoDB (mongo-java-server)

export function mongoToolsMissing(): string[] {
  return ['java', 'javac', 'mvn', 'openssl'].filter((t) => !has(t));
}

/** jars (Maven) and Main.class (javac) of test/servers/mongo, cached in $SLUICE_CACHE/mongo-java-server */
async function buildMongo(src: string, cache: string): Promise<void> {
  const lib = join(cache, 'lib');
  const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);
  if (!existsSync(join(lib, '.complete')) || mtime(join(src, 'pom.xml')) > mtime(join(lib, '.complete'))) {
    process.stderr.write(`mongo-java-server: fetching its jars into ${lib} (Maven, once)\n`);
    rmSync(lib, { recursive: true, force: true });
    try {
      await exec('mvn', ['-B', '-q', '-f', join(src, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], { maxBuffer: 1 << 24 });
    } catch (err) {
      throw new Error(`mvn dependency:copy-dependencies failed: ${(err as { stdout?: string }).stdout?.split('\n').slice(-15).join('\n') ?? (err as Error).message}`);
    }
    writeFileSync(join(lib, '.complete'), '');
  }
  const classes = join(cache, 'classes');
  if (mtime(join(classes, 'Main.class')) < mtime(join(src, 'Main.java'))) {
    rmSync(classes, { recursive: true, force: true });
    mkdirSync(classes, { recursive: true });
    await exec('javac', ['-d', classes, '-cp', `${lib}/*`, join(src, 'Main.java')]);
  }
}

export function mongoCacheDir(): string {
  return join(process.env.SLUICE_CACHE ?? join(homedir(), '.cache/sluice'), 'mongo-java-server');
}

/**
 * two mongo-java-server instances (in memory, oplog on): plain, and TLS-only with a certificate of a test
 * CA (tlsCa). SLUICE_MONGO_HEAP sets the plain one's heap (default 2g), SLUICE_MONGO_OPLOG_WINDOW the
 * seconds of oplog kept (default 30).
 */
export async function startMongo(root: string, runDir: string): Promise<{ url: string; tlsUrl: string; tlsCa: string; stop(): Promise<void> }> {
  const cache = mongoCacheDir();
  mkdirSync(cache, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const tlsDir = join(cache, 'tls');
  await Promise.all([buildMongo(join(root, 'test/servers/mongo'), cache), makeTls(tlsDir)]);
  const cp = `${join(cache, 'classes')}:${join(cache, 'lib')}/*`;
  const window = process.env.SLUICE_MONGO_OPLOG_WINDOW ?? '30';
  const [port, tlsPort] = [await freePort(), await freePort()];
  const pids = [
    daemon('java', [`-Xmx${process.env.SLUICE_MONGO_HEAP ?? '2g'}`, '-cp', cp, 'Main', String(port), '127.0.0.1', window], join(runDir, 'mongo.log')),
    daemon('java', ['-Xmx256m', '-cp', cp, 'Main', String(tlsPort), '127.0.0.1', window, join(tlsDir, 'server.pem'), join(tlsDir, 'server.key')], join(runDir, 'mongo-tls.log')),
  ];
  writeFileSync(join(runDir, 'pids'), pids.join(' '));
  const stop = async () => pids.forEach(killPid);
  try {
    await Promise.all([waitPort('mongo-java-server', port, 60_000, join(runDir, 'mongo.log')), waitPort('mongo-java-server (TLS)', tlsPort, 60_000, join(runDir, 'mongo-tls.log'))]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mongodb://127.0.0.1:${port}/?directConnection=true`, tlsUrl: `mongodb://127.0.0.1:${tlsPort}/?directConnection=true`, tlsCa: join(tlsDir, 'ca.pem'), stop };
}

// ---------------------------------------------------------------- Kafka (Apache Kafka 4.4, KRaft)

export function kafkaToolsMissing(): string[] {
  return ['java', 'mvn', 'openssl'].filter((t) => !has(t));
}

export function kafkaCacheDir(): string {
  return join(process.env.SLUICE_CACHE ?? join(homedir(), '.cache/sluice'), 'kafka');
}

/** the broker's jars (Maven Central, test/servers/kafka/pom.xml), cached in $SLUICE_CACHE/kafka/lib */
async function fetchKafka(pom: string, cache: string): Promise<string> {
  const lib = join(cache, 'lib');
  const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);
  if (!existsSync(join(lib, '.complete')) || mtime(pom) > mtime(join(lib, '.complete'))) {
    process.stderr.write(`kafka: fetching the broker's jars into ${lib} (Maven, once)\n`);
    rmSync(lib, { recursive: true, force: true });
    try {
      await exec('mvn', ['-B', '-q', '-f', pom, 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${lib}`], {
        maxBuffer: 1 << 24,
      });
    } catch (err) {
      throw new Error(`mvn dependency:copy-dependencies failed: ${(err as { stdout?: string }).stdout?.split('\n').slice(-15).join('\n') ?? (err as Error).message}`);
    }
    writeFileSync(join(lib, '.complete'), '');
  }
  return lib;
}

/**
 * (re)starts the broker whose data and server.properties are in `dir` (made by startKafka): resolves when
 * its client port listens; the pid goes to dir/kafka.pid.
 */
export async function runKafka(dir: string): Promise<void> {
  const { lib, port } = JSON.parse(readFileSync(join(dir, 'broker.json'), 'utf8')) as { lib: string; port: number };
  const pid = daemon('java', ['-Xms256m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${lib}/*`, 'kafka.Kafka', join(dir, 'server.properties')], join(dir, 'kafka.log'));
  writeFileSync(join(dir, 'kafka.pid'), String(pid));
  await waitPort('Kafka', port, 90_000, join(dir, 'kafka.log'));
}

/** kills the broker of `dir` (SIGKILL: the restart tests want a crash, the teardown wants it gone) */
export function killKafka(dir: string): void {
  const pidFile = join(dir, 'kafka.pid');
  if (existsSync(pidFile)) killPid(Number(readFileSync(pidFile, 'utf8').trim()));
}

/** the files a broker started by the global set-up leaves in its directory when it listens, or could not start (the reason) */
export const KAFKA_STARTED = 'started';
export const KAFKA_FAILED = 'failed';

/** the user of the test broker's SASL_PLAINTEXT listener (KAFKA_SASL_BROKERS), for PLAIN and SCRAM-SHA-256 */
export const KAFKA_SASL = { username: 'sluice', password: 'sluice-test-secret' };

/**
 * One Kafka broker in KRaft mode (broker and controller in one process) on free loopback ports, its log
 * directories in `dir`: replication factor 1 for the internal topics, no initial rebalance delay (a group's
 * first join is not held back 3 s), topics created on first use.
 */
export async function startKafka(root: string, dir: string): Promise<KafkaBroker> {
  const kafka = await launchKafka(root, dir);
  await kafka.ready;
  return kafka;
}

export interface KafkaBroker extends PrivateServer {
  brokers: string;
  saslBrokers: string;
  tlsBrokers: string;
  tlsCa: string;
  dir: string;
  /** resolves when the broker listens (rejects with the reason it could not be started) */
  ready: Promise<void>;
}

/**
 * startKafka without waiting for the broker: its ports are chosen and its addresses known at once, while the
 * jars, the storage format and the JVM's start go on in `ready`. The global set-up lets the other test files
 * run meanwhile (the Kafka files wait for it: test/helpers/kafka.ts). stop() waits for `ready` to settle, so
 * a broker still starting is not left behind.
 */
export async function launchKafka(root: string, dir: string): Promise<KafkaBroker> {
  const cache = kafkaCacheDir();
  mkdirSync(cache, { recursive: true });
  mkdirSync(dir, { recursive: true });
  const tlsDir = join(cache, 'tls');
  const [port, controller, sasl, ssl] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ready = runNewKafka(root, dir, cache, tlsDir, { port, controller, sasl, ssl });
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection here
  return {
    url: `127.0.0.1:${port}`,
    brokers: `127.0.0.1:${port}`,
    saslBrokers: `127.0.0.1:${sasl}`,
    tlsBrokers: `127.0.0.1:${ssl}`,
    tlsCa: join(tlsDir, 'ca.pem'),
    dir,
    ready,
    stop: async () => {
      await ready.catch(() => undefined);
      killKafka(dir);
    },
  };
}

async function runNewKafka(root: string, dir: string, cache: string, tlsDir: string, ports: { port: number; controller: number; sasl: number; ssl: number }): Promise<void> {
  const { port, controller, sasl, ssl } = ports;
  // the TLS listener's CA and certificate (PEM, made once and kept in the cache) while the jars are fetched
  const [lib] = await Promise.all([fetchKafka(join(root, 'test/servers/kafka/pom.xml'), cache), makeTls(tlsDir)]);
  const props = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controller}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller},SASL_PLAINTEXT://127.0.0.1:${sasl},SSL://127.0.0.1:${ssl}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${sasl},SSL://127.0.0.1:${ssl}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
    // a TLS listener for the TLS tests (KAFKA_TLS_BROKERS, CA in KAFKA_TLS_CA): PEM key store, no client certificate
    'listener.name.ssl.ssl.keystore.type=PEM',
    `listener.name.ssl.ssl.keystore.location=${join(tlsDir, 'kafka-keystore.pem')}`,
    'listener.name.ssl.ssl.client.auth=none',
    'inter.broker.listener.name=PLAINTEXT',
    // a SASL listener for the credential tests: user sluice, PLAIN (from here) and SCRAM-SHA-256 (at format)
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${KAFKA_SASL.username}="${KAFKA_SASL.password}";`,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'log.flush.interval.messages=9223372036854775807',
    'num.network.threads=2',
    'num.io.threads=2',
  ];
  writeFileSync(join(dir, 'server.properties'), `${props.join('\n')}\n`);
  // Kafka's PEM key store: the (PKCS#8) key and the certificate in one file
  writeFileSync(join(tlsDir, 'kafka-keystore.pem'), readFileSync(join(tlsDir, 'server.key'), 'utf8') + readFileSync(join(tlsDir, 'server.pem'), 'utf8'));
  writeFileSync(join(dir, 'broker.json'), JSON.stringify({ lib, port }));
  const tool = (...args: string[]) => exec('java', ['-Xmx128m', '-XX:TieredStopAtLevel=1', '-cp', `${lib}/*`, 'kafka.tools.StorageTool', ...args], { maxBuffer: 1 << 22 });
  // a cluster id as `kafka-storage random-uuid` makes it (16 random bytes, base64url, not starting with '-'),
  // without starting a JVM for it
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  await tool('format', '-t', id, '-c', join(dir, 'server.properties'), '--ignore-formatted', '--add-scram', `SCRAM-SHA-256=[name=${KAFKA_SASL.username},password=${KAFKA_SASL.password}]`);
  try {
    await runKafka(dir);
  } catch (err) {
    killKafka(dir);
    throw err;
  }
}

// ---------------------------------------------------------------- NATS (JetStream)

const NATS_SERVER = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => p && existsSync(p));

export function natsServerInstalled(): boolean {
  return Boolean(NATS_SERVER);
}

/** (re)starts the private nats-server whose JetStream store is in `dir` on `port`; resolves when it listens. Returns its pid. */
export async function runNats(dir: string, port: number): Promise<number> {
  mkdirSync(join(dir, 'store'), { recursive: true });
  const pid = daemon(NATS_SERVER!, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'store'), '-P', join(dir, 'nats.pid')], join(dir, 'nats.log'));
  writeFileSync(join(dir, 'pids'), String(pid));
  await waitPort('nats-server', port, 30_000, join(dir, 'nats.log'));
  return pid;
}

/** a private nats-server with JetStream (file store in dir/store) on a free port */
export async function startNats(dir: string): Promise<PrivateServer & { dir: string; port: number }> {
  if (!NATS_SERVER) throw new Error('nats-server is not installed (set NATS_SERVER_BIN, or NATS_URL to a server)');
  const port = await freePort();
  await runNats(dir, port);
  return { url: `nats://127.0.0.1:${port}`, dir, port, stop: async () => stopNats(dir) };
}

/** kills the private nats-server of `dir` (SIGKILL: as a crash) */
export function stopNats(dir: string): void {
  const pidFile = join(dir, 'pids');
  if (existsSync(pidFile)) killPid(Number(readFileSync(pidFile, 'utf8').trim()));
}

// ---------------------------------------------------------------- Redis

/**
 * a private redis-server in `dir` on `port` (a free one by default), no persistence: a stop loses
 * everything, as a restarted cache would. `stop()` kills it (SIGKILL); start it again with the same
 * dir and port to bring it back.
 */
export async function startRedis(dir: string, port?: number): Promise<PrivateServer & { port: number; pid: number }> {
  mkdirSync(dir, { recursive: true });
  const p = port ?? (await freePort());
  const log = join(dir, 'redis.log');
  const pid = daemon('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'], log);
  writeFileSync(join(dir, 'redis.pid'), String(pid));
  await waitPort('redis-server', p, 10_000, log);
  return { url: `redis://127.0.0.1:${p}`, port: p, pid, stop: async () => killPid(pid) };
}
