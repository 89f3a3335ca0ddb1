/**
 * Whether a flow can run in lanes (settings.lanes > 1): every source must read a lane's share of its
 * input (NodeType.lanes), and no node may keep state. The stateful part (aggregate, nest) would have to
 * be fed by every lane in the host and committed with the lanes' chunks; that is not built yet, so a flow
 * with one is refused with the node named rather than counted wrong.
 */
import { ConfigError } from '../../errors.js';
import type { CompiledFlow } from '../../flow/compile.js';

/** why `plan` cannot run in lanes: one error per node, empty when it can */
export function laneProblems(plan: CompiledFlow): ConfigError[] {
  const problems: ConfigError[] = [];
  for (const n of plan.nodes) {
    const t = n.type;
    if (t.category === 'source') {
      const why = t.lanes ? t.lanes(n.config as never) : `${t.type} cannot share its input out over lanes`;
      if (why) problems.push(new ConfigError(n.id, '', `settings.lanes > 1: ${why}`));
    } else if (t.stateful?.(n.config as never)) {
      problems.push(new ConfigError(n.id, '', `settings.lanes > 1: ${t.type} keeps state, and a flow with stateful nodes cannot run in lanes yet (each lane would keep its own share of the state): remove settings.lanes or this node`));
    }
  }
  return problems;
}
