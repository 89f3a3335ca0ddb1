/**
 * Builds node instances through their schema, outside a flow, for unit tests: fixture in, capture out.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileAccess, unconfinedFiles } from '../../runtime/files.js';
import type { NodeContext, NodeInstance, NodeType, SinkInstance, SourceInstance, TransformInstance } from '../../runtime/node-api.js';
import { settingsSchema } from '../../runtime/flow/schema.js';
import { compileUserFunction, DEFAULT_SANDBOX } from '../../runtime/sandbox/sandbox.js';
import type { SluiceRecord } from '../../runtime/records.js';

export function tempDir(prefix = 'sluice-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function makeContext<C>(type: NodeType, config: unknown, overrides: Partial<NodeContext<C>> = {}): NodeContext<C> {
  const parsed = type.configSchema.parse(config) as C;
  const controller = new AbortController();
  return {
    nodeId: 'n1',
    flowName: 'test-flow',
    config: parsed,
    settings: settingsSchema.parse({}),
    preview: false,
    signal: controller.signal,
    log: { info() {}, warn() {}, error() {} },
    files: fileAccess(unconfinedFiles(), 'n1'),
    connection: () => undefined,
    compile: (code, field, options) =>
      compileUserFunction(code, { ...DEFAULT_SANDBOX, label: `n1.config.${field}`, ...options }),
    ...overrides,
  };
}

export async function create<T extends NodeInstance>(type: NodeType, config: unknown, overrides: Partial<NodeContext<unknown>> = {}): Promise<T> {
  return (await type.create(makeContext(type, config, overrides))) as T;
}

/** Opens a source at `position`, reads it to the end, closes it. */
export async function readAll(source: SourceInstance, position?: unknown): Promise<{ records: SluiceRecord[]; errors: SluiceRecord[]; positions: unknown[] }> {
  await source.open(position);
  const records: SluiceRecord[] = [];
  const errors: SluiceRecord[] = [];
  const positions: unknown[] = [];
  for (;;) {
    const batch = await source.read();
    if (!batch) break;
    records.push(...batch.records);
    errors.push(...(batch.errors ?? []));
    positions.push(batch.position);
  }
  await source.close();
  return { records, errors, positions };
}

export async function writeAll(sink: SinkInstance, batches: SluiceRecord[][]): Promise<void> {
  await sink.open();
  for (const b of batches) await sink.write(b);
  await sink.close();
}

export async function processAll(t: TransformInstance, records: SluiceRecord[], port = 'in') {
  await t.open(undefined);
  const out = await t.process(records, port);
  await t.close();
  return out;
}

export function rec(value: Record<string, unknown>, op: SluiceRecord['op'] = 'c', key: unknown = value.id): SluiceRecord {
  return { key, value, op, meta: {} };
}
