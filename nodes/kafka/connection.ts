/**
 * What every kafka.* node shares about reaching a cluster: the `kafka` connection entry (brokers, clientId,
 * sasl, tls), the node fields that name one (`connection`, or `brokers` inline), turning them into a
 * kafkajs client, errors that say what to fix, and the connection test (`sluice test-connection`, the
 * editor's Test button): which brokers answered and which topics the client may see.
 */
import type { Kafka, KafkaConfig, SASLOptions } from 'kafkajs';
import { lazyModule } from '../shared/lazy-module.js';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { readPem, tlsSchema, type TlsConfig } from '../shared/connection-config.js';
import { CONNECTION_MARK, ConfigError, NodeError, UserError, errorMessage, fileAccess, secret, unconfinedFiles, type FileAccess } from '../../runtime/index.js';

const brokerList = z
  .array(z.string().regex(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'a broker is host:port, e.g. 127.0.0.1:9092'))
  .min(1, 'name at least one broker (host:port)');

export const saslSchema = z
  .object({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism the brokers accept'),
    username: z.string().min(1).describe('SASL user name'),
    password: secret(z.string().min(1).describe('SASL password')),
  })
  .strict()
  .describe('authenticate with SASL (PLAIN or SCRAM); combine with `tls` on an untrusted network');

/** An entry of the flow's `connections:` map for Kafka. */
export const connectionEntrySchema = z.object({
  type: z.literal('kafka').describe('kafka'),
  brokers: brokerList.describe('bootstrap brokers, host:port each: ["127.0.0.1:9092"]'),
  clientId: z.string().min(1).optional().describe('client id the brokers see in their logs and quotas (default: sluice)'),
  sasl: saslSchema.optional(),
  tls: z.union([z.literal(true), tlsSchema]).optional().describe('connect over TLS: true (system CAs) or the CA, client certificate and key'),
});

export type ConnectionEntry = z.output<typeof connectionEntrySchema>;

/** The fields of every kafka.* node that say which cluster: check them with `oneCluster`. */
export const clusterFields = {
  connection: z
    .string()
    .min(1)
    .describe("name of a connection in the flow's `connections:` map (type kafka): keeps brokers and passwords out of the flow")
    .meta(CONNECTION_MARK)
    .optional(),
  brokers: brokerList.optional().describe('bootstrap brokers (host:port), instead of `connection` (no SASL or TLS then)'),
};

/** zod check: exactly one of `connection` and `brokers` */
export function oneCluster(c: { connection?: string; brokers?: string[] }, ctx: z.RefinementCtx): void {
  if (c.connection === undefined && c.brokers === undefined) {
    ctx.addIssue({ code: 'custom', path: ['connection'], message: "set `connection` (a name from the flow's connections, type kafka) or `brokers` ([\"127.0.0.1:9092\"])" });
  } else if (c.connection !== undefined && c.brokers !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['brokers'], message: 'set either `connection` or `brokers`, not both' });
  }
}

export interface Cluster {
  config: KafkaConfig;
  /** `127.0.0.1:9092 (connection "bus")`: for messages */
  label: string;
  /** the field to blame for a connection problem */
  field: 'connection' | 'brokers';
}

export interface ResolveContext {
  nodeId: string;
  connection?(name: string): Record<string, unknown> | undefined;
  files: FileAccess;
}

/** kafkajs, loaded when a kafka node first connects (shared/lazy-module.ts) */
export const kafkajs = lazyModule<typeof import('kafkajs')>('kafkajs');

/** kafkajs logs to the console by default: its errors reach us as rejections and events instead */
const quiet = () => ({ logLevel: kafkajs.logLevel.NOTHING });

