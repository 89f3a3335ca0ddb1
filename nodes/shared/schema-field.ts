/**
 * The `schema` field of the database sources that can hand a sink their catalog facts (mysql.source,
 * postgres.source): one definition, so both read and document it alike (nodes/shared/schema-full.ts).
 */
import { z } from 'zod';
import { SCHEMA_MODES } from './schema-full.js';

export const schemaField = z
  .enum(SCHEMA_MODES)
  .default('keys')
  .describe(
    'what a sink that creates the tables is told of each: keys (columns, types and the key) or full (also NOT NULL, defaults, auto-increment (serial) columns, unique constraints, indexes, foreign keys, checks, ENUM values, comments; the sink reports what it created, mapped lossy and left out)',
  );
