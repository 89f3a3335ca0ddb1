/**
 * What the conversion tests share: a database URL with another database name, and a flow run on a
 * SQLite checkpoint store that a condition can stop midway (a user's Stop), as a resume test needs.
 */
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { testRegistry } from './test-nodes.js';

export { withDb } from './services.js';

/** runs a flow; `stopWhen` resolving true stops it */
export async function runFlow(doc: Record<string, unknown>, state: string, env: Record<string, string>, stopWhen?: () => Promise<boolean>): Promise<RunSummary> {
  const store = new SqliteCheckpointStore(state);
  const run = new FlowRun(compileFlow({ apiVersion: 'sluice/v1', ...doc }, testRegistry(), { env }), { store });
  const done = run.run().finally(() => store.close());
  if (stopWhen) {
    for (;;) {
      if ((await Promise.race([done.then(() => 'done' as const), new Promise<'wait'>((r) => setTimeout(() => r('wait'), 5))])) === 'done') break;
      if (await stopWhen().catch(() => false)) {
        run.stop();
        break;
      }
    }
  }
  return done;
}
