/** /api/health, /api/node-types, /api/connection-types and /api/flow-settings (built once: they do not change); /metrics. */
import { Router, type RequestHandler } from 'express';
import { flowSettingsJsonSchema } from '../../runtime/host.js';
import type { AppContext } from '../context.js';

export function metaRoutes(ctx: AppContext): Router {
  const r = Router();
  let catalog: string | undefined;
  let connectorCatalog: string | undefined;
  let settings: string | undefined;

  r.get('/health', (_req, res) => {
    res.json({ ok: true, version: ctx.version, uptimeMs: Date.now() - ctx.startedAt });
  });

  r.get('/node-types', (_req, res) => {
    catalog ??= JSON.stringify(ctx.registry.catalog());
    res.type('application/json').send(catalog);
  });

  r.get('/flow-settings', (_req, res) => {
    settings ??= JSON.stringify(flowSettingsJsonSchema());
    res.type('application/json').send(settings);
  });

  r.get('/connection-types', (_req, res) => {
    connectorCatalog ??= JSON.stringify(ctx.registry.connectors());
    res.type('application/json').send(connectorCatalog);
  });

  return r;
}

/** GET /metrics: the Prometheus text format (the guard in front of it wants a viewer) */
export function metricsRoute(ctx: AppContext): RequestHandler {
  return (_req, res, next) => {
    ctx.metrics.text().then((text) => res.type(ctx.metrics.contentType).send(text), next);
  };
}
