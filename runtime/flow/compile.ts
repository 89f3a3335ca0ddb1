/**
 * Validated document → executable plan: each node with its type, parsed config and wiring.
 * Throws FlowValidationError (a UserError) when the document has errors.
 */
import { FlowValidationError, type FlowIssue } from '../errors.js';
import type { HostPolicy } from '../host-policy.js';
import type { NodeType } from '../node-api.js';
import type { NodeRegistry } from '../registry.js';
import type { FlowDocument } from './schema.js';
import { validateFlow, validateFlowText, type ResolvedEdge, type ValidateOptions, type ValidationResult } from './validate.js';

export interface CompiledNode {
  id: string;
  type: NodeType;
  config: unknown;
  /** edges into this node */
  inputs: ResolvedEdge[];
  /** edges out of this node, by output port */
  outputs: Map<string, ResolvedEdge[]>;
}

export interface CompiledFlow {
  flow: FlowDocument;
  nodes: CompiledNode[];
  edges: ResolvedEdge[];
  warnings: FlowIssue[];
  /** the host's policy the flow was validated under; its nodes open files through it */
  policy?: HostPolicy;
}

export function compileValidated(result: ValidationResult, registry: NodeRegistry, file?: string, policy?: HostPolicy): CompiledFlow {
  if (!result.flow || !result.configs || !result.edges) throw new FlowValidationError(result.issues, file);
  const { flow, configs, edges } = result;
  return {
    flow,
    edges,
    warnings: result.issues,
    policy,
    nodes: flow.nodes.map((n) => {
      const outputs = new Map<string, ResolvedEdge[]>();
      for (const e of edges.filter((e) => e.from === n.id)) outputs.set(e.fromPort, [...(outputs.get(e.fromPort) ?? []), e]);
      return {
        id: n.id,
        type: registry.get(n.type)!, // validateFlow returns configs only when every type is known
        config: configs.get(n.id),
        inputs: edges.filter((e) => e.to === n.id),
        outputs,
      };
    }),
  };
}

export function compileFlow(raw: unknown, registry: NodeRegistry, options: ValidateOptions & { file?: string } = {}): CompiledFlow {
  return compileValidated(validateFlow(raw, registry, options), registry, options.file, options.policy);
}

export function compileFlowText(text: string, registry: NodeRegistry, options: ValidateOptions & { file?: string } = {}): CompiledFlow {
  return compileValidated(validateFlowText(text, registry, { ...options, fileName: options.file }), registry, options.file, options.policy);
}
