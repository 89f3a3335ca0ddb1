/**
 * The host API's cluster part: the agent, the control plane and Redis connections. Apart from host.ts
 * so that the embedded default never loads ioredis or Redlock: hosts import it only with `--cluster`
 * and in `sluice agent`.
 */
export { Agent, type AgentInfo, type AgentOptions, type DesiredFlow, type FlowSource } from './cluster/agent.js';
export { ClusterControl, type ClusterControlOptions, type ClusterView } from './cluster/control.js';
export { maskUrl, openRedis } from './cluster/redis-keys.js';
