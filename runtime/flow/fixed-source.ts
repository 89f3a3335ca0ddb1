import type { CompiledNode } from './compile.js';
import type { NodeType, SourceInstance } from '../node-api.js';
import type { SluiceRecord } from '../records.js';

/**
 * `node` (a source of a compiled flow) made to give `records` in one batch and end, with no position:
 * what a flow test feeds in place of a real source, and what a dead-letter replay feeds into a node.
 */
export function fixedSource(node: CompiledNode, records: () => SluiceRecord[]): CompiledNode {
  const type: NodeType = {
    ...node.type,
    create: (): SourceInstance => {
      let done = false;
      return {
        kind: 'source',
        open: async () => {},
        read: async () => {
          if (done) return null;
          done = true;
          return { records: records(), position: null };
        },
        close: async () => {},
      };
    },
  };
  return { ...node, type };
}
