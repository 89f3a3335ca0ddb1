/** /api/flows: flows with every version kept, validation, export and import (see server/API.md). */
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { BODY_LIMIT, parseInput } from '../body.js';
import { iso, type AppContext } from '../context.js';
import { canonicalDocument, toJson, toYaml, type Doc } from '../flow-format.js';
import { describeMissing, incompleteConnections } from '../connections.js';
import { exportDocument } from '../flow-export.js';
import { documentSchema, readFlowInput, requireValidDocument, validateInput, type FlowInput } from '../flow-input.js';
import { addressOf, principalOf } from '../auth/guard.js';
import { fillNodeSecrets, planConnections, requireRoleToCreate, splitConnections, storeConnections } from '../flow-import.js';
import { importedTests, testPlanOf } from '../flow-tests.js';
import { parseFlowText, quoteShort } from '../../runtime/host.js';
import { badRequest, conflict, notFound } from '../http-errors.js';
import { nameOfId, resourceId } from '../resource-ids.js';
import type { SaveInfo, StoredFlow } from '../store/control-store.js';

const putSchema = z
  .object({
    baseVersion: z.number().int().min(1).describe('the version this save edits: the latest, or the save is refused with 409'),
    document: documentSchema,
    message: z.string().trim().max(500, 'must be at most 500 characters').optional().describe('why this version was saved: kept with it and shown in the version list'),
  })
  .strict();

const messageQuery = z.object({ message: z.string().trim().max(500, 'must be at most 500 characters').optional() });

/** the author and message a save keeps with its version: the signed-in user (none when sign-in is off) */
function saveInfo(res: Response, message: string | undefined): SaveInfo {
  return { author: principalOf(res)?.user ?? null, message: message ? message : null };
}

const versionParam = z.coerce.number().int().min(1);

const exportQuery = z.object({
  format: z.enum(['yaml', 'json']).default('yaml'),
  version: versionParam.optional(),
  variables: z.enum(['true', 'false']).default('false').describe('true: a JSON answer { flow, format, text, variables } instead of the file'),
});

const importQuery = z.object({ overwrite: z.enum(['true', 'false']).default('false') });

const secretsSchema = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string().min(1, 'must not be empty'))
  .describe('values of the ${env:NAME} secret placeholders of the connections in the file');

const importFieldsSchema = z.object({
  secrets: secretsSchema.optional(),
  tests: z.string().optional().describe('the text of a FLOW.tests.yaml (GET /api/flows/:id/tests?format=yaml): stored with the flow'),
});

/** `secrets` and `tests` of a JSON import body, taken off it (the rest is the flow input) */
function takeImportFields(req: Request): { secrets: Record<string, string>; tests?: string } {
  const body = req.body as unknown;
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('secrets' in body || 'tests' in body)) return { secrets: {} };
  const { secrets, tests, ...rest } = body as Record<string, unknown>;
  req.body = rest;
  const fields = parseInput(importFieldsSchema, { secrets, tests });
  return { secrets: fields.secrets ?? {}, tests: fields.tests };
}

/** the document of an input as parsed (undefined when the text does not parse: validation reports that) */
function rawDocument(input: FlowInput): Doc | undefined {
  if ('document' in input) return input.document;
  const parsed = parseFlowText(input.text, input.format ? `flow.${input.format}` : undefined);
  return parsed.ok && parsed.parsed.value !== null && typeof parsed.parsed.value === 'object' && !Array.isArray(parsed.parsed.value) ? (parsed.parsed.value as Doc) : undefined;
}

const TEXT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

export function flowResource(f: StoredFlow) {
  return { id: resourceId(f.id), name: f.id, version: f.version, updatedAt: iso(f.savedAt), author: f.author, message: f.message, document: f.document };
}

export async function requireFlow(ctx: AppContext, id: string, version?: number): Promise<StoredFlow> {
  const flow = await ctx.store.getFlow(id, version);
  if (flow) return flow;
  const latest = version === undefined ? undefined : await ctx.store.getFlow(id);
  throw notFound(latest ? `flow ${quoteShort(id)} has no version ${version} (the latest is ${latest.version})` : `no flow named ${quoteShort(id)}`);
}

