/** The runtime's public API for node types. Node modules import from here and nowhere else in runtime/. */
export { defineNode, isSinkType, isSourceType } from './node-api.js';
export type {
  Category,
  ConnectionTestResult,
  ConnectorType,
  EndpointAnswer,
  EndpointHandler,
  EndpointHost,
  EndpointRequest,
  Logger,
  NodeContext,
  NodeInstance,
  NodeType,
  PortOutputs,
  PortSpec,
  PositionText,
  SourceProgress,
  TableProgress,
  SinkInstance,
  SinkWriteResult,
  SinkPreviewTarget,
  TableReport,
  SourceBatch,
  SourceInstance,
  TransformInstance,
} from './node-api.js';
export type { Op, RecordMeta, SluiceRecord, Value, ValueMaker } from './records.js';
export { OPS, rowOf, valueMaker } from './records.js';
export { ConfigError, NodeError, UserError, errorMessage } from './errors.js';
export { secret, urlWithPassword, secretFieldsOf, type SecretFields } from './secrets.js';
export { redactText, redactUrl } from './redact.js';
export type { BatchResults, CallResult, UserFunction } from './sandbox/sandbox.js';
export { shutdownSandbox } from './sandbox/sandbox.js';
export { sleep } from './executor/queue.js';
export { ERROR_PORT } from './flow/schema.js';
export type { FileAccess } from './host-policy.js';
export { fileAccess, unconfinedFiles } from './files.js';
export { CODE_MARK, CONNECTION_MARK, fileMark } from './flow/schema-marks.js';
/** the catalog of node types (nodes/catalog.ts fills one) */
export { NodeRegistry } from './registry.js';
export { ui, ADVANCED, type UiHint, type UiWidget } from './flow/ui-hints.js';
