/**
 * What the cluster keeps in Redis, in one place. Everything here is live state that may be lost with
 * Redis (a restart without persistence): agents rebuild it within a tick, and what must survive lives
 * in the stores (flows, deployments, positions).
 */
import { Redis, type RedisOptions } from 'ioredis';

export const K = {
  /** hash: agent name → Member JSON (heartbeats) */
  members: 'sluice:members',
  /** hash: flow id → agent name (written by the leader) */
  assignment: 'sluice:assignment',
  /** hash: flow id → the last DeploymentStatus JSON an agent published */
  statuses: 'sluice:statuses',
  /** hash: flow id → a counter bumped by a deploy "from the start" (agents restart the flow when it changes) */
  generations: 'sluice:generations',
  /** hash: flow id → the generation whose first start forgets positions and state */
  resets: 'sluice:resets',
  /** pub/sub: something changed (assignment, membership, desired state): reconcile now */
  events: 'sluice:events',
  /** pub/sub: a DeploymentStatus JSON with `agent` */
  status: 'sluice:status',
  /** pub/sub: a LogLine JSON with `agent` */
  log: 'sluice:log',
  /** the leader's lease resource */
  leader: 'cluster-leader',
} as const;

/** the lease resource of a flow (the same name the executor takes in single mode) */
export const flowResource = (flowId: string) => `flow:${flowId}`;

/**
 * A connection that fails fast when Redis is away (no offline queue, a command timeout) and
 * reconnects on its own: a lease keeper must learn that Redis is gone, not wait for it.
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: true,
    ...options,
  });
  // errors surface on the commands; an 'error' event without a listener would end the process
  redis.on('error', () => undefined);
  return redis;
}

/** connects, or rejects with a message that names the URL (password masked) */
export async function openRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
  const redis = connectRedis(url, options);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${maskUrl(url)}: ${(err as Error).message}`);
  }
  return redis;
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Redis's own clock (ms): one clock for every agent's heartbeats, whatever their machines' clocks say */
export async function redisTime(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
