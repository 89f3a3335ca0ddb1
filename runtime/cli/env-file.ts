/**
 * `--env-file FILE` of `sluice run`: KEY=VALUE lines as dotenv writes them. `#` starts a comment (a whole
 * line, or after a space in an unquoted value); `export KEY=…` is accepted; values in single quotes are
 * taken as written, in double quotes with `\n`, `\"` and `\\` read as escapes. A line that is none of
 * these is an error naming the file and line.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

export function parseEnvFile(text: string, file = 'env file'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#.*)?$/.test(line)) return;
    const m = LINE.exec(line);
    if (!m) throw new UserError(`${file}:${i + 1}: not a KEY=VALUE line (names are letters, digits and _, not starting with a digit)`);
    const [, key, rest] = m;
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      const end = quote === "'" ? rest.indexOf("'", 1) : closingDoubleQuote(rest);
      if (end < 0) throw new UserError(`${file}:${i + 1}: ${key}: the ${quote} quote is not closed`);
      const after = rest.slice(end + 1).trim();
      if (after !== '' && !after.startsWith('#')) throw new UserError(`${file}:${i + 1}: ${key}: text after the closing quote`);
      const inner = rest.slice(1, end);
      out[key] = quote === "'" ? inner : inner.replace(/\\([\\"nrt])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
    } else {
      out[key] = rest.replace(/\s+#.*$/, '');
    }
  });
  return out;
}

function closingDoubleQuote(s: string): number {
  for (let j = 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '"') return j;
  }
  return -1;
}

export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`--env-file ${path}: cannot read it: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`);
  }
  return parseEnvFile(text, path);
}
