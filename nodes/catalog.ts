/**
 * Every node type Sluice ships, listed explicitly (no registration by import side effect).
 * The runtime is handed this list; it never imports a node module itself.
 */
import { NodeRegistry } from '../runtime/registry.js';
import type { NodeType } from '../runtime/index.js';
import { filter } from './core/filter.js';
import { generate } from './core/generate.js';
import { map } from './core/map.js';
import { select } from './core/select.js';
import { fileSink } from './file/sink.js';
import { fileSource } from './file/source.js';
import { sqliteSink } from './sqlite/sink.js';
import { sqliteSource } from './sqlite/source.js';

export const NODE_TYPES: readonly NodeType[] = [generate, map, filter, select, fileSource, fileSink, sqliteSource, sqliteSink] as NodeType[];

export function createRegistry(): NodeRegistry {
  return new NodeRegistry(NODE_TYPES);
}
