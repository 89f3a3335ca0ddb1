/**
 * What an agent reads from the shared control store: the deployments that should run (with their
 * version and declared weight) and, to start one, the saved version compiled with the stored
 * connections, exactly as the server compiles it for a deploy.
 */
import type { DesiredFlow, FlowSource } from '../../runtime/host-cluster.js';
import { compileFlow, type HostPolicy, type NodeRegistry } from '../../runtime/host.js';
import { withStoredConnections } from '../connections.js';
import { withStoredSecrets } from '../policy.js';
import type { ControlStore } from '../store/control-store.js';

export function storeFlowSource(store: ControlStore, registry: NodeRegistry, policy: HostPolicy, env: Record<string, string | undefined>): FlowSource {
  const weights = new Map<string, number>();
  const weightOf = async (flowId: string, version: number) => {
    const key = `${flowId}@${version}`;
    let w = weights.get(key);
    if (w === undefined) {
      const doc = (await store.getFlow(flowId, version))?.document;
      const declared = (doc?.settings as { weight?: unknown } | undefined)?.weight;
      w = typeof declared === 'number' && declared > 0 ? declared : 1;
      weights.set(key, w);
    }
    return w;
  };
  return {
    async desired(): Promise<DesiredFlow[]> {
      const rows = (await store.deployments()).filter((d) => d.state !== 'stopped');
      return Promise.all(rows.map(async (d) => ({ flowId: d.flowId, version: d.version, state: d.state as DesiredFlow['state'], weight: await weightOf(d.flowId, d.version) })));
    },
    async plan(flowId, version) {
      const flow = await store.getFlow(flowId, version);
      if (!flow) throw new Error(`flow ${flowId} has no version ${version} in the store`);
      const doc = withStoredConnections(flow.document, await store.listConnections());
      return compileFlow(doc, registry, { env, policy: withStoredSecrets(policy) });
    },
    async ended(flowId) {
      await store.setDeploymentState(flowId, 'stopped');
    },
  };
}
