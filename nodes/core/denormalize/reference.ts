/**
 * The `from` config of lookup mode and its factory, built from the reference kinds the catalog hands
 * over (nodes/reference-kinds.ts): the core family never imports a database family, so a flow with
 * only core nodes loads no database driver. The interface of a kind is nodes/shared/reference.ts.
 */
import { z } from 'zod';
import type { ReferenceKind, ReferenceOptions, ReferenceTable } from '../../shared/reference.js';

/** a `from` config after its kind's schema: `type` picks the kind, the rest is the kind's own */
export type FromConfig = { type: string } & Record<string, unknown>;

/** the `from` schema: one of the kinds' schemas, picked by `type` (an unknown type lists the known ones) */
export function fromSchemaOf(kinds: readonly ReferenceKind[]): z.ZodType<FromConfig> {
  if (kinds.length === 0) throw new Error('core.denormalize needs at least one reference kind');
  const types = kinds.map((k) => k.type).join(', ');
  return z
    .discriminatedUnion('type', kinds.map((k) => k.schema) as unknown as [z.ZodObject, ...z.ZodObject[]], {
      error: (issue) => (issue.code === 'invalid_union' ? `type must be one of: ${types}` : undefined),
    })
    .describe(`the reference table; type is one of: ${types} (sqlite: path and table)`) as unknown as z.ZodType<FromConfig>;
}

/** opens nothing: the reference table of `from`'s kind, for `open()` to connect */
export function createReference(kinds: readonly ReferenceKind[], from: FromConfig, options: ReferenceOptions): ReferenceTable {
  const kind = kinds.find((k) => k.type === from.type);
  if (!kind) throw new Error(`no reference table kind ${JSON.stringify(from.type)}`); // the schema only lets known types through
  return kind.create(from, options);
}
