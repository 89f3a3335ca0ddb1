/**
 * What nats.source and nats.sink share about reaching a NATS server with JetStream: the `nats` connection
 * entry (servers, user/password or token, both secret), turning it into client options, connecting (the
 * client reconnects for ever on its own: a broker restart is waited out, not a failure), and the test that
 * says what was reached.
 */
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { js, transport } from './driver.js';
import { z } from 'zod';
import { CONNECTION_MARK, ConfigError, errorMessage, secret, type ConnectionTestResult } from '../../runtime/index.js';

/** An entry of the flow's `connections:` map (or a stored connection) of type nats. */
export const connectionEntrySchema = z
  .object({
    type: z.literal('nats').describe('nats'),
    servers: z.array(z.string().min(1)).min(1).default(['127.0.0.1:4222']).describe('server addresses, host:port or nats://host:port'),
    user: z.string().min(1).optional().describe('user name (with password)'),
    password: secret(z.string().min(1).optional().describe('password of the user')),
    token: secret(z.string().min(1).optional().describe('authentication token (instead of user and password)')),
    name: z.string().min(1).optional().describe('client name shown by the server (default: sluice)'),
    timeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long the first connect may take, ms'),
  })
  .strict();

export type NatsEntry = z.output<typeof connectionEntrySchema>;

/** the `connection` field of a nats.* node */
export const connectionField = z
  .string()
  .min(1)
  .describe("name of a connection in the flow's `connections:` map (type nats): keeps servers and secrets out of the flow")
  .meta(CONNECTION_MARK);

/** the node's named connection, parsed; a missing or malformed one is a ConfigError naming `connection` */
export function resolveEntry(nodeId: string, name: string, lookup: (name: string) => Record<string, unknown> | undefined): NatsEntry {
  const raw = lookup(name);
  if (!raw) throw new ConfigError(nodeId, 'connection', `the flow has no connection named ${JSON.stringify(name)}: add it under \`connections:\` (type: nats, servers: [...])`);
  const parsed = connectionEntrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(nodeId, 'connection', `connection ${JSON.stringify(name)}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
  }
  return parsed.data;
}

export function clientOptions(entry: NatsEntry): NodeConnectionOptions {
  return {
    servers: entry.servers,
    name: entry.name ?? 'sluice',
    timeout: entry.timeoutMs,
    ...(entry.user !== undefined ? { user: entry.user, pass: entry.password } : {}),
    ...(entry.token !== undefined ? { token: entry.token } : {}),
    // a broker that goes away is waited for, however long: the flow's stop ends the wait
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  };
}

/** connects (the first connect fails after `timeoutMs`; later disconnects reconnect for ever) */
export async function connectNats(nodeId: string, entry: NatsEntry): Promise<NatsConnection> {
  try {
    return await transport.connect(clientOptions(entry));
  } catch (err) {
    throw new ConfigError(nodeId, 'connection', `cannot reach NATS at ${entry.servers.join(', ')}: ${errorMessage(err)}`, hintFor(err));
  }
}

function hintFor(err: unknown): string | undefined {
  const m = errorMessage(err).toLowerCase();
  if (m.includes('authorization') || m.includes('authentication')) return 'check user/password or token of the connection';
  if (m.includes('refused') || m.includes('timeout')) return 'is nats-server running there (with -js for JetStream)?';
  return undefined;
}

/** reaches the servers, checks JetStream, and lists the streams (what `sluice test-connection` prints) */
export async function testConnection(config: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<ConnectionTestResult> {
  // `sluice test-connection nats://host:4222` hands the URL as `url`
  const { url, ...rest } = config;
  const parsed = connectionEntrySchema.safeParse({ type: 'nats', ...rest, ...(typeof url === 'string' ? { servers: [url] } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue.path.join('.') || 'connection'}: ${issue.message}` };
  }
  const entry = { ...parsed.data, timeoutMs: options.timeoutMs ?? parsed.data.timeoutMs };
  let nc: NatsConnection | undefined;
  try {
    nc = await transport.connect({ ...clientOptions(entry), maxReconnectAttempts: 0 });
  } catch (err) {
    return { ok: false, error: `cannot reach NATS at ${entry.servers.join(', ')}: ${errorMessage(err)}`, hint: hintFor(err) };
  }
  try {
    const server = nc.info ? `${nc.info.server_name ?? nc.info.server_id} (nats-server ${nc.info.version})` : entry.servers.join(', ');
    let jsm;
    try {
      jsm = await js.jetstreamManager(nc, { timeout: entry.timeoutMs });
    } catch (err) {
      return { ok: false, error: `reached ${server}, but JetStream is not available: ${errorMessage(err)}`, hint: 'start nats-server with -js (JetStream)' };
    }
    const streams: string[] = [];
    for await (const s of jsm.streams.names()) streams.push(s);
    const account = await jsm.getAccountInfo();
    return {
      ok: true,
      message: `reached ${server} at ${nc.getServer()}; JetStream on, ${streams.length} stream(s)${streams.length ? `: ${streams.slice(0, 20).join(', ')}${streams.length > 20 ? ', …' : ''}` : ''}`,
      details: { server, streams, jetstream: { streams: account.streams, consumers: account.consumers, memory: account.memory, storage: account.storage } },
    };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  } finally {
    await nc.close().catch(() => undefined);
  }
}