const nameOf = (doc: Doc) => doc.name as string; // a valid document has a name

export function flowRoutes(ctx: AppContext): Router {
  const r = Router();
  const id = (req: Request) => nameOfId(req.params.id as string, async () => (await ctx.store.listFlows()).map((f) => f.id));

  r.get('/', async (_req, res) => {
    res.json(
      (await ctx.store.listFlows()).map((f) => {
        const dep = ctx.manager.status(f.id);
        return {
          id: resourceId(f.id),
          name: f.id,
          version: f.version,
          updatedAt: iso(f.savedAt),
          author: f.author,
          description: typeof f.document.description === 'string' ? f.document.description : '',
          nodes: Array.isArray(f.document.nodes) ? f.document.nodes.length : 0,
          deployment: dep.status === 'not-deployed' ? null : { status: dep.status, version: dep.version },
        };
      }),
    );
  });

  r.post('/', async (req, res) => {
    const { message } = parseInput(messageQuery, req.query, 'query');
    const doc = requireValidDocument(ctx, { document: parseInput(documentSchema, req.body) });
    const flow = await ctx.store.createFlow(nameOf(doc), (v) => canonicalDocument(doc, v), saveInfo(res, message));
    res.status(201).json(flowResource(flow));
  });

  r.post('/validate', express.text({ type: TEXT_TYPES, limit: BODY_LIMIT }), async (req, res) => {
    const { issues, raw } = validateInput(ctx, readFlowInput(req));
    // a node on an incomplete stored connection (imported without its secret): saved fine, not deployable yet
    const stored = raw ? await ctx.store.listConnections() : [];
    const incomplete = raw ? incompleteConnections(raw, (n) => stored.find((c) => c.id === n), ctx.registry, ctx.env, ctx.policy.env) : [];
    for (const c of incomplete) {
      for (const nodeId of c.nodes) {
        issues.push({
          path: `nodes[${nodeId}].config.connection`,
          nodeId,
          severity: 'warning',
          message: `connection ${describeMissing(c.name, c.missing)} is incomplete: complete it under Connections before deploying`,
        });
      }
    }
    res.json({ valid: !issues.some((i) => i.severity === 'error'), issues });
  });

  r.post('/import', express.text({ type: TEXT_TYPES, limit: BODY_LIMIT }), async (req, res) => {
    const { overwrite } = parseInput(importQuery, req.query, 'query');
    const { secrets, tests: testsText } = takeImportFields(req);
    const input = readFlowInput(req);
    const raw = rawDocument(input);
    const used = new Set<string>();
    const split = raw ? splitConnections(fillNodeSecrets(ctx.registry, raw, secrets, used)) : undefined;
    // the file's connections are stored, not kept in the flow: validated without them (they are checked as
    // connections); as sent (with the lines of its text) when it has none and no secret was filled in
    const asSent = split === undefined || (Object.keys(split.connections).length === 0 && used.size === 0);
    const doc = requireValidDocument(ctx, asSent ? input : { document: split.document }, 'cannot import');
    const name = nameOf(doc);
    const existing = await ctx.store.getFlow(name);
    if (existing && overwrite !== 'true') {
      throw conflict(`a flow named ${name} exists (version ${existing.version}): import with ?overwrite=true to save this as its next version`, { current: existing.version });
    }
    // checked against the document being imported before anything is stored: a bad file imports nothing
    const tests = testsText === undefined ? [] : importedTests(testsText, await testPlanOf(ctx, doc));
    const planned = await planConnections(ctx, split?.connections ?? {}, secrets, used);
    const who = principalOf(res);
    requireRoleToCreate(planned, who?.role);
    const connections = await storeConnections(ctx, planned);
    for (const c of connections.filter((c) => c.action === 'created')) {
      await ctx.store.auth.appendAudit({ user: who?.user ?? null, action: 'connection.create', target: c.name, address: addressOf(req), details: { via: who?.via ?? null, type: c.type, import: name } });
    }
    const info = saveInfo(res, `imported${existing ? ' over version ' + existing.version : ''}`);
    const flow = existing
      ? (await ctx.store.saveFlow(name, undefined, (v) => canonicalDocument(doc, v), info))!
      : await ctx.store.createFlow(name, (v) => canonicalDocument(doc, v), info);
    // each test as POST /api/flows/:id/tests saves it (a same-named one replaced, others kept), audited alike
    for (const t of tests) {
      await ctx.store.saveFlowTest(flow.id, t as unknown as { name: string } & Record<string, unknown>, who?.user ?? null);
      await ctx.store.auth.appendAudit({ user: who?.user ?? null, action: 'flow.test.save', target: resourceId(flow.id), address: addressOf(req), details: { via: who?.via ?? null, test: t.name, import: name } });
    }
    res.status(existing ? 200 : 201).json({ ...flowResource(flow), connections, ...(testsText === undefined ? {} : { tests: tests.map((t) => t.name) }) });
  });

  r.get('/:id', async (req, res) => {
    res.json(flowResource(await requireFlow(ctx, await id(req))));
  });

  r.put('/:id', async (req, res) => {
    const flowId = await id(req);
    await requireFlow(ctx, flowId);
    const body = parseInput(putSchema, req.body);
    if (body.document.name !== undefined && body.document.name !== flowId) {
      throw badRequest(`document.name is ${quoteShort(body.document.name)} but this flow is ${quoteShort(flowId)}: a flow cannot be renamed; import it under the new name and delete this one`, [
        { path: 'name', message: `must be ${quoteShort(flowId)}` },
      ]);
    }
    const doc = requireValidDocument(ctx, { document: body.document });
    const saved = await ctx.store.saveFlow(flowId, body.baseVersion, (v) => canonicalDocument(doc, v), saveInfo(res, body.message));
    if (!saved) throw notFound(`no flow named ${quoteShort(flowId)}`); // deleted in between
    res.json(flowResource(saved));
  });

  r.delete('/:id', async (req, res) => {
    const flowId = await id(req);
    await requireFlow(ctx, flowId);
    if (ctx.manager.isActive(flowId)) throw conflict(`flow ${quoteShort(flowId)} is deployed and ${ctx.manager.status(flowId).status}: stop it before deleting it`);
    await ctx.store.deleteFlow(flowId);
    await ctx.manager.forget(flowId);
    res.status(204).end();
  });

  r.get('/:id/versions', async (req, res) => {
    const flowId = await id(req);
    const versions = await ctx.store.versions(flowId);
    if (!versions) throw notFound(`no flow named ${quoteShort(flowId)}`);
    res.json(versions.map((v) => ({ ...v, savedAt: iso(v.savedAt) })));
  });

  r.get('/:id/versions/:v', async (req, res) => {
    const version = parseInput(versionParam, req.params.v, 'version');
    res.json(flowResource(await requireFlow(ctx, await id(req), version)));
  });

  r.get('/:id/export', async (req, res) => {
    const { format, version, variables: describe } = parseInput(exportQuery, req.query, 'query');
    const flow = await requireFlow(ctx, await id(req), version);
    const { document, variables } = exportDocument(flow.document, await ctx.store.listConnections(), ctx.registry, ctx.policy);
    const doc = canonicalDocument(document);
    const text = format === 'json' ? toJson(doc) : toYaml(doc);
    if (describe === 'true') {
      res.json({ flow: flow.id, version: flow.version, format, text, variables });
      return;
    }
    res.setHeader('X-Sluice-Variables', variables.map((v) => v.name).join(', '));
    // flow ids are plain (letters, digits, . _ -): quoting is all the header needs
    res.setHeader('Content-Disposition', `attachment; filename="${resourceId(flow.id)}.${format}"`);
    res.type(format === 'json' ? 'application/json' : 'application/yaml').send(text);
  });

  return r;
}
