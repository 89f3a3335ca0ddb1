/**
 * The node contract: the only part of the runtime that node types import (through runtime/index.ts).
 * A node type is a zod config schema + ports + a factory that returns an instance. The runtime never
 * imports a concrete node type; it is handed a registry of them.
 */
import type { z } from 'zod';
import type { SluiceRecord } from './records.js';
import type { FlowSettings } from './flow/schema.js';
import type { CompileOptions, UserFunction } from './sandbox/protocol.js';
import type { FileAccess } from './host-policy.js';

export type Category = 'source' | 'transform' | 'aggregate' | 'denormalize' | 'sink';

export interface PortSpec {
  name: string;
  description?: string;
  /** an input port that must be wired for the flow to be valid */
  required?: boolean;
}

/** what a log line is about, as fields of a JSON line (log/json-log.ts); plain text logs may ignore them */
export interface LogFields {
  flow?: string;
  node?: string;
  deployment?: string;
  [name: string]: string | number | boolean | undefined;
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface NodeContext<C> {
  nodeId: string;
  flowName: string;
  config: C;
  settings: FlowSettings;
  /** test run: read a bounded sample, write nothing */
  preview: boolean;
  /**
   * settings.lanes > 1: this process is lane `index` of `count` (lanes/coordinator.ts); a source reads
   * only its lane's share of the input (see NodeType.lanes)
   */
  lane?: { index: number; count: number };
  /** aborted when the flow is asked to stop: long waits (polling, rate limits) should end early */
  signal: AbortSignal;
  log: Logger;
  /**
   * Every file a node opens goes through here: `files.resolve('path', config.path, { write: true })`
   * gives the absolute path to open, or throws a ConfigError naming the field when the host's file
   * policy refuses it (the server confines flows to its file roots; the CLI does not, unless asked).
   */
  files: FileAccess;
  /**
   * A connection from the flow document's `connections:` map (env placeholders already resolved), or
   * undefined when the flow has none of that name.
   */
  connection(name: string): Record<string, unknown> | undefined;
  /** compiles user code in the sandbox (isolated-vm); `field` names the config field for errors */
  compile(code: string, field: string, options?: Partial<CompileOptions>): Promise<UserFunction>;
  /**
   * The host's HTTP endpoints, for sources fed by requests (webhooks): present in a deployed flow of the
   * server (`POST /hooks/FLOW/NODE`), absent in test runs and the CLI.
   */
  endpoints?: EndpointHost;
}

/** A request to a node's endpoint, as the host received it (the body unparsed, for signatures). */
export interface EndpointRequest {
  body: Uint8Array;
  /** header names in lower case */
  headers: Record<string, string | undefined>;
  /** the caller the host already authenticated (an API key with the role the route needs), if any */
  principal?: { user: string; role: string };
}

export interface EndpointAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type EndpointHandler = (request: EndpointRequest) => Promise<EndpointAnswer>;

export interface EndpointHost {
  /** false when the host authenticates no API keys (`sluice run --hooks-port`): then only signed requests can get in */
  readonly apiKeys?: boolean;
  /** serves `flowName`/`nodeId` with `handler` until the returned function is called; a second one for the same pair is refused */
  register(flowName: string, nodeId: string, handler: EndpointHandler): () => void;
}

export interface SourceBatch {
  records: SluiceRecord[];
  /** records the source could not read (unparseable line ...), routed like a transform's errors */
  errors?: SluiceRecord[];
  /** the position after this batch: committed once every sink acknowledged it */
  position: unknown;
}

/** One table (collection, file...) of a source: rows read, and what the source expects in total. */
export interface TableProgress {
  name: string;
  /** `pending` not started, `snapshot` being copied, `done` copied, `streaming` in CDC, `skipped` after an error (see `error`) */
  phase: 'pending' | 'snapshot' | 'done' | 'streaming' | 'skipped';
  /** why the table was skipped */
  error?: string;
  /** rows read (this run and the runs it resumed, when the position says) */
  done: number;
  /** the source's estimate of the table's rows (planner statistics: approximate), when it has one */
  estimated?: number;
  /** this run's rows read per second for the table, from its first rows to its last */
  rowsPerSec?: number;
}

/** What a source reports about itself while it runs: per-table progress, CDC lag. */
export interface SourceProgress {
  tables?: TableProgress[];
  /** this run's rows read per second over every table */
  rowsPerSec?: number;
  /** CDC: how far behind the server's end the committed position is */
  lag?: { bytes?: number; ms?: number };
  /** anything else worth a line in the status (slot name, binlog file...) */
  detail?: Record<string, string | number | boolean>;
}

export interface SourceInstance {
  kind: 'source';
  /** `position` is the last committed position, or undefined on a first run */
  open(position: unknown): Promise<void>;
  /** next batch, or null at the end of the input; may wait (CDC, polling) until ctx.signal aborts */
  read(): Promise<SourceBatch | null>;
  /**
   * Called after the runtime durably committed `position` (every batch up to it acknowledged by every
   * sink): the moment a CDC source may confirm it upstream (advance a replication slot, ack a broker).
   * It may be called while a read() is pending.
   */
  committed?(position: unknown): Promise<void> | void;
  /** cheap and synchronous: called for every status (every 500 ms by the server, every refresh by the CLI) */
  progress?(): SourceProgress | undefined;
  close(): Promise<void>;
}

/** Records emitted per output port name (`out`, `error`, ...). */
export type PortOutputs = Record<string, SluiceRecord[]>;

/** Nodes treat the records they are given as immutable: fan-out hands the same batch to several. */
export interface TransformInstance {
  kind: 'transform';
  /** `state` is what snapshot() returned at the last committed checkpoint, if the node keeps state */
  open(state: unknown): Promise<void>;
  process(records: SluiceRecord[], port: string): Promise<PortOutputs>;
  /** called once when every input has ended: emit what is still held */
  flush?(): Promise<PortOutputs>;
  /**
   * Called every `tickIntervalMs` between batches (never at the same time as process): lets a node
   * emit on time (window ends, emit-every-N-ms policies). `now` is the wall clock, ms.
   */
  tick?(now: number): Promise<PortOutputs>;
  tickIntervalMs?: number;
  /**
   * State to checkpoint together with the source positions (stateful nodes only). Taken at aligned
   * checkpoints, when nothing is in flight, so it always matches the committed positions.
   */
  snapshot?(): unknown;
  /**
   * A stateless transform (no tick, no snapshot) whose process() calls may overlap: up to this many
   * batches in flight at once (default 1), their outputs still emitted in input order. core.map uses
   * it so the next batch is in the sandbox while the last one is written.
   */
  concurrency?: number;
  close(): Promise<void>;
}

/** what a sink may answer for a batch: the records it refused for good, each with `meta.error` (they become dead letters) */
export interface SinkWriteResult {
  rejected?: SluiceRecord[];
}

export interface SinkInstance {
  kind: 'sink';
  open(): Promise<void>;
  /**
   * resolves once the batch is durably written (that is the acknowledgement); idempotent by key. A
   * record the target refused for good (not a transient failure, which should throw to be retried) may
   * be answered in `rejected`: the rest of the batch counts as written, the refused ones are dead-lettered.
   */
  write(records: SluiceRecord[]): Promise<void | SinkWriteResult>;
  close(): Promise<void>;
  /**
   * Test runs only (the sink is never opened then): what writing would first do to the target, found
   * read-only, e.g. `{ creates: 'table totals' }` for a table that does not exist yet. Never creates
   * or changes anything; a failure is ignored (the run's own checks report real problems).
   */
  previewTarget?(): Promise<SinkPreviewTarget | undefined>;
  /**
   * The conversion report of the tables this sink created (`schema: full` at the source,
   * nodes/shared/schema-full.ts): read after close, carried in the run summary's `reports`.
   */
  report?(): TableReport[];
  /**
   * Test runs only (the sink is never opened then): the conversion report that writing `records` (the
   * first record of each source table that reached it, with its declared schema) would give, planned
   * without creating or changing anything. `created` then says what would be created; what the target
   * itself would refuse is only known when the copy runs. Carried in the test run's `reports`.
   */
  previewReport?(records: SluiceRecord[]): Promise<TableReport[]>;
}

/** per created table: what was created, what was mapped lossy and why, what was left out and why */
export interface TableReport {
  /** the target table */
  table: string;
  /** the source table it was made from */
  source?: string;
  created: string[];
  lossy: string[];
  leftOut: string[];
}

/** what a sink's first write would do to its target before writing rows */
export interface SinkPreviewTarget {
  /** `table totals`: it does not exist and would be created */
  creates?: string;
}

export type NodeInstance = SourceInstance | TransformInstance | SinkInstance;

/**
 * A source's committed position in words, for the positions page and `sluice positions`, and back: what
 * a user types to set it. Kept apart from the node's implementation (no driver import), since the
 * server reads positions of flows it does not run.
 */
export interface PositionText {
  /** e.g. `LSN 0/16B3748`, `binlog mysql-bin.000003:1234`, `orders[0]=120, orders[1]=98` */
  describe(position: unknown): string;
  /** a position from the words `describe` gives (or a documented short form); throws an Error saying what is expected */
  parse?(text: string): unknown;
  /** < 0 when `a` comes before `b`, 0 when equal, > 0 after; undefined when they cannot be ordered */
  compare?(a: unknown, b: unknown): number | undefined;
  /** what `parse` accepts, for error messages and the editor's placeholder */
  example?: string;
  /** said with every rewind: what else keeps the source from reading again (a Kafka group's own offsets) */
  rewindCaveat?: string;
}

export interface NodeType<S extends z.ZodType = z.ZodType> {
  /** `family.name`, e.g. `core.map`: part of the public flow format, never renamed */
  type: string;
  category: Category;
  title: string;
  /** one line, shown in the palette and `sluice nodes` */
  description: string;
  /** a name from the editor's icon set */
  icon?: string;
  configSchema: S;
  /** every input port the type can have; see `inputsBy` when they depend on the config */
  inputs: PortSpec[];
  /**
   * The input ports when they depend on one config field (a mode with two inputs and a mode with one):
   * for each value of `field`, a subset of `inputs` with their own `required`. Declarative, so the editor
   * draws the same handles that validation checks edges against; a value not listed means `inputs`.
   */
  inputsBy?: InputsBy;
  outputs: PortSpec[];
  /** sources: their position in words and back (default: JSON) */
  position?: PositionText;
  /**
   * Whether a node with `config` keeps state across batches (checkpointed with the positions): records
   * cannot be replayed through it apart from the running flow (dead-letter replay refuses it).
   */
  stateful?: (config: z.output<S>) => boolean;
  /**
   * Sources: whether a node with `config` can read a lane's share of its input (settings.lanes > 1):
   * undefined when it can, otherwise why not (said in the validation error). Absent: it cannot.
   */
  lanes?: (config: z.output<S>) => string | undefined;
  create(ctx: NodeContext<z.output<S>>): NodeInstance | Promise<NodeInstance>;
}

/** Identity helper that keeps the config type flowing from the schema into `create`. */
export function defineNode<S extends z.ZodType>(def: NodeType<S>): NodeType<S> {
  return def;
}

export interface InputsBy {
  field: string;
  cases: Record<string, PortSpec[]>;
}

/** The input ports of a node of type `t` with `config` (parsed by its schema; undefined when it is invalid). */
export function inputsOf(t: { inputs: PortSpec[]; inputsBy?: InputsBy }, config: unknown): PortSpec[] {
  if (!t.inputsBy || config === null || typeof config !== 'object') return t.inputs;
  const value = (config as Record<string, unknown>)[t.inputsBy.field];
  return (typeof value === 'string' && Object.hasOwn(t.inputsBy.cases, value) ? t.inputsBy.cases[value] : undefined) ?? t.inputs;
}

export function isSourceType(t: NodeType): boolean {
  return t.inputs.length === 0;
}

export function isSinkType(t: NodeType): boolean {
  return t.outputs.length === 0;
}

/** What a connection test answers: what was reached, or what is wrong and how to fix it. */
export type ConnectionTestResult =
  | { ok: true; message: string; details?: Record<string, unknown> }
  | { ok: false; error: string; hint?: string };

/**
 * A kind of connection (an entry of a flow's `connections:` map, or a stored connection of the server):
 * its fields, and a test that connects and says whether it works (and whether CDC would).
 */
export interface ConnectorType {
  /** the entry's `type:`, e.g. `postgres` */
  type: string;
  /** other `type:` values accepted for it (`postgresql`, `mariadb`) */
  aliases?: string[];
  title: string;
  /** URL schemes that name it (`postgres`, `postgresql`): `sluice test-connection URL` picks the connector by them (none: no URL form) */
  schemes: string[];
  /** the entry's fields (file paths marked `.meta({ file })`, checked against the host's file policy); secret ones declared with `secret()` / `urlWithPassword()` (runtime/secrets.ts): write-only and encrypted in the server */
  entrySchema: z.ZodType;
  /** never throws for a connection problem: `ok: false` with the error and a hint */
  test(config: Record<string, unknown>, options: { files: FileAccess; timeoutMs?: number }): Promise<ConnectionTestResult>;
}
