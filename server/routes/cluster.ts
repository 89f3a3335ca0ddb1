/** GET /api/cluster: the agents and where each deployed flow runs (cluster mode), or the single process. */
import { Router } from 'express';
import type { AppContext } from '../context.js';

export function clusterRoutes(ctx: AppContext): Router {
  const r = Router();
  r.get('/cluster', async (_req, res) => {
    if (!ctx.cluster) {
      res.json({ mode: 'single', agents: [], flows: ctx.manager.list().map((s) => ({ flowId: s.flowId, status: s.status })) });
      return;
    }
    try {
      res.json(await ctx.cluster());
    } catch (err) {
      res.status(503).json({ error: `the cluster's Redis cannot be reached now: ${ctx.redact((err as Error).message)}` });
    }
  });
  return r;
}
