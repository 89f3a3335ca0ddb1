/**
 * The host API's cluster part: agents, the server's control plane and the Redis helpers. Apart from
 * host.ts so that the embedded default never loads ioredis or Redlock: hosts import it only in cluster mode.
 */
export { Agent, type AgentInfo, type DesiredFlow, type FlowSource } from './cluster/agent.js';
export { ClusterControl, type ClusterView } from './cluster/control.js';
export { connectRedis, maskUrl, openRedis } from './cluster/redis-keys.js';
