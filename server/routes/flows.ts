/** /api/flows: flows with every version kept, validation, export and import (see server/API.md). */
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { BODY_LIMIT, parseInput } from '../body.js';
import { iso, type AppContext } from '../context.js';
import { canonicalDocument, toJson, toYaml, type Doc } from '../flow-format.js';
import { documentSchema, readFlowInput, requireValidDocument, validateInput } from '../flow-input.js';
import { badRequest, conflict, notFound } from '../http-errors.js';
import { quoteShort } from '../../runtime/flow/limits.js';
import { nameOfId, resourceId } from '../resource-ids.js';
import type { StoredFlow } from '../store/control-store.js';

const putSchema = z
  .object({
    baseVersion: z.number().int().min(1).describe('the version this save edits: the latest, or the save is refused with 409'),
    document: documentSchema,
  })
  .strict();

const versionParam = z.coerce.number().int().min(1);

const exportQuery = z.object({
  format: z.enum(['yaml', 'json']).default('yaml'),
  version: versionParam.optional(),
});

const importQuery = z.object({ overwrite: z.enum(['true', 'false']).default('false') });

const TEXT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

export function flowResource(f: StoredFlow) {
  return { id: resourceId(f.id), name: f.id, version: f.version, updatedAt: iso(f.savedAt), document: f.document };
}

export function requireFlow(ctx: AppContext, id: string, version?: number): StoredFlow {
  const flow = ctx.store.getFlow(id, version);
  if (flow) return flow;
  const latest = version === undefined ? undefined : ctx.store.getFlow(id);
  throw notFound(latest ? `flow ${quoteShort(id)} has no version ${version} (the latest is ${latest.version})` : `no flow named ${quoteShort(id)}`);
}

const nameOf = (doc: Doc) => doc.name as string; // a valid document has a name

export function flowRoutes(ctx: AppContext): Router {
  const r = Router();
  const id = (req: Request) => nameOfId(req.params.id as string, () => ctx.store.listFlows().map((f) => f.id));

  r.get('/', (_req, res) => {
    res.json(
      ctx.store.listFlows().map((f) => {
        const dep = ctx.manager.status(f.id);
        return {
          id: resourceId(f.id),
          name: f.id,
          version: f.version,
          updatedAt: iso(f.savedAt),
          description: typeof f.document.description === 'string' ? f.document.description : '',
          nodes: Array.isArray(f.document.nodes) ? f.document.nodes.length : 0,
          deployment: dep.status === 'not-deployed' ? null : { status: dep.status, version: dep.version },
        };
      }),
    );
  });

  r.post('/', (req, res) => {
    const doc = requireValidDocument(ctx, { document: parseInput(documentSchema, req.body) });
    const flow = ctx.store.createFlow(nameOf(doc), (v) => canonicalDocument(doc, v));
    res.status(201).json(flowResource(flow));
  });

  r.post('/validate', express.text({ type: TEXT_TYPES, limit: BODY_LIMIT }), (req, res) => {
    const { issues } = validateInput(ctx, readFlowInput(req));
    res.json({ valid: !issues.some((i) => i.severity === 'error'), issues });
  });

  r.post('/import', express.text({ type: TEXT_TYPES, limit: BODY_LIMIT }), (req, res) => {
    const { overwrite } = parseInput(importQuery, req.query, 'query');
    const doc = requireValidDocument(ctx, readFlowInput(req), 'cannot import');
    const name = nameOf(doc);
    if (!ctx.store.getFlow(name)) {
      res.status(201).json(flowResource(ctx.store.createFlow(name, (v) => canonicalDocument(doc, v))));
      return;
    }
    if (overwrite !== 'true') {
      const current = ctx.store.getFlow(name)!.version;
      throw conflict(`a flow named ${name} exists (version ${current}): import with ?overwrite=true to save this as its next version`, { current });
    }
    res.json(flowResource(ctx.store.saveFlow(name, undefined, (v) => canonicalDocument(doc, v))!));
  });

  r.get('/:id', (req, res) => {
    res.json(flowResource(requireFlow(ctx, id(req))));
  });

  r.put('/:id', (req, res) => {
    const flowId = id(req);
    requireFlow(ctx, flowId);
    const body = parseInput(putSchema, req.body);
    if (body.document.name !== undefined && body.document.name !== flowId) {
      throw badRequest(`document.name is ${quoteShort(body.document.name)} but this flow is ${quoteShort(flowId)}: a flow cannot be renamed; import it under the new name and delete this one`, [
        { path: 'name', message: `must be ${quoteShort(flowId)}` },
      ]);
    }
    const doc = requireValidDocument(ctx, { document: body.document });
    const saved = ctx.store.saveFlow(flowId, body.baseVersion, (v) => canonicalDocument(doc, v));
    if (!saved) throw notFound(`no flow named ${quoteShort(flowId)}`); // deleted in between
    res.json(flowResource(saved));
  });

  r.delete('/:id', async (req, res) => {
    const flowId = id(req);
    requireFlow(ctx, flowId);
    if (ctx.manager.isActive(flowId)) throw conflict(`flow ${quoteShort(flowId)} is deployed and ${ctx.manager.status(flowId).status}: stop it before deleting it`);
    ctx.store.deleteFlow(flowId);
    await ctx.manager.forget(flowId);
    res.status(204).end();
  });

  r.get('/:id/versions', (req, res) => {
    const versions = ctx.store.versions(id(req));
    if (!versions) throw notFound(`no flow named ${quoteShort(id(req))}`);
    res.json(versions.map((v) => ({ ...v, savedAt: iso(v.savedAt) })));
  });

  r.get('/:id/versions/:v', (req, res) => {
    const version = parseInput(versionParam, req.params.v, 'version');
    res.json(flowResource(requireFlow(ctx, id(req), version)));
  });

  r.get('/:id/export', (req, res) => {
    const { format, version } = parseInput(exportQuery, req.query, 'query');
    const flow = requireFlow(ctx, id(req), version);
    // flow ids are plain (letters, digits, . _ -): quoting is all the header needs
    res.setHeader('Content-Disposition', `attachment; filename="${resourceId(flow.id)}.${format}"`);
    if (format === 'json') res.type('application/json').send(toJson(flow.document));
    else res.type('application/yaml').send(toYaml(flow.document));
  });

  return r;
}
