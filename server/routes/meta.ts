/** /api/health and /api/node-types (the catalog is built once: the registry does not change). */
import { Router } from 'express';
import type { AppContext } from '../context.js';

export function metaRoutes(ctx: AppContext): Router {
  const r = Router();
  let catalog: string | undefined;

  r.get('/health', (_req, res) => {
    res.json({ ok: true, version: ctx.version, uptimeMs: Date.now() - ctx.startedAt });
  });

  r.get('/node-types', (_req, res) => {
    catalog ??= JSON.stringify(ctx.registry.catalog());
    res.type('application/json').send(catalog);
  });

  return r;
}
