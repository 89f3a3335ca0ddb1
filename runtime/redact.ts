/**
 * The one redaction of free text (error messages, log lines, test results): the password inside any
 * `scheme://user:password@host` URL becomes `***`, and values known to be secret (the server passes its
 * stored ones) are replaced wherever they appear. Pure: no Node built-ins, the editor may use it too.
 */

/** `scheme://user:` then the password up to the `@` that ends the credentials */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)[^\s@]*@/gi;

export const MASK = '***';

/** `postgres://user:***@host/db` for `postgres://user:pw@host/db`; a URL without a password unchanged */
export function redactUrl(url: string): string {
  return url.replace(URL_PASSWORD, `$1${MASK}@`);
}

/** the password of a `scheme://user:password@…` URL (percent-decoded), if it has one */
export function urlPassword(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:([^\s@]*)@/i.exec(url);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** the URL with its password replaced by `password` (as written: the caller encodes it) */
export function withUrlPassword(url: string, password: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)[^\s@]*@/i, (_m, head: string) => `${head}${password}@`);
}

/** the raw (still encoded) password text of a URL, as it stands between `:` and `@` */
export function rawUrlPassword(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:([^\s@]*)@/i.exec(url)?.[1];
}

/** shorter known values are not replaced: a 1–3 character "secret" would mangle every message */
const MIN_KNOWN = 4;

/** `text` with every URL password masked and every `known` secret value (and its URL-encoded form) replaced */
export function redactText(text: string, known: Iterable<string> = []): string {
  let out = text.replace(URL_PASSWORD, `$1${MASK}@`);
  const values = [...new Set([...known].filter((v) => v.length >= MIN_KNOWN))].sort((a, b) => b.length - a.length);
  for (const v of values) {
    out = out.split(v).join(MASK);
    const encoded = encodeURIComponent(v);
    if (encoded !== v) out = out.split(encoded).join(MASK);
  }
  return out;
}
