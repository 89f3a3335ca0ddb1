/**
 * /api/connections: named connection settings, checked against their connector's schema when written;
 * secrets (declared in that schema) are write-only (see server/connections.ts).
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { flowNameSchema, LIMITS, quoteShort, unconfinedFiles } from '../../runtime/host.js';
import { parseInput } from '../body.js';
import { connectionIssues, knownTypes, mergeSecrets, missingSecrets, redact, secretFieldsOfType, testConnection } from '../connections.js';
import { iso, type AppContext } from '../context.js';
import { badRequest, notFound } from '../http-errors.js';
import { nameOfId, resourceId } from '../resource-ids.js';
import type { StoredConnection } from '../store/control-store.js';

const name = flowNameSchema.describe('the name flows refer to the connection by; also its id');
const type = z
  .string()
  .max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`)
  .regex(/^[a-z][a-z0-9_-]*$/, 'must be a lowercase connector name such as postgres, mysql, sqlite')
  .describe('which connector: postgres, mysql, mongodb, sqlite (GET /api/connection-types lists them)');
const config = z
  .record(z.string(), z.unknown())
  .describe('the connector settings (GET /api/connection-types has their schema); secret fields are never returned');

const createSchema = z.object({ name, type, config: config.default({}) }).strict();
const updateSchema = z
  .object({
    name: name.optional().describe('must be the connection’s name: a connection cannot be renamed'),
    type: type.optional().describe('default: unchanged'),
    config,
  })
  .strict();

export function connectionRoutes(ctx: AppContext): Router {
  const r = Router();
  const secretsOf = (t: string) => secretFieldsOfType(ctx.registry, t);
  /** the config to store: secrets merged with the stored ones, then checked against the connector's schema */
  const toStore = (t: string, incoming: Record<string, unknown>, stored?: Record<string, unknown>) => {
    const config = mergeSecrets(incoming, stored, secretsOf(t));
    const issues = connectionIssues(ctx.registry, t, config);
    if (issues.length > 0) {
      const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
      throw badRequest(`invalid ${t} connection: ${issues[0].path}: ${issues[0].message}${more}`, issues);
    }
    return config;
  };
  const view = (c: StoredConnection) => {
    const missing = missingSecrets(c.config, secretsOf(c.type), ctx.env, ctx.policy.env);
    return {
      id: resourceId(c.id),
      name: c.id,
      type: c.type,
      config: redact(c.config, secretsOf(c.type)),
      // imported without its secrets (server/flow-import.ts): flows using it cannot be deployed yet
      ...(missing.length > 0 ? { incomplete: missing } : {}),
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
    };
  };
  const idName = (req: Request) => nameOfId(req.params.id as string, async () => (await ctx.store.listConnections()).map((c) => c.id));
  const find = async (req: Request) => {
    const c = await ctx.store.getConnection(await idName(req));
    if (!c) throw notFound(`no connection named ${quoteShort(req.params.id)}`);
    return c;
  };

  r.get('/', async (_req, res) => {
    res.json((await ctx.store.listConnections()).map(view));
  });

  /** a type the registry has no connector for is refused, naming the ones it has */
  const checkType = (t: string) => {
    if (!ctx.registry.connector(t)) {
      throw badRequest(`no connector for type ${t} (known: ${knownTypes(ctx.registry)})`, [{ path: 'type', message: `must be one of: ${knownTypes(ctx.registry)}` }]);
    }
  };

  r.post('/', async (req, res) => {
    const body = parseInput(createSchema, req.body);
    checkType(body.type);
    const stored = await ctx.store.createConnection(body.name, body.type, toStore(body.type, body.config));
    res.status(201).json(view(stored));
  });

  r.get('/:id', async (req, res) => {
    res.json(view(await find(req)));
  });

  r.put('/:id', async (req, res) => {
    const current = await find(req);
    const body = parseInput(updateSchema, req.body);
    if (body.name !== undefined && body.name !== current.id) {
      throw badRequest(`name is ${quoteShort(body.name)} but this connection is ${quoteShort(current.id)}: a connection cannot be renamed (flows refer to it by name)`, [
        { path: 'name', message: `must be ${quoteShort(current.id)}` },
      ]);
    }
    const t = body.type ?? current.type;
    if (body.type !== undefined) checkType(body.type);
    const updated = await ctx.store.updateConnection(current.id, t, toStore(t, body.config, current.config));
    if (!updated) throw notFound(`no connection named ${quoteShort(current.id)}`);
    res.json(view(updated));
  });

  r.delete('/:id', async (req, res) => {
    if (!(await ctx.store.deleteConnection(await idName(req)))) throw notFound(`no connection named ${quoteShort(req.params.id)}`);
    res.status(204).end();
  });

  r.post('/:id/test', async (req, res) => {
    const c = await find(req);
    const r = await testConnection(ctx.registry, c.type, c.config, ctx.policy.files ?? unconfinedFiles(ctx.cwd));
    // a driver's message may echo the URL or a value sent: masked like every other message
    res.json(r.ok ? { ...r, message: ctx.redact(r.message) } : { ...r, error: ctx.redact(r.error), ...(r.hint ? { hint: ctx.redact(r.hint) } : {}) });
  });

  return r;
}
