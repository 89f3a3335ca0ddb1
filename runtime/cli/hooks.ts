/**
 * The webhook endpoint outside the server: `POST /hooks/FLOW/NODE` for the http.source nodes of
 * `sluice run --hooks-port N` and of `sluice agent --hooks-port N`. A headless run has no user store, so
 * no API keys: the node takes only requests signed with its connection's hmacSecret (it refuses to open
 * without one). An agent has the cluster's store: its host hands in the API-key check (`authenticate`;
 * the runtime knows no users), and a request with an Authorization header gets in only through it, as at
 * the server's own route. The node's answer (202, 400, 401, 429, 503) is sent as it is; this module
 * routes, checks the key, limits the body and says what is not found.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EndpointRegistry } from '../deploy/endpoints.js';
import { LIMITS } from '../flow/limits.js';
import { errorMessage } from '../errors.js';
import type { EndpointRequest } from '../node-api.js';

/** what the host's key check says of a request's Authorization header: who it is, or the refusal to send */
export type HookKeyCheck = { principal: NonNullable<EndpointRequest['principal']> } | { status: 401 | 403; error: string };

/** the host's API-key check (the server's, over its user store): the runtime itself knows no users */
export type HookAuthenticator = (authorization: string) => Promise<HookKeyCheck>;

/** endpoints that take API keys, with the check that lets them in: one never goes without the other */
export interface KeyedEndpoints {
  endpoints: EndpointRegistry;
  authenticate: HookAuthenticator;
}

export interface HookServer {
  /** where the endpoints are served, `http://host:port` */
  url: string;
  readonly endpoints: EndpointRegistry;
  close(): Promise<void>;
}

/** the endpoints of a headless run: the node authenticates by signature, there are no API keys */
class HeadlessEndpoints extends EndpointRegistry {
  readonly apiKeys = false;
}

/**
 * `keyed`: the endpoints to serve and the API-key check for them (an agent's); without it, a headless
 * run's endpoints, signed requests only (an Authorization header is then the node's to ignore)
 */
export async function startHookServer(port: number, host: string, keyed?: KeyedEndpoints): Promise<HookServer> {
  const endpoints = keyed?.endpoints ?? new HeadlessEndpoints();
  const server = createServer((req, res) => void serve(endpoints, keyed?.authenticate, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    endpoints,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function serve(endpoints: EndpointRegistry, authenticate: HookAuthenticator | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?')[0];
    const m = /^\/hooks\/([^/]+)\/([^/]+)\/?$/.exec(path);
    if (!m) return send(res, 404, { error: `nothing at ${path.slice(0, 200)}: webhooks are at POST /hooks/FLOW/NODE` });
    if (req.method !== 'POST') return send(res, 405, { error: `${req.method} ${path}: a webhook takes POST` }, { allow: 'POST' });
    let flow: string;
    let node: string;
    try {
      [flow, node] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
    } catch {
      return send(res, 400, { error: `${path.slice(0, 200)}: the flow or node name is not valid percent-encoding` });
    }
    // the key first, as at the server's route; the principal comes from this check alone, never from a
    // header (whoever forwarded the request, the server included, vouches for nothing)
    let principal: EndpointRequest['principal'];
    if (authenticate && req.headers.authorization !== undefined) {
      const who = await authenticate(req.headers.authorization);
      if (!('principal' in who)) return send(res, who.status, { error: who.error });
      principal = who.principal;
    }
    const handler = endpoints.handler(flow, node);
    if (!handler) return send(res, 404, { error: `this run has no flow ${JSON.stringify(flow)} with an http.source node ${JSON.stringify(node)}` });
    const body = await readBody(req, LIMITS.textBytes);
    if (!body) return send(res, 413, { error: `the body is larger than ${LIMITS.textBytes / 1024 / 1024} MB` }, { connection: 'close' });
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const answer = await handler({ body, headers, principal });
    send(res, answer.status, answer.body, answer.headers);
  } catch (err) {
    if (!res.headersSent) send(res, 500, { error: `the webhook failed: ${errorMessage(err)}` });
    else res.destroy();
  }
}

/** the body, or undefined once it grows past `limit` (the rest is not read) */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        return resolve(undefined);
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
