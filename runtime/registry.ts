/** The catalog of node types a runtime knows. Built from an explicit list (nodes/catalog.ts). */
import { z } from 'zod';
import type { Category, NodeType, PortSpec } from './node-api.js';

export interface NodeTypeInfo {
  type: string;
  category: Category;
  title: string;
  description: string;
  icon?: string;
  inputs: PortSpec[];
  outputs: PortSpec[];
  /** JSON Schema of the config, from the zod schema: the editor renders its form from it */
  configSchema: unknown;
}

export class NodeRegistry {
  private readonly types = new Map<string, NodeType>();

  constructor(types: readonly NodeType[]) {
    for (const t of types) {
      if (this.types.has(t.type)) throw new Error(`node type ${t.type} registered twice`);
      this.types.set(t.type, t);
    }
  }

  get(type: string): NodeType | undefined {
    return this.types.get(type);
  }

  list(): NodeType[] {
    return [...this.types.values()];
  }

  catalog(): NodeTypeInfo[] {
    return this.list().map((t) => ({
      type: t.type,
      category: t.category,
      title: t.title,
      description: t.description,
      icon: t.icon,
      inputs: t.inputs,
      outputs: t.outputs,
      configSchema: z.toJSONSchema(t.configSchema, { io: 'input', unrepresentable: 'any' }),
    }));
  }
}
