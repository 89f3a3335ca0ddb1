/**
 * The dependency rules between the parts of the code, checked on every import of every .ts/.tsx file:
 *   - nodes/** reaches into runtime/ only through runtime/index.ts (the API for node types);
 *   - a node family (nodes/<family>/**, core included) imports no other family, only nodes/shared/: the
 *     catalog files at the top of nodes/ put families together (core.denormalize is handed its
 *     reference kinds there), so the core pulls in no database driver;
 *   - server/** (a host) reaches into runtime/ only through runtime/host.ts (the API for hosts) and
 *     its parts loaded only when used: runtime/host-postgres.ts (a postgres:// store), host-cluster.ts (--cluster, agents);
 *   - runtime/** never imports nodes/, server/ or editor/;
 *   - editor/src/** never imports server/ nor a Node built-in (it runs in the browser), and the runtime
 *     modules it imports reach no Node built-in either, through any chain of imports (type-only ones too:
 *     the editor's compiler reads them), so wire types are imported, not copied: an interface in
 *     editor/src with the fields of a runtime one is reported as a copy.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** every module specifier a file imports or re-exports: static (multi-line too), side-effect and import() */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const re of [/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of code.matchAll(re)) found.push(m[1]);
  }
  return found;
}

const NODE_BUILTINS = new Set(builtinModules);
const isBuiltin = (s: string) => s.startsWith('node:') || NODE_BUILTINS.has(s.split('/')[0]);

/** the crossings of the rules in one file (path relative to the repository) */
export function violations(file: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of specifiers(text)) {
    const target = spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.(js|ts|tsx)$/, '') : undefined;
    const bad = (why: string) => out.push(`${file} imports '${spec}': ${why}`);
    if (file.startsWith('nodes/') && target?.startsWith('runtime/') && target !== 'runtime/index') bad('node types import runtime/ only through runtime/index.ts');
    const family = /^nodes\/([^/]+)\//.exec(file)?.[1];
    const into = target && /^nodes\/([^/]+)\//.exec(target)?.[1];
    if (family && into && into !== family && into !== 'shared') bad(`a node family imports no other family (only nodes/shared/); nodes/catalog.ts and its lists put families together`);
    if (file.startsWith('server/') && target?.startsWith('runtime/') && !['runtime/host', 'runtime/host-postgres', 'runtime/host-cluster'].includes(target)) bad('hosts import runtime/ only through runtime/host.ts (and host-postgres.ts, host-cluster.ts)');
    if (file.startsWith('runtime/') && target && /^(nodes|server|editor)\//.test(target)) bad('the runtime never imports nodes/, server/ or editor/');
    if (file.startsWith('editor/src/')) {
      if (target?.startsWith('server/')) bad('the editor talks to the server over HTTP, it never imports server/');
      if (!target && isBuiltin(spec)) bad('the editor runs in the browser: no Node built-ins');
    }
  }
  return out;
}

