/**
 * Every node type Sluice ships, listed explicitly (no registration by import side effect).
 * The runtime is handed this list; it never imports a node module itself.
 */
import { NodeRegistry } from '../runtime/index.js';
import type { NodeType } from '../runtime/index.js';
import { CONNECTORS } from './connectors.js';
import { denormalizeNode } from './core/denormalize.js';
import { aggregate } from './core/aggregate.js';
import { filter } from './core/filter.js';
import { generate } from './core/generate.js';
import { map } from './core/map.js';
import { select } from './core/select.js';
import { fileSink } from './file/sink.js';
import { fileSource } from './file/source.js';
import { sqliteSink } from './sqlite/sink.js';
import { sqliteSource } from './sqlite/source.js';
import { mysqlSink } from './mysql/sink.js';
import { mysqlSource } from './mysql/source.js';
import { postgresSink } from './postgres/sink.js';
import { postgresSource } from './postgres/source.js';
import { mongodbSink } from './mongodb/sink.js';
import { mongodbSource } from './mongodb/source.js';
import { kafkaSink } from './kafka/sink.js';
import { kafkaSource } from './kafka/source.js';
import { httpSink } from './http/sink.js';
import { httpSource } from './http/source.js';
import { natsSink } from './nats/sink.js';
import { solaceSink } from './solace/sink.js';
import { solaceSource } from './solace/source.js';
import { natsSource } from './nats/source.js';
import { REFERENCE_KINDS } from './reference-kinds.js';

/** core.denormalize, handed the reference kinds of the database families */
export const denormalize = denormalizeNode(REFERENCE_KINDS);

export const NODE_TYPES: readonly NodeType[] = [generate, map, filter, select, denormalize, aggregate, fileSource, fileSink, sqliteSource, sqliteSink, mysqlSource, mysqlSink, postgresSource, postgresSink, mongodbSource, mongodbSink,
  kafkaSource, kafkaSink, natsSource, natsSink, httpSource, httpSink, solaceSource, solaceSink,
] as NodeType[];

export function createRegistry(): NodeRegistry {
  return new NodeRegistry(NODE_TYPES, CONNECTORS);
}
