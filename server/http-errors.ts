/**
 * HTTP errors and the one place they become responses: a user mistake is a 4xx with `{ error, details? }`
 * that says what and where; anything else is a 500 with a generic message, its stack only in the log.
 */
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DeploymentStateError, type FlowIssue, FlowValidationError, jsonSyntaxMessage, redactText, UserError } from '../runtime/host.js';
import { DuplicateError, StaleVersionError } from './store/control-store.js';
import type { ServerLog } from './log.js';

export interface Detail {
  path: string;
  message: string;
  [more: string]: unknown;
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

export const badRequest = (message: string, details?: Detail[]) => new HttpError(400, message, details ? { details } : {});
export const forbidden = (message: string, extra: Record<string, unknown> = {}) => new HttpError(403, message, extra);
export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string, extra: Record<string, unknown> = {}) => new HttpError(409, message, extra);

/** a flow document with errors → 400 naming each problem where it is */
export function invalidFlow(issues: FlowIssue[], what = 'invalid flow'): HttpError {
  const errors = issues.filter((i) => i.severity === 'error');
  const first = errors[0];
  const message = first ? `${what}: ${first.path ? `${first.path}: ` : ''}${first.message}${first.line ? ` (line ${first.line})` : ''}` : what;
  return badRequest(errors.length > 1 ? `${message} (and ${errors.length - 1} more)` : message, issues.map(issueDetail));
}

function issueDetail(i: FlowIssue): Detail {
  const d: Detail = { path: i.path, message: i.message, severity: i.severity };
  if (i.nodeId) d.nodeId = i.nodeId;
  if (i.line) d.line = i.line;
  return d;
}

/** unknown /api routes */
export const apiNotFound: RequestHandler = (req, _res, next) => next(notFound(`no route ${req.method} ${req.originalUrl.split('?')[0]}`));

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

export function errorHandler(log: ServerLog, redact: (text: string) => string = redactText): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const [status, body] = toResponse(err);
    // secrets out, then one line, whatever a library put in its message
    if (typeof body.error === 'string') body.error = redact(body.error).replace(/\s*[\r\n]+\s*/g, ' ');
    if (status >= 500) log.error(`${req.method} ${req.originalUrl}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    res.status(status).json(body);
  };
}

function toResponse(err: unknown): [number, Record<string, unknown>] {
  if (err instanceof HttpError) return [err.status, { error: err.message, ...err.extra }];
  if (err instanceof FlowValidationError) return [400, { error: invalidFlow(err.issues).message, details: err.issues.map(issueDetail) }];
  if (err instanceof StaleVersionError) return [409, { error: err.message, current: err.current }];
  if (err instanceof DuplicateError) return [409, err.current === undefined ? { error: err.message } : { error: err.message, current: err.current }];
  if (err instanceof DeploymentStateError) return [409, { error: err.message }];
  if (err instanceof UserError) return [400, err.hint ? { error: err.message, hint: err.hint } : { error: err.message }];
  const e = err as BodyParserError;
  if (e?.type === 'entity.parse.failed') return [400, { error: `request body is not valid JSON: ${jsonSyntaxMessage(e.message)}` }];
  if (e?.type === 'entity.too.large') return [413, { error: `request body is too large: ${e.message}` }];
  if (e?.expose && typeof e.status === 'number' && e.status >= 400 && e.status < 500) return [e.status, { error: e.message }];
  return [500, { error: 'internal error: the server log has the details' }];
}

/**
 * A request Node refuses before express sees it (a URL or headers over 16 KB, a malformed request line)
 * gets the same kind of answer as any other mistake: a 4xx with `{ error }`, not a bare status line.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: tooLarge ? 'the URL or the headers are too large (16 KB at most): names and ids in URLs are at most 128 characters' : 'malformed HTTP request',
  });
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
