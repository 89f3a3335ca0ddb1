/**
 * A flow's tests as the server checks them: against the plan of a flow document with the stored
 * connections merged in, with the runtime's own parser and checks (runtime/testing/flow-tests.ts, which
 * `sluice test` uses too), so a test the server keeps is one `sluice test` would take, and the other way.
 */
import { checkAgainstFlow, compileFlow, type CompiledFlow, type FlowTest, parseTestFile, UserError } from '../runtime/host.js';
import { withStoredConnections } from './connections.js';
import type { AppContext } from './context.js';
import { badRequest } from './http-errors.js';
import { withStoredSecrets } from './policy.js';

/** the plan tests are checked against and run on: the document as a deployment would compile it */
export async function testPlanOf(ctx: Pick<AppContext, 'store' | 'registry' | 'env' | 'policy'>, document: Record<string, unknown>): Promise<CompiledFlow> {
  return compileFlow(withStoredConnections(document, await ctx.store.listConnections()), ctx.registry, { env: ctx.env, policy: withStoredSecrets(ctx.policy) });
}

/**
 * The text of a `FLOW.tests.yaml` sent with an import (the body's `tests`), parsed and each test checked
 * against the flow being imported; a mistake → 400 naming the test and the field (and the line, for a
 * YAML mistake), before anything of the import is stored.
 */
export function importedTests(text: string, plan: CompiledFlow): FlowTest[] {
  try {
    const { tests } = parseTestFile(text, 'tests');
    for (const t of tests) checkAgainstFlow(t, plan, 'tests');
    return tests;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw badRequest(`cannot import: ${err.message}`, [{ path: 'tests', message: err.message.replace(/^tests: /, '') }]);
  }
}
