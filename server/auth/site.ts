/**
 * Where the server is reached, and the checks that follow from it: the Host check of a server bound
 * to loopback (DNS rebinding) and the Origin check of state-changing requests and socket.io handshakes;
 * `--public-url` adds the name a reverse proxy serves it at.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';

/** 127.0.0.0/8, ::1, localhost */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** a Host header names a loopback name: localhost, *.localhost, 127.x.x.x, [::1] (with any port) */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.replace(/:\d*$/, '');
  return isLoopbackAddress(name) || name.toLowerCase().endsWith('.localhost');
}

export const REBINDING_MESSAGE = 'this server listens on loopback only: the Host header must be localhost or 127.0.0.1 (a name that resolves here is refused: DNS rebinding; behind a proxy, start it with --public-url)';

/** where the server is reached: what the Host and Origin checks accept */
export interface Site {
  /** true while the server listens on loopback only: then Host must be a loopback name or a public host */
  loopbackOnly(): boolean;
  /** host[:port] (lower case) of the public URLs a reverse proxy serves it at (`--public-url`) */
  publicHosts: ReadonlySet<string>;
  /** a public URL is https: the session cookie gets `Secure` */
  secureCookies: boolean;
}

export function siteOf(publicUrls: string[], loopbackOnly: () => boolean): Site {
  const urls = publicUrls.map((u) => new URL(u));
  return { loopbackOnly, publicHosts: new Set(urls.map((u) => u.host.toLowerCase())), secureCookies: urls.some((u) => u.protocol === 'https:') };
}

export const hostAllowed = (site: Site, host: string | undefined) =>
  !site.loopbackOnly() || isLoopbackHost(host) || (host !== undefined && site.publicHosts.has(host.toLowerCase()));

/** refuses a request whose Host is not a loopback name (or a public URL's) while bound to loopback */
export function hostCheck(site: Site): RequestHandler {
  return (req, res, next) => {
    if (hostAllowed(site, req.headers.host)) return next();
    res.status(421).type('text/plain').send(`${REBINDING_MESSAGE}\n`);
  };
}

/** undefined when the request's Origin (if any) is this server's own (its Host, or a public URL); else why not */
export function foreignOrigin(headers: IncomingHttpHeaders, site: Site): string | undefined {
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return `Origin ${origin} is not a URL`;
  }
  return host === (headers.host ?? '').toLowerCase() || site.publicHosts.has(host) ? undefined : `cross-site request from ${origin} refused`;
}
