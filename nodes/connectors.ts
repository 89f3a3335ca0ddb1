/**
 * The connection types Sluice knows: each connector family's entry schema and connection test, adapted
 * to one result shape (the runtime's ConnectionTestResult) for the CLI's `test-connection` and the
 * server's connection test.
 */
import type { ConnectionTestResult, ConnectorType } from '../runtime/index.js';
import * as kafka from './kafka/connection.js';
import * as http from './http/connection.js';
import * as mongodb from './mongodb/connection.js';
import * as mysql from './mysql/connection.js';
import * as nats from './nats/connection.js';
import * as postgres from './postgres/connection.js';
import * as solace from './solace/connection.js';
import { solclientAdapter } from './solace/solclient.js';
import * as sqlite from './sqlite/connection.js';

/** `{ ok, message }` results (with CDC problems on the side) as the runtime's shape */
function fromMessage(r: { ok: boolean; message: string }, cdc?: { ready: boolean; problems: string[] }): ConnectionTestResult {
  if (!r.ok) return { ok: false, error: r.message };
  const message = cdc && !cdc.ready ? `${r.message}; CDC not ready: ${cdc.problems.join('; ')}` : cdc ? `${r.message}; CDC ready` : r.message;
  return { ok: true, message, details: { ...r } };
}

export const CONNECTORS: readonly ConnectorType[] = [
  {
    type: 'postgres',
    aliases: ['postgresql'],
    title: 'PostgreSQL',
    schemes: ['postgres', 'postgresql'],
    entrySchema: postgres.connectionEntrySchema,
    async test(config, options) {
      const r = await postgres.testConnection(config, options);
      return r.ok ? { ok: true, message: r.message, details: { server: r.server, cdc: r.cdc } } : { ...r, error: r.error.replace(' (connection "test")', '') };
    },
  },
  {
    type: 'mysql',
    aliases: ['mariadb'],
    title: 'MySQL / MariaDB',
    schemes: ['mysql', 'mariadb'],
    entrySchema: mysql.connectionEntrySchema,
    async test(config, options) {
      const r = await mysql.testConnection(config, options);
      return fromMessage(r, r.cdc);
    },
  },
  {
    type: 'mongodb',
    title: 'MongoDB',
    schemes: ['mongodb', 'mongodb+srv'],
    entrySchema: mongodb.connectionEntrySchema,
    async test(config, options) {
      const r = await mongodb.testConnection(config, options);
      return fromMessage(r, r.changeStreams);
    },
  },
  {
    type: 'sqlite',
    title: 'SQLite file',
    schemes: [],
    entrySchema: sqlite.connectionEntrySchema,
    test: (config, options) => sqlite.testConnection(config, options),
  },
  {
    type: 'kafka',
    title: 'Kafka',
    schemes: ['kafka'],
    entrySchema: kafka.connectionEntrySchema,
    async test(config, options) {
      const r = await kafka.testConnection(config, options);
      return r.ok ? { ok: true, message: r.message, details: { clusterId: r.clusterId, brokers: r.brokers, controller: r.controller, topics: r.topics } } : { ok: false, error: r.message };
    },
  },
  {
    type: 'nats',
    title: 'NATS JetStream',
    schemes: ['nats'],
    entrySchema: nats.connectionEntrySchema,
    test: (config, options) => nats.testConnection(config, options),
  },
  {
    type: 'http',
    title: 'HTTP API',
    schemes: ['http', 'https'],
    entrySchema: http.connectionEntrySchema,
    test: (config, options) => http.testConnection(config, options),
  },
  {
    type: 'solace',
    title: 'Solace PubSub+',
    schemes: [],
    entrySchema: solace.connectionEntrySchema,
    test: (config, options) => solace.testConnection(solclientAdapter, config, options),
  },
];