/** The node's `connection` / `brokers` as a kafkajs config. Throws ConfigError naming the field. */
export function resolveCluster(ctx: ResolveContext, c: { connection?: string; brokers?: string[] }, retry?: KafkaConfig['retry']): Cluster {
  const { nodeId } = ctx;
  if (c.brokers !== undefined) {
    return { config: { brokers: c.brokers, clientId: 'sluice', retry, ...quiet() }, label: c.brokers.join(','), field: 'brokers' };
  }
  if (c.connection === undefined) throw new ConfigError(nodeId, 'connection', 'set `connection` or `brokers`');
  const raw = ctx.connection?.(c.connection);
  if (!raw) throw new ConfigError(nodeId, 'connection', `the flow has no connection named ${JSON.stringify(c.connection)}: add it under \`connections:\` (type: kafka, brokers: [host:port])`);
  const parsed = connectionEntrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(nodeId, 'connection', `connection ${JSON.stringify(c.connection)}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
  }
  const e = parsed.data;
  const config: KafkaConfig = { brokers: e.brokers, clientId: e.clientId ?? 'sluice', retry, ...quiet() };
  if (e.sasl) config.sasl = { mechanism: e.sasl.mechanism, username: e.sasl.username, password: e.sasl.password } as SASLOptions;
  if (e.tls !== undefined) config.ssl = e.tls === true ? true : tlsOptions(ctx, e.tls);
  return { config, label: `${e.brokers.join(',')} (connection ${JSON.stringify(c.connection)})`, field: 'connection' };
}

function tlsOptions(ctx: ResolveContext, tls: TlsConfig): ConnectionOptions {
  const pem = (name: 'ca' | 'cert' | 'key') => readPem(ctx.files, ctx.nodeId, `connection.tls.${name}`, tls[name]);
  const o: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  const [ca, cert, key] = [pem('ca'), pem('cert'), pem('key')];
  if (ca) o.ca = ca;
  if (cert) o.cert = cert;
  if (key) o.key = key;
  if (tls.passphrase) o.passphrase = tls.passphrase;
  if (tls.servername) o.servername = tls.servername;
  return o;
}

/** a kafkajs client for `cluster` (cheap: connections are made by its producers, consumers and admins) */
export function client(cluster: Cluster): Kafka {
  return new kafkajs.Kafka(cluster.config);
}

// ---- errors ------------------------------------------------------------------------------------------

const text = (err: unknown): string => {
  const e = err as { message?: string; cause?: unknown; originalError?: unknown };
  const inner = e.originalError ?? e.cause;
  return `${errorMessage(err)}${inner && inner !== err ? ` ${text(inner)}` : ''}`;
};

/** true for failures that retrying will not fix (authentication, authorisation, TLS) */
export function isPermanent(err: unknown): boolean {
  if (err instanceof UserError) return true;
  const name = (err as { name?: string }).name ?? '';
  return name === 'KafkaJSSASLAuthenticationError' || /AUTHORIZATION_FAILED|SASL|certificate|self[- ]signed|UNSUPPORTED_SASL/i.test(text(err));
}

/**
 * A kafkajs failure as an error that says what to fix: ConfigError (blaming the connection field) for what
 * the user must change; a NodeError the executor retries otherwise.
 */
export function clusterError(nodeId: string, cluster: Cluster, err: unknown, what: string): Error {
  if (err instanceof UserError || err instanceof NodeError) return err;
  const t = text(err);
  const where = `${what} at ${cluster.label}`;
  if ((err as { name?: string }).name === 'KafkaJSSASLAuthenticationError' || /SASL/i.test(t)) {
    return new ConfigError(nodeId, cluster.field, `${where}: SASL authentication failed (${errorMessage(err)}): check sasl.mechanism, username and password`);
  }
  if (/AUTHORIZATION_FAILED/i.test(t)) return new ConfigError(nodeId, cluster.field, `${where}: not authorized (${errorMessage(err)}): grant the principal the ACLs it needs (read and describe on the topics, read on the group; write for a sink)`);
  if (/certificate|self[- ]signed|EPROTO|wrong version number/i.test(t)) {
    return new ConfigError(nodeId, cluster.field, `${where}: TLS failed (${errorMessage(err)}): set tls.ca to the brokers' CA, or remove tls if the listener is PLAINTEXT`);
  }
  if (/ECONNREFUSED/.test(t)) return new NodeError(nodeId, `${where}: connection refused: is the broker running and is host:port its advertised listener?`, { cause: err });
  if (/ENOTFOUND|EAI_AGAIN/.test(t)) return new NodeError(nodeId, `${where}: broker host not found (${errorMessage(err)})`, { cause: err });
  return new NodeError(nodeId, `${where}: ${errorMessage(err)}`, { cause: err });
}

// ---- testConnection ----------------------------------------------------------------------------------

export interface KafkaTestResult {
  ok: boolean;
  message: string;
  brokers?: string[];
  controller?: number | null;
  clusterId?: string;
  topics?: string[];
}

/** `kafka://h1:9092,h2:9092` (the URL form of `sluice test-connection`) as brokers */
function brokersOfUrl(url: string): string[] {
  return url.replace(/^kafka:\/\//i, '').replace(/\/.*$/, '').split(',').filter(Boolean);
}

/**
 * Checks a connection entry (`{ type: kafka, brokers, clientId, sasl, tls }`, or `{ url: kafka://host:port }`):
 * connects with an admin client, describes the cluster and lists the topics. Never throws for a connection
 * problem: `ok: false` and a message that says what to fix.
 */
export async function testConnection(config: Record<string, unknown>, options: { files?: FileAccess; timeoutMs?: number } = {}): Promise<KafkaTestResult> {
  const files = options.files ?? fileAccess(unconfinedFiles(), 'test');
  const timeoutMs = options.timeoutMs ?? 10_000;
  let cluster: Cluster;
  try {
    const { url, ...rest } = config as { url?: unknown };
    const entry = { ...rest, type: 'kafka', ...(typeof url === 'string' ? { brokers: brokersOfUrl(url) } : {}) };
    cluster = resolveCluster({ nodeId: 'test', files, connection: () => entry }, { connection: 'test' }, { retries: 0 });
  } catch (err) {
    return { ok: false, message: errorMessage(err).replace(/^nodes\[test\]\.[\w.]+: (connection "test": )?/, '') };
  }
  cluster.config.connectionTimeout = Math.min(timeoutMs, 10_000);
  cluster.config.requestTimeout = timeoutMs;
  const admin = client(cluster).admin();
  const label = cluster.label.replace(' (connection "test")', '');
  try {
    const result = await withTimeout(
      (async () => {
        await admin.connect();
        const described = await admin.describeCluster();
        const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
        const brokers = described.brokers.map((b) => `${b.host}:${b.port}`);
        return {
          ok: true,
          message: `reached Kafka cluster ${described.clusterId} at ${label}: ${brokers.length} broker(s) (${brokers.join(', ')}), ${topics.length} topic(s)${topics.length ? `: ${topics.slice(0, 20).join(', ')}${topics.length > 20 ? ', ...' : ''}` : ''}`,
          brokers,
          controller: described.controller,
          clusterId: described.clusterId,
          topics,
        };
      })(),
      timeoutMs,
      `no broker answered at ${label} within ${timeoutMs} ms: check the host and port (the broker's advertised listener) and any firewall`,
    );
    return result;
  } catch (err) {
    return { ok: false, message: errorMessage(clusterError('test', { ...cluster, label }, err, 'connecting')).replace(/^(nodes\[test\]\.\w+: |node test: )/, '') };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}
