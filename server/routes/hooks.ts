/**
 * `POST /hooks/FLOW/NODE`: the webhook of a deployed flow's http.source. Outside /api, so the limits
 * and browser checks of the API do not apply: the node's own backpressure (429) paces callers. In
 * cluster mode it answers 503: the flow runs in an agent, which serves no HTTP. Who may an API key with the role the policy table gives the route (auth/policy.ts), or, without one, a
 * request whose HMAC signature the node checks. The body goes to the node unparsed (signatures are of
 * the bytes); its answer (202 committed, 400, 401, 429) is sent as it is.
 */
import express, { Router } from 'express';
import { roleAtLeast, type Role } from '../store/auth-store.js';
import { matchPolicy } from '../auth/policy.js';
import { BODY_LIMIT } from '../body.js';
import type { AppContext } from '../context.js';

export function hookRoutes(ctx: AppContext): Router {
  const r = Router();
  const needed = matchPolicy('POST', '/hooks/flow/node')?.policy.access as Role;
  r.post('/:flow/:node', express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res, next) => {
    try {
      const { flow, node } = req.params as { flow: string; node: string };
      let principal;
      if (req.headers.authorization !== undefined) {
        principal = await ctx.auth.authenticate(undefined, req.headers.authorization);
        if (!principal) return void res.status(401).json({ error: 'the API key is unknown or revoked' });
        if (!roleAtLeast(principal.role, needed)) return void res.status(403).json({ error: `POST /hooks needs the ${needed} role (${principal.user} is ${principal.role})` });
      }
      if (!ctx.manager.endpoints) {
        // cluster mode: the flow runs in an agent, which serves no HTTP, and nothing forwards to it yet
        return void res.status(503).json({
          error: `webhooks (http.source) are not served in cluster mode: flow ${JSON.stringify(flow)} runs on an agent, which has no HTTP endpoint, and the server does not forward /hooks to it; run flows with an http.source on a server without --cluster`,
        });
      }
      const handler = ctx.manager.endpoints.handler(flow, node);
      if (!handler) return void res.status(404).json({ error: `no running flow ${JSON.stringify(flow)} with an http.source node ${JSON.stringify(node)}: deploy the flow first` });
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const answer = await handler({ body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), headers, principal: principal && { user: principal.user, role: principal.role } });
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      res.status(answer.status).json(answer.body);
    } catch (err) {
      next(err);
    }
  });
  return r;
}
