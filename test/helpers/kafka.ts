/** Plain kafkajs helpers for the Kafka tests: probe, topics, producing raw messages, reading a topic back. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders, type KafkaMessage } from 'kafkajs';
import { KAFKA_FAILED, KAFKA_STARTED } from '../setup/servers.js';

const clients = new Map<string, Kafka>();
export function kafkaClient(brokers: string): Kafka {
  let k = clients.get(brokers);
  if (!k) clients.set(brokers, (k = new Kafka({ brokers: brokers.split(','), clientId: 'sluice-test', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 3000 } })));
  return k;
}

/** `service`'s probe for Kafka: describes the cluster within 5 s */
export async function probeKafka(brokers: string): Promise<void> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits for the run's private broker, which the global set-up starts while other files run
 * (SLUICE_KAFKA_STARTING: its directory, where the set-up leaves KAFKA_STARTED or KAFKA_FAILED with the
 * reason); then probes it. A broker given in KAFKA_BROKERS is probed at once.
 */
export async function probeStartedKafka(brokers: string, ms = 600_000): Promise<void> {
  const dir = process.env.SLUICE_KAFKA_STARTING;
  const deadline = Date.now() + ms;
  while (dir && !existsSync(join(dir, KAFKA_STARTED))) {
    if (existsSync(join(dir, KAFKA_FAILED))) throw new Error(`the run's Kafka broker could not be started: ${readFileSync(join(dir, KAFKA_FAILED), 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`the run's Kafka broker did not start within ${ms / 1000} s (its log: ${join(dir, 'kafka.log')})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await probeKafka(brokers);
}

/** a topic name no other test (or run) uses */
export function topicName(what: string): string {
  return `sluice-test-${what}-${randomBytes(3).toString('hex')}`;
}

export async function createTopic(brokers: string, topic: string, partitions = 1): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export interface RawMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
  headers?: IHeaders;
}

export async function produce(brokers: string, topic: string, messages: RawMessage[]): Promise<void> {
  const producer = kafkaClient(brokers).producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
  } finally {
    await producer.disconnect();
  }
}

/** every message of `topic` from the beginning, once `count` arrived (a fresh group, nothing committed) */
/**
 * The messages of `topic` from the beginning, once `count` were read (or, with `enough`, once it says
 * so: a redelivered duplicate counts toward `count`, so a test of distinct messages passes its own check).
 */
export async function readTopic(
  brokers: string,
  topic: string,
  count: number,
  ms = 30_000,
  enough_: (messages: KafkaMessage[]) => boolean = (m) => m.length >= count,
): Promise<(KafkaMessage & { partition: number })[]> {
  const consumer = kafkaClient(brokers).consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` });
  const out: (KafkaMessage & { partition: number })[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done!: () => void;
    const enough = new Promise<void>((r) => (done = r));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push({ ...m, partition: batch.partition });
        if (enough_(out)) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([enough, new Promise<void>((_, rej) => (timer = setTimeout(() => rej(new Error(`${topic}: ${out.length} of ${count} messages within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/** the group's committed offsets of `topic` by partition ('-1': none), with their metadata */
export async function groupOffsets(brokers: string, group: string, topic: string): Promise<Record<number, { offset: string; metadata: string | null }>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return Object.fromEntries(t.partitions.map((p) => [p.partition, { offset: p.offset, metadata: p.metadata }]));
  } finally {
    await admin.disconnect();
  }
}

/** the end offset (high watermark) of each partition */
export async function endOffsets(brokers: string, topic: string): Promise<Record<number, string>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}

/** the group's state and how many members it has (describeGroups) */
export async function groupState(brokers: string, group: string): Promise<{ state: string; members: number }> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return { state: groups[0]?.state ?? 'Dead', members: groups[0]?.members.length ?? 0 };
  } finally {
    await admin.disconnect();
  }
}
