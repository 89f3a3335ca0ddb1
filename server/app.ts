/**
 * The express app: JSON under /api (routes/*), the editor at /, one error handler. Built only from
 * what it is handed (AppContext); sockets.ts adds socket.io on the same HTTP server.
 */
import express, { type Express, type RequestHandler } from 'express';
import { BODY_LIMIT, checkBodyShape } from './body.js';
import type { AppContext } from './context.js';
import { editorRoutes } from './editor.js';
import { apiNotFound, errorHandler } from './http-errors.js';
import type { ServerLog } from './log.js';
import { connectionRoutes } from './routes/connections.js';
import { flowRoutes } from './routes/flows.js';
import { metaRoutes } from './routes/meta.js';
import { runtimeRoutes } from './routes/runtime.js';

/** bigint (64-bit integers from some databases) as a string: JSON has no such number */
const jsonReplacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

function requestLog(log: ServerLog): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log.info(`${req.method} ${req.originalUrl} ${res.statusCode} ${ms.toFixed(1)}ms`);
    });
    next();
  };
}

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json replacer', jsonReplacer);
  app.use('/api', requestLog(ctx.log), express.json({ limit: BODY_LIMIT }), checkBodyShape);
  app.use('/api', metaRoutes(ctx));
  app.use('/api/flows', flowRoutes(ctx));
  app.use('/api/connections', connectionRoutes(ctx));
  app.use('/api', runtimeRoutes(ctx));
  app.use('/api', apiNotFound);
  app.use(editorRoutes(ctx.editorDir));
  app.use(errorHandler(ctx.log));
  return app;
}
