/**
 * The express app: security headers and the Host check on everything, the auth guard then JSON under
 * /api (routes/*), the editor at /, one error handler. Built only from
 * what it is handed (AppContext); sockets.ts adds socket.io on the same HTTP server.
 */
import express, { type Express, type RequestHandler } from 'express';
import { apiGuard } from './auth/guard.js';
import { securityHeaders } from './auth/headers.js';
import { hostCheck, type Site } from './auth/site.js';
import { BODY_LIMIT, checkBodyShape } from './body.js';
import type { AppContext } from './context.js';
import { editorRoutes } from './editor.js';
import { apiNotFound, errorHandler } from './http-errors.js';
import type { ServerLog } from './log.js';
import { authRoutes } from './routes/auth.js';
import { clusterRoutes } from './routes/cluster.js';
import { connectionRoutes } from './routes/connections.js';
import { flowTestRoutes } from './routes/flow-tests.js';
import { flowRoutes } from './routes/flows.js';
import { hookRoutes } from './routes/hooks.js';
import { metaRoutes, metricsRoute } from './routes/meta.js';
import { runtimeRoutes } from './routes/runtime.js';

/** bigint (64-bit integers from some databases) as a string: JSON has no such number */
const jsonReplacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

function requestLog(log: ServerLog): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log.info(`${req.method} ${req.originalUrl} ${res.statusCode} ${ms.toFixed(1)}ms`, { method: req.method, path: req.originalUrl, status: res.statusCode, ms: Math.round(ms * 10) / 10 });
    });
    next();
  };
}

export interface AppOptions {
  /** where the server is reached: what the Host and Origin checks accept */
  site: Site;
  /** express's `trust proxy` (behind a reverse proxy: the address of a request is X-Forwarded-For's) */
  trustProxy?: boolean | string;
}

export function createApp(ctx: AppContext, opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json replacer', jsonReplacer);
  if (opts.trustProxy !== undefined) app.set('trust proxy', opts.trustProxy);
  app.use(securityHeaders, hostCheck(opts.site));
  // every /api route passes the guard first: principal, rate limit, cross-site checks, role (auth/policy.ts);
  // then every JSON body is checked for plain, bounded data (runtime/flow/limits.ts)
  const guard = apiGuard(ctx.auth, ctx.store.auth, opts.site, ctx.log);
  app.use('/api', requestLog(ctx.log), guard, express.json({ limit: BODY_LIMIT }), checkBodyShape);
  app.use('/api', metaRoutes(ctx), authRoutes(ctx.auth, opts.site));
  app.use('/api', flowTestRoutes(ctx));
  app.use('/api/flows', flowRoutes(ctx));
  app.use('/api/connections', connectionRoutes(ctx));
  app.use('/api', runtimeRoutes(ctx));
  app.use('/api', clusterRoutes(ctx));
  app.use('/api', apiNotFound);
  // Prometheus scrapes /metrics with a viewer's API key (Authorization: Bearer …), like any API call
  app.get('/metrics', requestLog(ctx.log), guard, metricsRoute(ctx));
  // webhooks of deployed http.source nodes: their own authentication (API key or HMAC signature) and pace
  app.use('/hooks', requestLog(ctx.log), hookRoutes(ctx));
  app.use(editorRoutes(ctx.editorDir));
  app.use(errorHandler(ctx.log, ctx.redact));
  return app;
}
