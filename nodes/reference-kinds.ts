/**
 * The reference table kinds core.denormalize (lookup mode) can read, by `from.type`, listed once like
 * the node types: the catalog hands them to the core family, which imports no database family. Adding
 * a kind is its module in its family (nodes/<family>/reference.ts) plus one entry here.
 */
import type { ReferenceKind } from './shared/reference.js';
import { mongodbReference } from './mongodb/reference.js';
import { mysqlReference } from './mysql/reference.js';
import { postgresReference } from './postgres/reference.js';
import { sqliteReference } from './sqlite/reference.js';

export const REFERENCE_KINDS: readonly ReferenceKind[] = [sqliteReference, mysqlReference, postgresReference, mongodbReference];
