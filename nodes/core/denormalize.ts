/**
 * core.denormalize: folds related records into one document.
 *
 * - `mode: lookup` (input `in`): enriches each record from a reference table (denormalize/lookup.ts).
 * - `mode: nest` (inputs `parent` and `child`): keeps parents and children and emits the full nested
 *   document on every change (denormalize/nest.ts); its state is checkpointed with the positions.
 *
 * The reference kinds lookup can read are handed in by the catalog (denormalizeNode), so this family
 * imports no database family. The inputs depend on the mode (inputsBy): validation rejects a nest node whose `child` is not wired,
 * or an edge into `parent` of a lookup node, naming the node and the port.
 */
import { z } from 'zod';
import { defineNode, type NodeContext, type PortSpec } from '../../runtime/index.js';
import type { ReferenceKind } from '../shared/reference.js';
import { LookupTransform, lookupConfigOf, type LookupConfig } from './denormalize/lookup.js';
import { NestTransform, nestConfig, type NestConfig } from './denormalize/nest.js';

const configSchemaOf = (kinds: readonly ReferenceKind[]) =>
  z
    .discriminatedUnion('mode', [lookupConfigOf(kinds), nestConfig])
    .describe('lookup: enrich each record from a reference table; nest: fold child records into their parent');

const IN: PortSpec = { name: 'in', description: 'lookup mode: the records to enrich' };
const PARENT: PortSpec = { name: 'parent', description: 'nest mode: the parent records, e.g. orders' };
const CHILD: PortSpec = { name: 'child', description: "nest mode: the child records, e.g. order_lines, whose childKey holds their parent's key" };

/** core.denormalize whose lookup mode reads the reference tables of `kinds` (nodes/reference-kinds.ts) */
export const denormalizeNode = (kinds: readonly ReferenceKind[]) =>
  defineNode({
    type: 'core.denormalize',
    category: 'denormalize',
    title: 'Denormalize',
    description:
      'Folds related records into one document: lookup enriches each record from a reference table (one query per batch, LRU cache with TTL); ' +
      'nest folds children into their parent and emits the whole document on every change (holds every parent and child in memory, checkpointed)',
    icon: 'layers',
    configSchema: configSchemaOf(kinds),
    inputs: [
      { ...IN, required: false },
      { ...PARENT, required: false },
      { ...CHILD, required: false },
    ],
    inputsBy: {
      field: 'mode',
      cases: {
        lookup: [{ ...IN, required: true }],
        nest: [
          { ...PARENT, required: true },
          { ...CHILD, required: true },
        ],
      },
    },
    stateful: (c) => c.mode === 'nest',
    outputs: [
      { name: 'out', description: 'lookup: the enriched records; nest: the documents (op c / u, and d when a parent is deleted)' },
      { name: 'error', description: 'records that cannot be used (no key, a key that is not a scalar; lookup with onMissing: error, no match), with the reason' },
    ],
    create(ctx) {
      return ctx.config.mode === 'lookup'
        ? new LookupTransform(ctx as NodeContext<LookupConfig>, kinds)
        : new NestTransform(ctx as NodeContext<NestConfig>);
    },
  });
