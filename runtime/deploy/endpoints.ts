/**
 * The HTTP endpoints of deployed flows' webhook sources, by flow and node: a node registers its handler
 * when it opens and lets go when it closes; the server's `/hooks/FLOW/NODE` route looks the handler up.
 * One per DeploymentManager, handed to every flow it runs (no module singleton).
 */
import type { EndpointHandler, EndpointHost } from '../node-api.js';
import { NodeError } from '../errors.js';

export class EndpointRegistry implements EndpointHost {
  private readonly handlers = new Map<string, EndpointHandler>();

  private static key(flowName: string, nodeId: string): string {
    return JSON.stringify([flowName, nodeId]);
  }

  register(flowName: string, nodeId: string, handler: EndpointHandler): () => void {
    const key = EndpointRegistry.key(flowName, nodeId);
    if (this.handlers.has(key)) throw new NodeError(nodeId, `flow ${flowName} already serves an endpoint for node ${nodeId}`);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  handler(flowName: string, nodeId: string): EndpointHandler | undefined {
    return this.handlers.get(EndpointRegistry.key(flowName, nodeId));
  }
}
