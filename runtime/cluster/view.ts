/**
 * What GET /api/cluster answers: the agents, the leader, each flow's agent and lease. Plain data that
 * the editor's Cluster page imports as types, so this module (and what it imports) stays free of Node
 * built-ins (test/unit/boundaries.test.ts).
 */
import type { Member } from './assignment.js';

/** an agent's heartbeat record in Redis */
export interface AgentInfo extends Member {
  address: string;
  /** where it serves the webhooks of the flows it runs (`sluice agent --hooks-port`), `http://host:port` */
  hooks?: string;
  version: string;
  /** ms since the epoch */
  aliveSince: number;
  flows: string[];
  recordsPerSecond: number;
  /** percent of one core over the last heartbeat */
  cpu: number;
  /** resident set size, bytes */
  memory: number;
}

export interface ClusterFlowView {
  flowId: string;
  agent?: string;
  status?: string;
  lease?: { agent?: string; token?: number; ttlMs: number };
}

export interface ClusterView {
  mode: 'cluster';
  /** the agent holding the leader lease, if any */
  leader?: string;
  agents: (AgentInfo & { alive: boolean })[];
  flows: ClusterFlowView[];
}

/** a server without --cluster runs every flow itself */
export interface SingleModeView {
  mode: 'single';
  agents: [];
  flows: { flowId: string; status?: string }[];
}