/** the file a relative specifier names: `x.js` is `x.ts` (or `.tsx`), a folder its index.ts */
function resolveSource(from: string, spec: string, exists: (f: string) => boolean): string | undefined {
  const base = relative(ROOT, resolve(ROOT, dirname(from), spec)).replace(/\.(js|ts|tsx)$/, '');
  return [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find(exists);
}

/**
 * The Node built-ins `file` reaches through its relative imports, each as the chain that leads to it
 * (`runtime/a.ts → runtime/b.ts → node:fs`); [] for a module the browser's compiler can read.
 */
export function builtinsReached(file: string, read: (f: string) => string | undefined, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = read(file);
  if (text === undefined) return [];
  const out: string[] = [];
  for (const spec of specifiers(text)) {
    if (!spec.startsWith('.')) {
      if (isBuiltin(spec)) out.push(`${file} → ${spec}`);
      continue;
    }
    const next = resolveSource(file, spec, (f) => read(f) !== undefined);
    if (next) out.push(...builtinsReached(next, read, seen).map((chain) => `${file} → ${chain}`));
  }
  return out;
}

/** the interfaces a file declares, each with its own (top-level) field names */
export function interfacesOf(text: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^(?:export )?interface (\w+)[^{]*\{\n([\s\S]*?)^\}/gm)) {
    found.set(m[1], new Set([...m[2].matchAll(/^ {2}(?:readonly )?['"]?([\w$:-]+)['"]?\??:/gm)].map((f) => f[1])));
  }
  return found;
}

/**
 * Interfaces of the editor that copy one of the runtime's: three fields or more, and at least 80% of
 * them (and of the runtime's) shared. Such a type belongs in a Node-free runtime module, imported.
 */
export function copiedInterfaces(editor: Map<string, Set<string>>, runtime: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  for (const [name, fields] of editor) {
    if (fields.size < 3) continue;
    for (const [theirs, other] of runtime) {
      const shared = [...fields].filter((f) => other.has(f)).length;
      if (shared >= 0.8 * fields.size && shared >= 0.8 * other.size) out.push(`${name} (editor) copies ${theirs} (runtime): fields ${[...fields].join(', ')}`);
    }
  }
  return out;
}

describe('import boundaries', () => {
  it('finds a crossing in each rule (the checker itself)', () => {
    expect(violations('nodes/x/a.ts', "import { NodeRegistry } from '../../runtime/registry.js';")).toHaveLength(1);
    expect(violations('nodes/x/a.ts', "import {\n  defineNode,\n  type NodeContext,\n} from '../../runtime/index.js';")).toEqual([]);
    expect(violations('nodes/a.ts', "export { x } from '../runtime/errors.js';")).toHaveLength(1);
    expect(violations('nodes/core/denormalize/reference.ts', "import { postgresReference } from '../../postgres/reference.js';")).toHaveLength(1);
    expect(violations('nodes/core/a.ts', "import type { Pool } from '../mysql/connection.js';")).toHaveLength(1);
    expect(violations('nodes/shared/a.ts', "const m = await import('../sqlite/sql.js');")).toHaveLength(1);
    expect(violations('nodes/core/denormalize/lookup.ts', "import { joinKey } from '../../shared/reference.js';\nimport { LruCache } from './lru.js';")).toEqual([]);
    expect(violations('nodes/reference-kinds.ts', "import { mysqlReference } from './mysql/reference.js';")).toEqual([]);
    expect(violations('server/routes/a.ts', "import { UserError } from '../../runtime/errors.js';")).toHaveLength(1);
    expect(violations('server/routes/a.ts', "import { UserError, type HostPolicy } from '../../runtime/host.js';")).toEqual([]);
    expect(violations('server/a.ts', "import type { Logger } from '../runtime/index.js';")).toHaveLength(1);
    expect(violations('runtime/a/b.ts', "const m = await import('../../nodes/catalog.js');")).toHaveLength(1);
    expect(violations('runtime/b.ts', "import type { X } from '../server/app.js';")).toHaveLength(1);
    expect(violations('editor/src/a.ts', "import { readFileSync } from 'node:fs';\nimport path from 'path';")).toHaveLength(2);
    expect(violations('editor/src/a.ts', "import '../../server/app.js';")).toHaveLength(1);
    expect(violations('editor/src/a.ts', "// import x from 'node:fs'\nimport { inputsOf } from '../../runtime/node-api.js';")).toEqual([]);
  });

  it('finds a runtime module that reaches a Node built-in, and a copied interface (the checkers themselves)', () => {
    const files: Record<string, string> = {
      'runtime/a.ts': "import type { B } from './b.js';\nexport interface A { b: B }",
      'runtime/b.ts': "import { readFileSync } from 'node:fs';\nexport type B = string;",
      'runtime/c.ts': "import type { Op } from './records.js';\nexport interface RunSummary {\n  flow: string;\n  status: string;\n  nodes: unknown;\n  edges: number[];\n  durationMs: number;\n}",
      'runtime/records.ts': "export type Op = 'c' | 'u';",
    };
    const read = (f: string) => files[f];
    expect(builtinsReached('runtime/a.ts', read)).toEqual(['runtime/a.ts → runtime/b.ts → node:fs']);
    expect(builtinsReached('runtime/c.ts', read)).toEqual([]);
    const copy = 'export interface Summary {\n  flow?: string;\n  status: string;\n  nodes: unknown;\n  edges: number[];\n  durationMs?: number;\n}';
    expect(copiedInterfaces(interfacesOf(copy), interfacesOf(files['runtime/c.ts']))).toHaveLength(1);
    expect(copiedInterfaces(interfacesOf('interface Other {\n  flow: string;\n  name: string;\n  id: string;\n}'), interfacesOf(files['runtime/c.ts']))).toEqual([]);
  });

  it('the editor imports runtime modules that reach no Node built-in', () => {
    const read = (f: string) => {
      try {
        return readFileSync(join(ROOT, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    const reached = sources('editor/src').flatMap((f) =>
      specifiers(read(f)!)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => resolveSource(f, spec, (t) => read(t) !== undefined))
        .filter((t): t is string => t?.startsWith('runtime/') === true)
        .flatMap((t) => builtinsReached(t, read).map((chain) => `${f} → ${chain}`)),
    );
    expect(reached).toEqual([]);
  });

  it('the editor declares no copy of a runtime interface (wire types are imported)', () => {
    const all = (dir: string) => new Map(sources(dir).flatMap((f) => [...interfacesOf(readFileSync(join(ROOT, f), 'utf8'))]));
    expect(copiedInterfaces(all('editor/src'), all('runtime'))).toEqual([]);
  });

  it.each(['nodes', 'runtime', 'server', 'editor/src'])('%s/ keeps to its rules', (dir) => {
    const files = sources(dir);
    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((f) => violations(f, readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });
});
