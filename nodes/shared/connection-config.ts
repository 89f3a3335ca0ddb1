/**
 * The config fields every database node shares: `connection` (a name from the flow's `connections:`
 * map) or `url`, and `tls`. Each family (postgres, mysql, mongodb) makes its own with its scheme and
 * example URL, so messages and the editor's help speak of that database.
 */
import { z } from 'zod';
import { secret, urlWithPassword } from '../../runtime/index.js';

export const tlsSchema = z
  .object({
    ca: z.string().min(1).optional().describe('CA certificate(s) to trust: a PEM file path (relative to the working directory) or the PEM text'),
    cert: z.string().min(1).optional().describe('client certificate for mutual TLS: a PEM file path or the PEM text'),
    key: secret(z.string().min(1).optional().describe('private key of the client certificate: a PEM file path or the PEM text')),
    passphrase: secret(z.string().min(1).optional().describe('passphrase of an encrypted private key (`key`)')),
    rejectUnauthorized: z.boolean().default(true).describe('refuse a server whose certificate is not signed by a trusted CA (false only for testing)'),
    servername: z.string().min(1).optional().describe('host name to check the server certificate against, when it differs from the host connected to'),
  })
  .strict()
  .describe('connect over TLS; an empty object {} uses the system CAs');

export type TlsConfig = z.output<typeof tlsSchema>;

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
      .optional()
      .describe(`name of a connection in the flow's \`connections:\` map (type ${type}): keeps hosts and passwords out of the flow`),
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
