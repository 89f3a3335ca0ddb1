/**
 * The embedded default stays light: what `sluice serve` (without --cluster) and `sluice run` load never
 * reaches ioredis or Redlock. The cluster's modules are reached only through dynamic import().
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** the modules a file loads when it is loaded: static value imports and re-exports (type-only ones are erased) */
function staticImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of code.matchAll(/\b(import|export)\s+(type\s)?[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g)) if (!m[2]) found.push(m[3]);
  for (const m of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) found.push(m[1]);
  return found;
}

/** every package the module graph from `entry` loads, with the chain that reaches it */
function packagesLoadedFrom(entry: string): Map<string, string[]> {
  const seen = new Set<string>();
  const packages = new Map<string, string[]>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        if (existsSync(target)) visit(target, [...chain, target.slice(ROOT.length + 1)]);
      } else if (!spec.startsWith('node:')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!packages.has(name)) packages.set(name, chain);
      }
    }
  };
  visit(join(ROOT, entry), [entry]);
  return packages;
}

describe('the embedded default does not load the cluster', () => {
  it.each(['server/main.ts', 'runtime/cli/main.ts'])('%s reaches neither ioredis nor Redlock', (entry) => {
    const loaded = packagesLoadedFrom(entry);
    expect(loaded.size).toBeGreaterThan(3); // the walk itself works: express, better-sqlite3, zod …
    expect(loaded.get('ioredis')).toBeUndefined();
    expect(loaded.get('@sesamecare-oss/redlock')).toBeUndefined();
  });

  it('the walk finds them from the agent (the checker itself)', () => {
    const loaded = packagesLoadedFrom('server/cluster/agent-main.ts');
    expect(loaded.has('ioredis')).toBe(true);
    expect(loaded.has('@sesamecare-oss/redlock')).toBe(true);
  });
});
