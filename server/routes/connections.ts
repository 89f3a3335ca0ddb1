/** /api/connections: named connection settings; secrets are write-only (see server/connections.ts). */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { LIMITS, quoteShort } from '../../runtime/flow/limits.js';
import { flowNameSchema } from '../../runtime/flow/schema.js';
import { unconfinedFiles } from '../../runtime/files.js';
import { parseInput } from '../body.js';
import { knownTypes, mergeSecrets, redact, testConnection } from '../connections.js';
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
  .describe('the connector settings; secret fields (password, token …) are never returned');

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
  const secretsOf = (t: string) => ctx.secretFields[t] ?? [];
  const view = (c: StoredConnection) => ({
    id: resourceId(c.id),
    name: c.id,
    type: c.type,
    config: redact(c.config, secretsOf(c.type)),
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  });
  const idName = (req: Request) => nameOfId(req.params.id as string, () => ctx.store.listConnections().map((c) => c.id));
  const find = (req: Request) => {
    const c = ctx.store.getConnection(idName(req));
    if (!c) throw notFound(`no connection named ${quoteShort(req.params.id)}`);
    return c;
  };

  r.get('/', (_req, res) => {
    res.json(ctx.store.listConnections().map(view));
  });

  /** a type the registry has no connector for is refused, naming the ones it has */
  const checkType = (t: string) => {
    if (!ctx.registry.connector(t)) {
      throw badRequest(`no connector for type ${t} (known: ${knownTypes(ctx.registry)})`, [{ path: 'type', message: `must be one of: ${knownTypes(ctx.registry)}` }]);
    }
  };

  r.post('/', (req, res) => {
    const body = parseInput(createSchema, req.body);
    checkType(body.type);
    const stored = ctx.store.createConnection(body.name, body.type, mergeSecrets(body.config, undefined, secretsOf(body.type)));
    res.status(201).json(view(stored));
  });

  r.get('/:id', (req, res) => {
    res.json(view(find(req)));
  });

  r.put('/:id', (req, res) => {
    const current = find(req);
    const body = parseInput(updateSchema, req.body);
    if (body.name !== undefined && body.name !== current.id) {
      throw badRequest(`name is ${quoteShort(body.name)} but this connection is ${quoteShort(current.id)}: a connection cannot be renamed (flows refer to it by name)`, [
        { path: 'name', message: `must be ${quoteShort(current.id)}` },
      ]);
    }
    const t = body.type ?? current.type;
    if (body.type !== undefined) checkType(body.type);
    const updated = ctx.store.updateConnection(current.id, t, mergeSecrets(body.config, current.config, secretsOf(t)));
    if (!updated) throw notFound(`no connection named ${quoteShort(current.id)}`);
    res.json(view(updated));
  });

  r.delete('/:id', (req, res) => {
    if (!ctx.store.deleteConnection(idName(req))) throw notFound(`no connection named ${quoteShort(req.params.id)}`);
    res.status(204).end();
  });

  r.post('/:id/test', async (req, res) => {
    const c = find(req);
    res.json(await testConnection(ctx.registry, c.type, c.config, ctx.policy.files ?? unconfinedFiles(ctx.cwd)));
  });

  return r;
}
