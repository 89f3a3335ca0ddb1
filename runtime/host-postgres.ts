/**
 * The host API's PostgreSQL part: the checkpoint store and the schema helpers the server's PostgreSQL
 * stores share. Apart from host.ts so that the embedded default (SQLite) never loads `pg`: hosts import
 * it only when a `postgres://` store is opened.
 */
export { PgCheckpointStore } from './state/pg-checkpoint-store.js';
export { createPool, describeUrl, ensureSchema, inTransaction, num, quoteSchema } from './state/pg-schema.js';
