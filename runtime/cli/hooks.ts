/**
 * The webhook endpoint of `sluice run --hooks-port N`: `POST /hooks/FLOW/NODE` for the flow's http.source
 * nodes, without the server. There is no user store here, so no API keys: the node takes only requests
 * signed with its connection's hmacSecret (it refuses to open without one). The node's answer (202, 400,
 * 401, 429, 503) is sent as it is; this module only routes, limits the body and says what is not found.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EndpointRegistry } from '../deploy/endpoints.js';
import { LIMITS } from '../flow/limits.js';
import { errorMessage } from '../errors.js';

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

/** `endpoints`: whose http.source nodes are served (default: a headless run's, signed requests only) */
export async function startHookServer(port: number, host: string, endpoints: EndpointRegistry = new HeadlessEndpoints()): Promise<HookServer> {
  const server = createServer((req, res) => void serve(endpoints, req, res));
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

async function serve(endpoints: EndpointRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    const handler = endpoints.handler(flow, node);
    if (!handler) return send(res, 404, { error: `this run has no flow ${JSON.stringify(flow)} with an http.source node ${JSON.stringify(node)}` });
    const body = await readBody(req, LIMITS.textBytes);
    if (!body) return send(res, 413, { error: `the body is larger than ${LIMITS.textBytes / 1024 / 1024} MB` }, { connection: 'close' });
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const answer = await handler({ body, headers });
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
