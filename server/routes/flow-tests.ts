/**
 * /api/flows/:id/tests: a flow's tests (runtime/testing/flow-tests.ts) kept in the control store, in the
 * shape of `FLOW.tests.yaml`: listed (or the file itself with `?format=yaml`), saved from a test run,
 * deleted, and run against the flow's latest saved version (see server/API.md).
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { checkAgainstFlow, type FlowTest, formatTestFile, parseTestFile, quoteShort, runTest, type TestResult } from '../../runtime/host.js';
import { principalOf } from '../auth/guard.js';
import { parseInput } from '../body.js';
import { iso, type AppContext } from '../context.js';
import { testPlanOf } from '../flow-tests.js';
import { badRequest, notFound } from '../http-errors.js';
import { resourceId } from '../resource-ids.js';
import { requireFlow } from './flows.js';

const listQuery = z.object({ format: z.enum(['json', 'yaml']).default('json') });

const runSchema = z
  .object({
    names: z.array(z.string().min(1).max(200)).min(1).max(1000).optional().describe('the tests to run; default: every test of the flow'),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('each test run is stopped after this long'),
  })
  .strict();

/** how many records a test holds per node: what a list shows instead of the records */
const counts = (m: unknown) => Object.fromEntries(Object.entries((m ?? {}) as Record<string, unknown[]>).map(([id, list]) => [id, Array.isArray(list) ? list.length : 0]));

/** the nodes a failed test marks on the canvas: each sink whose output differs, or the node that failed */
function nodesThatDiffer(result: TestResult, failedNode: string | undefined): string[] {
  const ids = result.diffs.map((d) => d.sink);
  if (failedNode && !ids.includes(failedNode)) ids.unshift(failedNode);
  return ids;
}

export function flowTestRoutes(ctx: AppContext): Router {
  const r = Router();
  const flowOf = (req: Request) => requireFlow(ctx, req.params.id as string);
  const planOf = (document: Record<string, unknown>) => testPlanOf(ctx, document);

  r.get('/flows/:id/tests', async (req, res) => {
    const { format } = parseInput(listQuery, req.query, 'query');
    const flow = await flowOf(req);
    const tests = await ctx.store.listFlowTests(flow.id);
    if (format === 'yaml') {
      res.setHeader('Content-Disposition', `attachment; filename="${resourceId(flow.id)}.tests.yaml"`);
      res.type('application/yaml').send(formatTestFile({ tests: tests.map((t) => t.test as unknown as FlowTest) }));
      return;
    }
    res.json(
      tests.map((t) => ({
        name: t.name,
        ordered: t.test.ordered === true,
        savedAt: iso(t.savedAt),
        author: t.author,
        inputs: counts(t.test.inputs),
        expect: counts(t.test.expect),
      })),
    );
  });

  r.post('/flows/:id/tests', async (req, res) => {
    const flow = await flowOf(req);
    const body = req.body as unknown;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a test: { name, ordered?, inputs, expect }', [{ path: '', message: 'must be an object' }]);
    // the same checks as a FLOW.tests.yaml entry (JSON is YAML), then its node ids against the flow
    const [test] = parseTestFile(JSON.stringify({ tests: [body] }), 'test').tests;
    checkAgainstFlow(test, await planOf(flow.document), `flow ${flow.id}`);
    const created = await ctx.store.saveFlowTest(flow.id, test as unknown as { name: string } & Record<string, unknown>, principalOf(res)?.user ?? null);
    res.status(created ? 201 : 200).json({ name: test.name, flow: flow.id, created, inputs: counts(test.inputs), expect: counts(test.expect) });
  });

  r.delete('/flows/:id/tests/:test', async (req, res) => {
    const flow = await flowOf(req);
    const name = req.params.test as string;
    if (!(await ctx.store.deleteFlowTest(flow.id, name))) throw notFound(`flow ${quoteShort(flow.id)} has no test named ${quoteShort(name)}`);
    res.status(204).end();
  });

  r.post('/flows/:id/tests/run', async (req, res) => {
    const flow = await flowOf(req);
    const body = parseInput(runSchema, req.body);
    const stored = await ctx.store.listFlowTests(flow.id);
    const unknown = (body.names ?? []).filter((n) => !stored.some((t) => t.name === n));
    if (unknown.length) throw notFound(`flow ${quoteShort(flow.id)} has no test named ${unknown.map((n) => quoteShort(n)).join(', ')} (tests: ${stored.map((t) => t.name).join(', ') || 'none'})`);
    const chosen = body.names ? stored.filter((t) => body.names!.includes(t.name)) : stored;
    const plan = await planOf(flow.document);
    const results = [];
    for (const t of chosen) {
      const test = t.test as unknown as FlowTest;
      let result: TestResult;
      let failedNode: string | undefined;
      try {
        checkAgainstFlow(test, plan, `flow ${flow.id}`);
        result = await runTest(plan, test, { cwd: ctx.cwd, timeoutMs: body.timeoutMs });
        failedNode = result.error ? plan.nodes.find((n) => result.error!.includes(n.id))?.id : undefined;
      } catch (err) {
        // a test that no longer fits the flow (a source or sink renamed): failed, with the reason
        result = { name: t.name, passed: false, error: ctx.redact((err as Error).message), diffs: [] };
      }
      results.push({
        name: result.name,
        passed: result.passed,
        ...(result.error ? { error: ctx.redact(result.error) } : {}),
        diffs: result.diffs.map((d) => ({ sink: d.sink, differences: d.differences })),
        nodes: result.passed ? [] : nodesThatDiffer(result, failedNode),
      });
    }
    res.json({ flow: flow.id, version: flow.version, passed: results.filter((x) => x.passed).length, failed: results.filter((x) => !x.passed).length, results });
  });

  return r;
}
