/** Request input (body, query, params) checked with a zod schema per route; mistakes → 400 with details. */
import type { z } from 'zod';
import { badRequest } from './http-errors.js';

export function formatZodPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out;
}

function message(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) return 'required';
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** `what` names the input in the message: 'request body', 'query' */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.output<S> {
  // no body at all (none sent, or not JSON): let the schema say which fields are required
  if (what === 'request body' && input === undefined) input = {};
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: formatZodPath(i.path), message: message(i) }));
  const first = details[0];
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  throw badRequest(`invalid ${what}: ${first.path ? `${first.path}: ` : ''}${first.message}${more}`, details);
}
