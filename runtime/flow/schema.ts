/**
 * The flow document (apiVersion sluice/v1). Pure: no Node built-ins, so the editor can import it.
 * Node configs are validated later, each by its node type's own schema (see validate.ts).
 */
import { z } from 'zod';
import { LIMITS } from './limits.js';

export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const FLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** a name or id that becomes a key or a URL segment: bounded, so it always fits a URL and a log line */
export const boundedName = () => z.string().min(1).max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`);
/** a flow or connection name: the flow's id in URLs and the store */
export const flowNameSchema = boundedName().regex(FLOW_NAME, 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"');

export const settingsSchema = z
  .object({
    batchSize: z.number().int().min(1).max(100_000).default(1000).describe('records per batch'),
    onError: z
      .enum(['dead-letter', 'stop'])
      .default('dead-letter')
      .describe('what happens to a record that fails in a node without a wired error port'),
    queueSize: z.number().int().min(1).max(1000).default(4).describe('batches waiting at each node (backpressure)'),
    sandbox: z
      .object({
        memoryLimitMb: z
          .number()
          .int()
          .min(8, 'must be at least 8 (the smallest heap isolated-vm accepts)')
          .max(1024, 'must be at most 1024')
          .default(64)
          .describe('heap limit of each user function\'s isolate, MB (8–1024)'),
        timeoutMs: z.number().int().min(1).max(600_000).default(1000),
        maxOutputMb: z
          .number()
          .int()
          .min(1)
          .max(1024)
          .default(64)
          .describe('cap on the JSON of one batch\'s results of a user function, MB: records past it go to errors'),
        parallelism: z
          .number()
          .int()
          .min(1)
          .max(16)
          .default(1)
          .describe(
            'batches of each map or filter in the sandbox at once, each in its own worker process (at most the pool\'s size, the machine\'s cores); results keep their input order and positions are committed as with 1',
          ),
      })
      .strict()
      .prefault({}),
    lanes: z
      .number()
      .int()
      .min(1, 'must be at least 1')
      .max(16, 'must be at most 16')
      .default(1)
      .describe(
        'sluice run: lane processes that each read a share of every source\'s rows (postgres.source snapshot) and run the flow on it, with their own committed positions; flows with stateful nodes (aggregate, nest) cannot use lanes yet. 1: one process',
      ),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(100).default(5),
        backoffMs: z.number().int().min(0).default(200),
        maxBackoffMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .prefault({})
      .describe('failed sink writes are retried with exponential backoff before the flow fails'),
    stopTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('on stop, how long batches in flight may take to finish before they are abandoned'),
    checkpointIntervalMs: z
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .default(1000)
      .describe(
        'flows with stateful nodes (aggregate, denormalize): how often node state is checkpointed with the positions, ms. ' +
          'Stretched automatically so checkpointing takes at most a tenth of the time when the state is large; ' +
          'a longer interval means more records re-read after a crash, never a lost or double-counted one',
      ),
    schedule: z
      .object({
        cron: z.string().min(1).max(200).describe('when a run starts: five fields (minute hour day month weekday) or six (seconds first), e.g. "0 * * * *" every hour'),
        timezone: z.string().min(1).max(100).optional().describe('IANA time zone the cron fields are read in, e.g. "Europe/Paris" (default: the server\'s)'),
        from: z
          .enum(['start', 'committed'])
          .default('start')
          .describe('where each run reads: start — every source from its beginning (a full copy each time); committed — on from where the last run ended (new lines of a file, new rows)'),
      })
      .strict()
      .optional()
      .describe('deployed flows whose sources end (snapshots, files, SQLite, generate) run on this schedule instead of once; a run still going when the next is due is skipped'),
    weight: z
      .number()
      .positive()
      .max(1000)
      .optional()
      .describe('cluster mode: how heavy the flow is compared with others (1 by default), for spreading flows evenly over the agents'),
  })
  .strict();

export type FlowSettings = z.output<typeof settingsSchema>;

/** the settings as JSON Schema (what is typed in), for the editor's settings form */
export const flowSettingsJsonSchema = () => z.toJSONSchema(settingsSchema, { io: 'input', unrepresentable: 'any' });

export const nodeSchema = z
  .object({
    id: boundedName().regex(NODE_ID, 'must start with a letter or _ and hold only letters, digits, _ and -'),
    type: boundedName(),
    name: z.string().max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`).optional().describe('a label for people; the id is what edges use'),
    description: z.string().optional(),
    config: z.record(z.string(), z.unknown()).default({}),
    position: z.object({ x: z.number(), y: z.number() }).optional(),
  })
  .strict();

export const edgeSchema = z
  .object({
    from: boundedName(),
    to: boundedName(),
    fromPort: boundedName().optional(),
    toPort: boundedName().optional(),
  })
  .strict();

export const connectionRefSchema = z.object({ type: boundedName() }).catchall(z.unknown());

export const flowSchema = z
  .object({
    apiVersion: z.literal('sluice/v1', { error: 'must be "sluice/v1"' }),
    name: flowNameSchema,
    version: z.number().int().min(0).optional(),
    description: z.string().optional(),
    settings: settingsSchema.prefault({}),
    connections: z.record(boundedName(), connectionRefSchema).optional(),
    nodes: z.array(nodeSchema).min(1, 'a flow needs at least one node').max(LIMITS.nodes, `at most ${LIMITS.nodes} nodes`),
    edges: z.array(edgeSchema).max(LIMITS.edges, `at most ${LIMITS.edges} edges`).default([]),
  })
  .strict();

export type FlowDocument = z.output<typeof flowSchema>;
export type FlowNode = z.output<typeof nodeSchema>;
export type FlowEdge = z.output<typeof edgeSchema>;
export type FlowDocumentInput = z.input<typeof flowSchema>;

export const DEFAULT_OUT = 'out';
export const DEFAULT_IN = 'in';
export const ERROR_PORT = 'error';
