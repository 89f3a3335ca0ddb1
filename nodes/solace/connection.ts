/**
 * The `solace` connection: broker URL, message VPN, client user name and password (secret). Its test
 * connects a session and says what it reached; with `queue` it also binds to that queue and lets go.
 */
import { z } from 'zod';
import { CONNECTION_MARK, ConfigError, errorMessage, secret, type ConnectionTestResult } from '../../runtime/index.js';
import type { SolaceAdapter, SolaceConnectOptions } from './adapter.js';

export const connectionEntrySchema = z
  .object({
    type: z.literal('solace').describe('solace'),
    url: z.string().min(1).describe('broker URL: tcp://host:55555, tcps://host:55443, ws://host:8008 or wss://host:443 (comma-separated for fail-over)'),
    vpn: z.string().min(1).default('default').describe('message VPN'),
    user: z.string().min(1).default('default').describe('client user name'),
    password: secret(z.string().optional().describe('client password')),
    clientName: z.string().min(1).optional().describe('client name shown by the broker (default: generated)'),
    timeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('how long connecting may take, ms'),
  })
  .strict();

export type SolaceEntry = z.output<typeof connectionEntrySchema>;

export const connectionField = z
  .string()
  .min(1)
  .describe("name of a connection in the flow's `connections:` map (type solace): keeps the broker and password out of the flow")
  .meta(CONNECTION_MARK);

export function resolveEntry(nodeId: string, name: string, lookup: (name: string) => Record<string, unknown> | undefined): SolaceEntry {
  const raw = lookup(name);
  if (!raw) throw new ConfigError(nodeId, 'connection', `the flow has no connection named ${JSON.stringify(name)}: add it under \`connections:\` (type: solace, url: tcp://host:55555, vpn, user, password)`);
  const parsed = connectionEntrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(nodeId, 'connection', `connection ${JSON.stringify(name)}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
  }
  return parsed.data;
}

export function connectOptions(entry: SolaceEntry): SolaceConnectOptions {
  return { url: entry.url, vpn: entry.vpn, user: entry.user, password: entry.password, clientName: entry.clientName, connectTimeoutMs: entry.timeoutMs };
}

export async function testConnection(adapter: SolaceAdapter, config: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<ConnectionTestResult> {
  const { queue, ...rest } = config;
  const parsed = connectionEntrySchema.safeParse({ type: 'solace', ...rest });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue.path.join('.') || 'connection'}: ${issue.message}` };
  }
  const entry = { ...parsed.data, timeoutMs: options.timeoutMs ?? parsed.data.timeoutMs };
  let session;
  try {
    session = await adapter.connect(connectOptions(entry));
  } catch (err) {
    return { ok: false, error: errorMessage(err), hint: 'check url (tcp://host:55555 or ws://host:8008), vpn, user and password' };
  }
  try {
    let bound = '';
    if (typeof queue === 'string' && queue) {
      const consumer = await session.consume(queue, { window: 1 }, () => undefined);
      await consumer.close();
      bound = `; bound to queue ${queue}`;
    }
    return { ok: true, message: `reached ${session.describe()} as ${entry.user}${bound}`, details: { url: entry.url, vpn: entry.vpn } };
  } catch (err) {
    return { ok: false, error: `connected to ${entry.url}, but: ${errorMessage(err)}` };
  } finally {
    await session.close().catch(() => undefined);
  }
}
