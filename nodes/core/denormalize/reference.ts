/**
 * The reference table kinds core.denormalize (lookup mode) can read, by `from.type`. The interface is
 * nodes/shared/reference.ts. Adding a kind (postgres, mysql, mongodb) is its module plus one line in
 * REFERENCE_KINDS; the `from` schema and the factory follow.
 */
import { z } from 'zod';
import type { ReferenceKind, ReferenceOptions, ReferenceTable } from '../../shared/reference.js';
import { sqliteReference } from './sqlite-reference.js';
import { mongodbReference } from '../../mongodb/reference.js';
import { mysqlReference } from '../../mysql/reference.js';
import { postgresReference } from '../../postgres/reference.js';

export const REFERENCE_KINDS = [sqliteReference, mysqlReference, postgresReference, mongodbReference] as const;

type Kind = (typeof REFERENCE_KINDS)[number];

export const fromSchema = z
  .discriminatedUnion('type', REFERENCE_KINDS.map((k) => k.schema) as unknown as [Kind['schema'], ...Kind['schema'][]], {
    error: (issue) => (issue.code === 'invalid_union' ? `type must be one of: ${REFERENCE_KINDS.map((k) => k.type).join(', ')}` : undefined),
  })
  .describe(`the reference table; type is one of: ${REFERENCE_KINDS.map((k) => k.type).join(', ')} (sqlite: path and table)`);

export type FromConfig = z.output<typeof fromSchema>;

export function createReference(from: FromConfig, options: ReferenceOptions): ReferenceTable {
  const kind = REFERENCE_KINDS.find((k) => k.type === from.type) as ReferenceKind | undefined;
  if (!kind) throw new Error(`no reference table kind ${JSON.stringify(from.type)}`); // the schema only lets known types through
  return kind.create(from, options);
}
