/**
 * Flow documents arriving over HTTP, as an object (JSON body) or as text (`{ text, format }` or a raw
 * YAML/JSON body), checked by the runtime's parser and validator. A document with errors → 400 naming
 * each problem (`nodes[enrich].config.keys[0]`), with the line when it came as text.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { hasErrors, parseFlowText, validateFlow, type ValidationResult } from '../runtime/host.js';
import { parseInput } from './body.js';
import type { AppContext } from './context.js';
import { badRequest, invalidFlow } from './http-errors.js';
import type { Doc } from './flow-format.js';

export const documentSchema = z.record(z.string(), z.unknown(), {
  error: 'must be a flow document: an object with apiVersion, name, nodes and edges',
});

const textSchema = z
  .object({
    text: z.string().describe('the flow document as YAML or JSON text'),
    format: z.enum(['yaml', 'json']).optional().describe('default: JSON when the text starts with { or [, else YAML'),
  })
  .strict();

export type FlowInput = { text: string; format?: 'yaml' | 'json' } | { document: Doc };

const isTextBody = (body: unknown) =>
  body !== null && typeof body === 'object' && !Array.isArray(body) && 'text' in body && !('apiVersion' in body);

/** a raw YAML/JSON text body, `{ text, format? }`, or a document object */
export function readFlowInput(req: Request): FlowInput {
  if (typeof req.body === 'string') return { text: req.body }; // YAML or JSON: told apart by the text
  if (isTextBody(req.body)) return parseInput(textSchema, req.body);
  return { document: parseInput(documentSchema, req.body) };
}

/** validation as the runtime does it; a text that does not parse gives its syntax error with the line */
export function validateInput(ctx: Pick<AppContext, 'registry' | 'env' | 'policy'>, input: FlowInput): ValidationResult & { raw?: Doc } {
  if ('document' in input) return { ...validateFlow(input.document, ctx.registry, { env: ctx.env, policy: ctx.policy }), raw: input.document };
  const parsed = parseFlowText(input.text, input.format ? `flow.${input.format}` : undefined);
  if (!parsed.ok) return { issues: parsed.issues };
  const raw = parsed.parsed.value;
  const result = validateFlow(raw, ctx.registry, { env: ctx.env, policy: ctx.policy, locate: parsed.parsed.locate });
  return { ...result, raw: raw as Doc };
}

/** the document as sent (env placeholders and defaults left as they are), or 400 with every problem */
export function requireValidDocument(ctx: AppContext, input: FlowInput, what = 'invalid flow'): Doc {
  const result = validateInput(ctx, input);
  if (hasErrors(result.issues) || !result.raw) throw invalidFlow(result.issues, what);
  // the name is the flow's id: it must be the same on every machine
  if (result.flow?.name !== result.raw.name) {
    throw badRequest(`${what}: name must be written out, not taken from the environment`, [{ path: 'name', message: 'must not use ${env:…}' }]);
  }
  return result.raw;
}
