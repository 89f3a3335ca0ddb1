/** Request input (body, query, params) checked with a zod schema per route; mistakes → 400 with details. */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { checkShape, LIMITS, shapePath, shortKey, zodMessage } from '../runtime/host.js';
import { badRequest } from './http-errors.js';

export function formatZodPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${shortKey(String(seg))}` : shortKey(String(seg));
  return out;
}

/**
 * Every JSON body, before any route sees it: plain bounded data (depth, prototype keys, string length,
 * see runtime/flow/limits.ts), or 400 naming where it is not. Text bodies are checked when parsed.
 */
export const checkBodyShape: RequestHandler = (req, _res, next) => {
  if (req.body === null || typeof req.body !== 'object') return next();
  const problem = checkShape(req.body);
  if (!problem) return next();
  const path = shapePath(problem.path);
  next(badRequest(`invalid request body: ${path ? `${path}: ` : ''}${problem.message}`, [{ path, message: problem.message }]));
};

/** body size limit of express's parsers, the same as for flow texts */
export const BODY_LIMIT = LIMITS.textBytes;

/** `what` names the input in the message: 'request body', 'query' */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.output<S> {
  // no body at all (none sent, or not JSON): let the schema say which fields are required
  if (what === 'request body' && input === undefined) input = {};
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: formatZodPath(i.path), message: zodMessage(i) }));
  const first = details[0];
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  throw badRequest(`invalid ${what}: ${first.path ? `${first.path}: ` : ''}${first.message}${more}`, details);
}
