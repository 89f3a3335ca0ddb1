/** The catalog of node types a runtime knows. Built from an explicit list (nodes/catalog.ts). */
import { z } from 'zod';
import type { Category, ConnectorType, InputsBy, NodeType, PortSpec } from './node-api.js';

export interface NodeTypeInfo {
  type: string;
  category: Category;
  title: string;
  description: string;
  icon?: string;
  inputs: PortSpec[];
  /** the inputs when they depend on a config field: the editor draws these handles */
  inputsBy?: InputsBy;
  outputs: PortSpec[];
  /** JSON Schema of the config, from the zod schema: the editor renders its form from it */
  configSchema: unknown;
}

export interface ConnectorInfo {
  type: string;
  aliases: string[];
  title: string;
  schemes: string[];
  /** JSON Schema of a connection entry's fields */
  configSchema: unknown;
}

export class NodeRegistry {
  private readonly types = new Map<string, NodeType>();
  private readonly connectorsByType = new Map<string, ConnectorType>();

  constructor(types: readonly NodeType[], private readonly connectorList: readonly ConnectorType[] = []) {
    for (const t of types) {
      if (this.types.has(t.type)) throw new Error(`node type ${t.type} registered twice`);
      this.types.set(t.type, t);
    }
    for (const c of connectorList) {
      for (const name of [c.type, ...(c.aliases ?? [])]) {
        if (this.connectorsByType.has(name)) throw new Error(`connection type ${name} registered twice`);
        this.connectorsByType.set(name, c);
      }
    }
  }

  /** the connector of a connection `type:` (aliases included) */
  connector(type: string): ConnectorType | undefined {
    return this.connectorsByType.get(type);
  }

  /** the connector whose URL scheme starts `url` (`postgres://...`), if any */
  connectorForUrl(url: string): ConnectorType | undefined {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
    return scheme ? this.connectorList.find((c) => c.schemes.includes(scheme)) : undefined;
  }

  connectors(): ConnectorInfo[] {
    return this.connectorList.map((c) => ({
      type: c.type,
      aliases: c.aliases ?? [],
      title: c.title,
      schemes: c.schemes,
      configSchema: z.toJSONSchema(c.entrySchema, { io: 'input', unrepresentable: 'any' }),
    }));
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
      inputsBy: t.inputsBy,
      outputs: t.outputs,
      configSchema: z.toJSONSchema(t.configSchema, { io: 'input', unrepresentable: 'any' }),
    }));
  }
}
