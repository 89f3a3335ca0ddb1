/** Test runs and deployments of flows on the embedded runtime (see server/API.md). */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { boundedName, compileFlow, formatPath, inlineSecrets, LIMITS, quoteShort } from '../../runtime/host.js';
import { parseInput } from '../body.js';
import { withStoredConnections } from '../connections.js';
import type { AppContext } from '../context.js';
import { documentSchema } from '../flow-input.js';
import { badRequest, invalidFlow, notFound } from '../http-errors.js';
import { withStoredSecrets } from '../policy.js';
import { requireFlow } from './flows.js';
import { principalOf } from '../auth/guard.js';

const previewSchema = z
  .object({
    document: documentSchema.optional().describe("the editor's unsaved canvas; default: the saved latest version"),
    limit: z.number().int().min(1).max(10_000).default(100).describe('records read per source'),
    sample: z.number().int().min(1).max(1000).default(100).describe('records kept and streamed per node, direction and port'),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('the test run is stopped after this long'),
    socketId: boundedName().optional().describe('stream to this socket only; default: every socket subscribed to the flow'),
  })
  .strict();

const previewQuery = z.object({ wait: z.enum(['true', 'false']).default('false') });

const deploySchema = z
  .object({
    version: z.number().int().min(1).optional().describe('the saved version to run; default: the latest'),
    fromStart: z.boolean().default(false).describe('forget committed positions and state: read the sources from the beginning'),
  })
  .strict();

const positionsSchema = z
  .object({
    positions: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('source node id → its new position: words as GET shows them (`LSN 16/B374D848`), the position itself, or null for its beginning'),
    resetState: z.boolean().default(false).describe('also forget the state of aggregates and denormalize nodes, which was taken at the old positions'),
    dryRun: z.boolean().default(false).describe('only say what the change would replay or skip'),
  })
  .strict();

const deadLetterQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  node: z.string().min(1).max(200).optional().describe('only letters that failed in this node'),
  error: z.string().min(1).max(500).optional().describe('only letters whose error contains this text (case-insensitive)'),
});

const deadLetterIds = z
  .object({ ids: z.array(z.number().int().min(1)).min(1).max(10_000).describe('the ids of the dead letters (GET …/dead-letters)') })
  .strict();

const limitQuery = (max: number, fallback: number) => z.object({ limit: z.coerce.number().int().min(1).max(max).default(fallback) });

export function runtimeRoutes(ctx: AppContext): Router {
  const r = Router();
  const id = (req: Request) => req.params.id as string;
  /** 404 unless the flow is saved, or was deployed since the server started */
  const known = async (flowId: string) => {
    if (ctx.manager.status(flowId).status === 'not-deployed' && !(await ctx.store.getFlow(flowId))) throw notFound(`no flow named ${quoteShort(flowId)}`);
  };

  r.post('/flows/:id/preview', async (req, res) => {
    const flowId = id(req);
    // the id names the socket.io room of an unsaved canvas: as bounded as a flow name
    if (flowId.length > LIMITS.nameLength) throw badRequest(`flow id: at most ${LIMITS.nameLength} characters`, [{ path: 'id', message: `at most ${LIMITS.nameLength} characters` }]);
    const { wait } = parseInput(previewQuery, req.query, 'query');
    const body = parseInput(previewSchema, req.body);
    const doc = body.document ?? (await requireFlow(ctx, flowId)).document;
    // a secret written in the sent document is refused as on save, before the stored connections join it
    if (body.document && ctx.policy.inlineSecrets === 'refuse') {
      const written = inlineSecrets(body.document, ctx.registry).map((s) => ({ path: formatPath(s.path, body.document), message: s.message, severity: 'error' as const, nodeId: s.nodeId }));
      if (written.length > 0) throw invalidFlow(written, 'cannot test-run');
    }
    // an invalid document: FlowValidationError → 400 with the issues
    const plan = compileFlow(withStoredConnections(doc, await ctx.store.listConnections()), ctx.registry, { env: ctx.env, policy: withStoredSecrets(ctx.policy) });
    const { previewId, done } = ctx.previews.start({ flowId, plan, limit: body.limit, sample: body.sample, timeoutMs: body.timeoutMs, socketId: body.socketId });
    if (wait === 'true') res.json(await done);
    else res.status(202).json({ previewId });
  });

  r.post('/previews/:previewId/stop', (req, res) => {
    if (!ctx.previews.stop(req.params.previewId as string)) throw notFound(`no test run ${quoteShort(req.params.previewId)} is running`);
    res.json({ stopped: true });
  });

  r.post('/flows/:id/deploy', async (req, res) => {
    const body = parseInput(deploySchema, req.body);
    res.status(202).json(await ctx.deployments.deploy(id(req), body));
  });

  r.post('/flows/:id/stop', async (req, res) => {
    await known(id(req));
    res.json(await ctx.deployments.stop(id(req)));
  });

  r.post('/flows/:id/pause', async (req, res) => {
    await known(id(req));
    res.json(await ctx.deployments.pause(id(req)));
  });

  r.post('/flows/:id/resume', async (req, res) => {
    await known(id(req));
    res.json(await ctx.deployments.resume(id(req)));
  });

  r.get('/flows/:id/status', async (req, res) => {
    await known(id(req));
    res.json(ctx.manager.status(id(req)));
  });

  r.get('/flows/:id/logs', async (req, res) => {
    await known(id(req));
    const { limit } = parseInput(limitQuery(10_000, 200), req.query, 'query');
    res.json(ctx.manager.logTail(id(req), limit));
  });

  r.get('/flows/:id/dead-letters', async (req, res) => {
    await known(id(req));
    const q = parseInput(deadLetterQuery, req.query, 'query');
    res.json(await ctx.manager.checkpoints.deadLetters(id(req), q.limit, { node: q.node, error: q.error }));
  });

  r.post('/flows/:id/dead-letters/replay', async (req, res) => {
    await known(id(req));
    const { ids } = parseInput(deadLetterIds, req.body);
    res.json(await ctx.deployments.replayDeadLetters(id(req), ids));
  });

  r.post('/flows/:id/dead-letters/discard', async (req, res) => {
    await known(id(req));
    const { ids } = parseInput(deadLetterIds, req.body);
    res.json(await ctx.deployments.discardDeadLetters(id(req), ids));
  });

  r.get('/flows/:id/schedule', async (req, res) => {
    await known(id(req));
    res.json(ctx.deployments.scheduleOf(id(req)));
  });

  r.get('/flows/:id/positions', async (req, res) => {
    await known(id(req));
    const { limit } = parseInput(limitQuery(200, 20), req.query, 'query');
    res.json(await ctx.deployments.positions(id(req), limit));
  });

  r.put('/flows/:id/positions', async (req, res) => {
    await known(id(req));
    const body = parseInput(positionsSchema, req.body);
    res.json(await ctx.deployments.setPositions(id(req), body, principalOf(res)?.user ?? 'an unknown user'));
  });

  r.get('/deployments', (_req, res) => {
    res.json(ctx.manager.list());
  });

  return r;
}
