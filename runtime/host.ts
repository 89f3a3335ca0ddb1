/**
 * The runtime's public API for hosts: the server (server/) and the `sluice` command (bin/sluice.js).
 * Node types have theirs in index.ts. A host reaches the runtime only through this module (the
 * boundaries test checks server/), so the runtime's files can move without touching the hosts.
 */

// the command line and the node catalog it is handed
export { main } from './cli/main.js';
export { NodeRegistry } from './registry.js';
export type { NodeTypeInfo, ConnectorInfo } from './registry.js';
export type { ConnectionTestResult, LogFields, Logger } from './node-api.js';
export { jsonLog, fdDestination, type Writable } from './log/json-log.js';

// flow documents: parse, validate, compile, limits on what a client may send
export { parseFlowText, jsonSyntaxMessage } from './flow/parse.js';
export { validateFlow, hasErrors, formatPath, zodMessage, type ValidationResult } from './flow/validate.js';
export { compileFlow, type CompiledFlow } from './flow/compile.js';
export { boundedName, flowNameSchema, flowSettingsJsonSchema } from './flow/schema.js';
export { LIMITS, checkShape, quoteShort, shapePath, shortKey } from './flow/limits.js';
export { markedFields } from './flow/schema-marks.js';
export { inlineSecrets } from './flow/inline-secrets.js';
export { DEFAULT_ENV_PREFIX, envRefusal, onlyPlaceholders, placeholderNames, type EnvPolicy } from './flow/env.js';

// errors a host maps to its own answers (HTTP status, exit code)
export { FlowValidationError, UserError, errorMessage, formatIssue, type FlowIssue } from './errors.js';

// what a host allows a flow: file roots and environment variables
export type { HostPolicy } from './host-policy.js';
export { FileRoots, fileAccess, realPathOf, unconfinedFiles, type FilePolicy } from './files.js';

// secrets in configs and messages
export { MASK, rawUrlPassword, redactText, redactUrl, withUrlPassword } from './redact.js';
export { getPath, isPlainObject, secretFieldsOf, secretValues, secretVariableName, setPath, type SecretFields, type SecretOwner } from './secrets.js';

// running flows: deployments, test runs, their state
export { RunMetrics, type FlowSnapshot } from './metrics/run-metrics.js';
export { serveMetrics } from './cli/metrics-endpoint.js';
export { startHookServer, type HookAuthenticator, type HookKeyCheck } from './cli/hooks.js';
export { DeploymentManager, DeploymentStateError, type Deployments, type DeploymentStatus } from './deploy/manager.js';
export { Preview, type PreviewBatch, type PreviewResult } from './deploy/preview.js';
export type { LogLevel } from './deploy/log-ring.js';
export { SqliteCheckpointStore } from './state/sqlite-checkpoint-store.js';
// a checkpoint store from a URL or a SQLite path (pg is loaded only for a URL)
export { isPostgresLocation, openCheckpointStore, withoutSchemaParam } from './state/open-checkpoint-store.js';

// the checkpoint store's interface (the PostgreSQL stores are in host-postgres.ts, loaded only when used)
export { FencedOffError, type Checkpoint, type CheckpointStore, type DeadLetter, type DeadLetterFilter, type StoredDeadLetter } from './state/checkpoint-store.js';
export { replayDeadLetters, type ReplayResult } from './deploy/replay.js';
export { ScheduledFlow, type ScheduleView, type ScheduledRun } from './deploy/schedule.js';
export { changeNote, planPositionChange, positionsView, type PositionChangeRequest, type PositionNode, type PositionsView } from './state/position-change.js';

// flow tests (FLOW.tests.yaml): record a preview as a test, replay it, compare the sinks' output
export { checkAgainstFlow, formatTestFile, parseTestFile, recordTest, runTest, testsFileOf, MAX_TEST_RECORDS, type Difference, type FlowTest, type TestFile, type TestResult } from './testing/flow-tests.js';
