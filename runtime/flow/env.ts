/**
 * `${env:NAME}` placeholders in any string of a flow, resolved when the flow is compiled, so an
 * exported flow never holds a secret or a machine's path. `${env:NAME:-default}` gives a default.
 * A string that is exactly one placeholder takes the type the value reads as (`"${env:N}"` with
 * N=500 is the number 500), so numeric and boolean fields can come from the environment too.
 */
import { parse as parseYamlScalar } from 'yaml';

const PLACEHOLDER = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

export interface EnvProblem {
  path: (string | number)[];
  name: string;
}

export function resolveEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  problems: EnvProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) {
      const text = env[whole[1]] ?? whole[2];
      if (text === undefined) {
        problems.push({ path, name: whole[1] });
        return value;
      }
      return readScalar(text);
    }
    return value.replace(PLACEHOLDER, (match, name: string, fallback: string | undefined) => {
      const text = env[name] ?? fallback;
      if (text === undefined) {
        problems.push({ path, name });
        return match;
      }
      return text;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function readScalar(text: string): unknown {
  if (text.trim() === '') return text;
  try {
    const v: unknown = parseYamlScalar(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}
