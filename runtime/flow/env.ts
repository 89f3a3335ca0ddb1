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
  /** why it was not resolved, when it is not simply unset */
  message?: string;
}

/**
 * Which names a host lets flows read (the server: `SLUICE_FLOW_*` and `--env-allow` names). A host
 * with a policy also refuses every placeholder inside code fields: user code never sees the host's
 * environment. No policy (the CLI by default): every name, anywhere.
 */
export interface EnvPolicy {
  /** names starting with one of these resolve */
  prefixes: string[];
  /** and these names */
  allow: string[];
}

export const DEFAULT_ENV_PREFIX = 'SLUICE_FLOW_';

/** why `name` may not be read under `policy`, or undefined when it may */
export function envRefusal(policy: EnvPolicy, name: string): string | undefined {
  if (policy.allow.includes(name) || policy.prefixes.some((p) => p !== '' && name.startsWith(p))) return undefined;
  const prefixes = policy.prefixes.filter(Boolean);
  const rule = prefixes.length ? `only names starting with ${prefixes.join(' or ')} and names allowed with --env-allow` : 'only names allowed with --env-allow';
  return `environment variable ${name} is not allowed here: ${rule} resolve (rename it, or start the host with --env-allow ${name})`;
}

/** a refusal message for the placeholder of `name` at `path`, or undefined to resolve it */
export type EnvGate = (name: string, path: (string | number)[]) => string | undefined;

export function resolveEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  problems: EnvProblem[],
  path: (string | number)[] = [],
  gate?: EnvGate,
): unknown {
  if (typeof value === 'string') {
    const refused = (name: string) => {
      const message = gate?.(name, path);
      if (message) problems.push({ path, name, message });
      return message !== undefined;
    };
    const whole = WHOLE.exec(value);
    if (whole) {
      if (refused(whole[1])) return value;
      const text = env[whole[1]] ?? whole[2];
      if (text === undefined) {
        problems.push({ path, name: whole[1] });
        return value;
      }
      return readScalar(text);
    }
    return value.replace(PLACEHOLDER, (match, name: string, fallback: string | undefined) => {
      if (refused(name)) return match;
      const text = env[name] ?? fallback;
      if (text === undefined) {
        problems.push({ path, name });
        return match;
      }
      return text;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, problems, [...path, i], gate));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnv(v, env, problems, [...path, k], gate);
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
