/**
 * The one redaction of free text (error messages, log lines, test results): the password inside any
 * `scheme://user:password@host` URL becomes `***`, and values known to be secret (the server passes its
 * stored ones) are replaced wherever they appear. Pure: no Node built-ins, the editor may use it too.
 */

export const MASK = '***';

const isSchemeChar = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 46 || c === 45;
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff;
/** what ends the user name of `scheme://user:password@`: whitespace or one of `:@/?#` */
const endsUser = (c: number) => isSpace(c) || c === 58 || c === 64 || c === 47 || c === 63 || c === 35;
/** what cannot be inside a URL as written in a message: whitespace, quotes, angle brackets */
const endsUrl = (c: number) => isSpace(c) || c === 34 || c === 39 || c === 96 || c === 60 || c === 62;

/**
 * Where the password of the URL whose `://` is at `p` lies: `[start, end)`, or undefined when it has
 * none. It runs from the `:` after the user name to the LAST `@` before the URL ends (as URL parsers
 * read `u:p@ss@host`), and never past the next `://`, so scanning a whole text stays linear.
 */
function passwordSpan(text: string, p: number): [number, number] | undefined {
  const n = text.length;
  let u = p + 3;
  while (u < n && !endsUser(text.charCodeAt(u))) u++;
  if (u >= n || text.charCodeAt(u) !== 58) return undefined;
  let at = -1;
  for (let j = u + 1; j < n; j++) {
    const c = text.charCodeAt(j);
    if (endsUrl(c) || (c === 58 && text.startsWith('://', j))) break;
    if (c === 64) at = j;
  }
  return at < 0 ? undefined : [u + 1, at];
}

/** the span of the password of `url` when it starts with `scheme://` */
function leadingPasswordSpan(url: string): [number, number] | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  return m ? passwordSpan(url, m[0].length - 3) : undefined;
}

/** every `scheme://user:password@` in `text` with the password as `***` (linear time: no backtracking regex) */
function maskUrlPasswords(text: string): string {
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const p = text.indexOf('://', from);
    if (p < 0) break;
    from = p + 3;
    if (p === 0 || !isSchemeChar(text.charCodeAt(p - 1))) continue;
    const span = passwordSpan(text, p);
    if (!span) continue;
    out += text.slice(copied, span[0]) + MASK;
    copied = from = span[1];
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** `postgres://user:***@host/db` for `postgres://user:pw@host/db`; a URL without a password unchanged */
export function redactUrl(url: string): string {
  return maskUrlPasswords(url);
}

/** the raw (still encoded) password text of a `scheme://user:password@…` URL, if it has one */
export function rawUrlPassword(url: string): string | undefined {
  const span = leadingPasswordSpan(url);
  return span ? url.slice(span[0], span[1]) : undefined;
}

/** the password of a `scheme://user:password@…` URL (percent-decoded), if it has one */
export function urlPassword(url: string): string | undefined {
  const raw = rawUrlPassword(url);
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** the URL with its password replaced by `password` (as written: the caller encodes it); unchanged without one */
export function withUrlPassword(url: string, password: string): string {
  const span = leadingPasswordSpan(url);
  return span ? url.slice(0, span[0]) + password + url.slice(span[1]) : url;
}

/** shorter known values are not replaced: a 1–3 character "secret" would mangle every message */
const MIN_KNOWN = 4;

/** `text` with every URL password masked and every `known` secret value (and its URL-encoded form) replaced */
export function redactText(text: string, known: Iterable<string> = []): string {
  let out = maskUrlPasswords(text);
  const values = [...new Set([...known].filter((v) => v.length >= MIN_KNOWN))].sort((a, b) => b.length - a.length);
  for (const v of values) {
    out = out.split(v).join(MASK);
    const encoded = encodeURIComponent(v);
    if (encoded !== v) out = out.split(encoded).join(MASK);
  }
  return out;
}
