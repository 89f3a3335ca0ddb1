/**
 * Every `${env:NAME}` a flow file needs that is not set (and has no `:-default`), with the places that
 * need it, so `sluice run` names them all at once: `connections.shop.password` reads as connection shop,
 * field password.
 */
import { parseFlowText } from '../flow/parse.js';
import { resolveEnv, type EnvProblem } from '../flow/env.js';

export interface MissingVariable {
  name: string;
  /** where it is used: `connection shop, field password`, `nodes[2].config.path` */
  usedAt: string[];
}

const where = (path: (string | number)[]): string => {
  if (path[0] === 'connections' && path.length >= 3) return `connection ${path[1]}, field ${path.slice(2).join('.')}`;
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
};

/** the unset variables of a flow text (none when it does not parse: the run reports that instead) */
export function missingVariables(text: string, env: Record<string, string | undefined>, fileName?: string): MissingVariable[] {
  const parsed = parseFlowText(text, fileName);
  if (!parsed.ok) return [];
  const problems: EnvProblem[] = [];
  resolveEnv(parsed.parsed.value, env, problems);
  const byName = new Map<string, string[]>();
  for (const p of problems) if (!p.message) byName.set(p.name, [...(byName.get(p.name) ?? []), where(p.path)]);
  return [...byName].map(([name, usedAt]) => ({ name, usedAt }));
}

/** the report, one line: how many, then each variable with where it is used */
export function missingVariablesReport(file: string, missing: MissingVariable[]): string {
  const list = missing.map((m) => `${m.name} (${m.usedAt.join('; ')})`).join(', ');
  const many = missing.length > 1;
  return `${file}: ${missing.length} environment variable${many ? 's are' : ' is'} not set: ${list}; set ${many ? 'them' : 'it'}, or pass --env-file FILE`;
}
