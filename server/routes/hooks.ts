/**
 * `POST /hooks/FLOW/NODE`: the webhook of a deployed flow's http.source. Outside /api, so the limits
 * and browser checks of the API do not apply: the node's own backpressure (429) paces callers. Who may:
 * an API key with the role the policy table gives the route (auth/hook-key.ts), or, without one, a
 * request whose HMAC signature the node checks. The body goes to the node unparsed (signatures are of
 * the bytes); its answer (202 committed, 400, 401, 429) is sent as it is. In cluster mode the request
 * is forwarded to the agent that runs the flow (forwardToAgent), which checks the key itself.
 */
import express, { Router } from 'express';
import { hookKeyCheck } from '../auth/hook-key.js';
import { BODY_LIMIT } from '../body.js';
import type { AppContext } from '../context.js';
import type { Request, Response } from 'express';
import type { ClusterView } from '../../runtime/host-cluster.js';

/**
 * Cluster mode: the request goes as it came (body, signature and Authorization headers; not a session
 * cookie, which counts for nothing at a webhook and would cross to the agent in plain HTTP) to the agent
 * that runs the flow, at the hooks URL it advertises (`sluice agent --hooks-port`), and its answer comes
 * back. The key is not checked here: the agent checks it against the same store with the same check
 * (auth/hook-key.ts) and would trust nothing this server vouched for, so checking twice would only
 * double the lookups and the key's "last used" writes. 401 and 403 therefore come from the agent.
 */
async function forwardToAgent(ctx: AppContext, flow: string, node: string, req: Request, res: Response): Promise<void> {
  const view = (await ctx.cluster!()) as ClusterView;
  const agentName = view.flows.find((f) => f.flowId === flow)?.agent;
  if (!agentName) return void res.status(404).json({ error: `no running flow ${JSON.stringify(flow)} in the cluster: deploy the flow first` });
  const agent = view.agents.find((a) => a.name === agentName && a.alive);
  if (!agent?.hooks) {
    return void res.status(503).json({
      error: `flow ${JSON.stringify(flow)} runs on agent ${JSON.stringify(agentName)}, which serves no webhooks: start the agents with --hooks-port N (and --hooks-host an address the server reaches)`,
    });
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !['host', 'connection', 'content-length', 'transfer-encoding', 'cookie'].includes(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  let answer: globalThis.Response;
  try {
    answer = await fetch(`${agent.hooks}/hooks/${encodeURIComponent(flow)}/${encodeURIComponent(node)}`, { method: 'POST', headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    return void res.status(502).json({ error: `agent ${agentName} did not answer the webhook at ${agent.hooks}: ${ctx.redact((err as Error).message)}` });
  }
  for (const h of ['retry-after', 'content-type']) {
    const v = answer.headers.get(h);
    if (v) res.setHeader(h, v);
  }
  res.status(answer.status).send(Buffer.from(await answer.arrayBuffer()));
}

export function hookRoutes(ctx: AppContext): Router {
  const r = Router();
  const checkKey = hookKeyCheck(ctx.auth);
  r.post('/:flow/:node', express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res, next) => {
    try {
      const { flow, node } = req.params as { flow: string; node: string };
      if (!ctx.manager.endpoints) return void (await forwardToAgent(ctx, flow, node, req, res));
      let principal;
      if (req.headers.authorization !== undefined) {
        const who = await checkKey(req.headers.authorization);
        if (!('principal' in who)) return void res.status(who.status).json({ error: who.error });
        principal = who.principal;
      }
      const handler = ctx.manager.endpoints.handler(flow, node);
      if (!handler) return void res.status(404).json({ error: `no running flow ${JSON.stringify(flow)} with an http.source node ${JSON.stringify(node)}: deploy the flow first` });
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const answer = await handler({ body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), headers, principal });
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      res.status(answer.status).json(answer.body);
    } catch (err) {
      next(err);
    }
  });
  return r;
}
