/**
 * The config fields every database node shares: `connection` (a name from the flow's `connections:`
 * map) or `url`, and `tls`. Each family (postgres, mysql, mongodb) makes its own with its scheme and
 * example URL, so messages and the editor's help speak of that database.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONNECTION_MARK, ConfigError, errorMessage, fileMark, secret, urlWithPassword, type FileAccess } from '../../runtime/index.js';

export const tlsSchema = z
  .object({
    ca: z.string().min(1).optional().describe('CA certificate(s) to trust: a PEM file path (relative to the working directory; in the server, inside its file roots) or the PEM text').meta(fileMark('pem')),
    cert: z.string().min(1).optional().describe('client certificate for mutual TLS: a PEM file path or the PEM text').meta(fileMark('pem')),
    key: secret(z.string().min(1).optional().describe('private key of the client certificate: a PEM file path or the PEM text').meta(fileMark('pem'))),
    passphrase: secret(z.string().min(1).optional().describe('passphrase of an encrypted private key (`key`)')),
    rejectUnauthorized: z.boolean().default(true).describe('refuse a server whose certificate is not signed by a trusted CA (false only for testing)'),
    servername: z.string().min(1).optional().describe('host name to check the server certificate against, when it differs from the host connected to'),
  })
  .strict()
  .describe('connect over TLS; an empty object {} uses the system CAs');

export type TlsConfig = z.output<typeof tlsSchema>;

/** a `tls.ca` / `cert` / `key` value: the PEM text itself, or a file read through the host's file policy */
export function readPem(files: FileAccess, nodeId: string, field: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.includes('-----BEGIN')) return v;
  const path = files.resolve(field, v);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(nodeId, field, `cannot read ${v}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** a connection entry's `url` field: `example` is the family's URL; its password is a declared secret */
export function entryUrlField(example: string) {
  return urlWithPassword(z.string().min(1).optional().describe(`${example}; or the fields below`));
}

/** a connection entry's `password` field: a declared secret */
export const passwordField = secret(z.string().optional().describe('password'));

/**
 * `connection`, `url` and `tls` for a family: `type` as in a connection entry (`postgres`), `urlExample`
 * a full URL with a password placeholder (`postgres://user:password@host:5432/database`).
 */
export function connectionFieldsFor(type: string, urlExample: string) {
  return {
    connection: z
      .string()
      .min(1)
      .describe(`name of a connection in the flow's \`connections:\` map (type ${type}): keeps hosts and passwords out of the flow`)
      .meta(CONNECTION_MARK)
      .optional(),
    url: urlWithPassword(z.string().min(1).optional().describe(`${urlExample} (use \${env:NAME} for secrets); instead of \`connection\``)),
    tls: tlsSchema.optional(),
  };
}

/** a zod refinement: exactly one of `connection` and `url` (`shortUrl` is the example the message gives) */
export function oneConnectionFor(shortUrl: string) {
  return (c: { connection?: string; url?: string }, ctx: z.RefinementCtx): void => {
    if (c.connection === undefined && c.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['connection'], message: `set \`connection\` (a name from the flow's connections) or \`url\` (${shortUrl})` });
    } else if (c.connection !== undefined && c.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'set either `connection` or `url`, not both' });
    }
  };
}
