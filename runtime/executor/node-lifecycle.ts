/**
 * Creating, opening and closing a run's node instances: what each node is given (its context), and
 * the order they open in (sinks first, so a misconfigured sink fails before anything is read) and close
 * in (sources first).
 */
import { ConfigError, NodeError, UserError, errorMessage } from '../errors.js';
import { fileAccess, unconfinedFiles } from '../files.js';
import type { CompiledFlow, CompiledNode } from '../flow/compile.js';
import type { EndpointHost, Logger, NodeContext } from '../node-api.js';
import { compileUserFunction, UserCodeError } from '../sandbox/sandbox.js';
import type { Runner } from './runner.js';

export interface LifecycleOptions {
  preview: boolean;
  cwd?: string;
  endpoints?: EndpointHost;
  signal: AbortSignal;
  log: Logger;
  lane?: { index: number; count: number };
}

export class NodeLifecycle {
  constructor(private readonly plan: CompiledFlow, private readonly runners: Map<string, Runner>, private readonly o: LifecycleOptions) {}

  private context(node: CompiledNode): NodeContext<unknown> {
    const flow = this.plan.flow;
    const cwd = this.o.cwd ?? process.cwd();
    const log = this.o.log;
    return {
      nodeId: node.id,
      flowName: flow.name,
      config: node.config,
      settings: flow.settings,
      preview: this.o.preview,
      ...(this.o.lane ? { lane: this.o.lane } : {}),
      signal: this.o.signal,
      log: {
        info: (m) => log.info(`${node.id}: ${m}`, { node: node.id }),
        warn: (m) => log.warn(`${node.id}: ${m}`, { node: node.id }),
        error: (m) => log.error(`${node.id}: ${m}`, { node: node.id }),
      },
      files: fileAccess(this.plan.policy?.files ?? unconfinedFiles(cwd), node.id),
      connection: (name) => flow.connections?.[name] as Record<string, unknown> | undefined,
      ...(this.o.endpoints && !this.o.preview ? { endpoints: this.o.endpoints } : {}),
      compile: async (code, field, options) => {
        try {
          return await compileUserFunction(code, { ...flow.settings.sandbox, label: `${node.id}.config.${field}`, ...options });
        } catch (err) {
          if (err instanceof UserCodeError) throw new ConfigError(node.id, `config.${field}`, err.message);
          throw err;
        }
      },
    };
  }

  /** creates every instance, then opens sinks and transforms (with their saved state); sources open in their loop */
  async openAll(state: Record<string, unknown>): Promise<void> {
    const order = { sink: 0, transform: 1, source: 2 } as const;
    const runners = [...this.runners.values()];
    for (const r of runners) {
      try {
        r.instance = await r.node.type.create(this.context(r.node));
      } catch (err) {
        throw err instanceof UserError || err instanceof NodeError ? err : new NodeError(r.node.id, errorMessage(err), { cause: err });
      }
    }
    runners.sort((a, b) => order[a.instance!.kind] - order[b.instance!.kind]);
    for (const r of runners) {
      const inst = r.instance!;
      try {
        // a preview never opens a sink: opening may create files, tables or topics
        if (inst.kind === 'sink') {
          if (!this.o.preview) await inst.open();
          else if (inst.previewTarget) r.preview!.target = await inst.previewTarget().catch(() => undefined);
        }
        else if (inst.kind === 'transform') await inst.open(state[r.node.id]);
        // sources open in their loop, once their ledger exists
      } catch (err) {
        throw err instanceof UserError || err instanceof NodeError ? err : new NodeError(r.node.id, `cannot open: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  async closeAll(): Promise<void> {
    const order = { source: 0, transform: 1, sink: 2 } as const;
    const runners = [...this.runners.values()]
      .filter((r) => r.instance && !(this.o.preview && r.instance.kind === 'sink'))
      .sort((a, b) => order[a.instance!.kind] - order[b.instance!.kind]);
    for (const r of runners) {
      try {
        await r.instance!.close();
      } catch (err) {
        this.o.log.warn(`${r.node.id}: close failed: ${errorMessage(err)}`);
      }
    }
  }
}
