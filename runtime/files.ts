/**
 * Where flows may read and write files. A host hands the runtime a FilePolicy: the CLI none (any path,
 * relative to the working directory), the server FileRoots (only inside its `--files` directories,
 * never its own data directory). Flow validation checks every path field against it and nodes resolve
 * through it again when they open the file (NodeContext.files), so a symlink swapped in after
 * validation is caught too.
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError, UserError, errorMessage } from './errors.js';

import type { FileAccess, FileCheck, FileMode, FilePolicy } from './host-policy.js';

export type { FileAccess, FileCheck, FileMode, FilePolicy };

/** Any path, relative ones against `cwd`: `sluice run` without `--files`. */
export function unconfinedFiles(cwd: string = process.cwd()): FilePolicy {
  return { description: 'unconfined', check: (path) => ({ ok: true, path: resolve(cwd, path) }) };
}

/** `nodeId` undefined: outside a flow (a connection test), the error names the field only */
export function fileAccess(policy: FilePolicy, nodeId: string | undefined): FileAccess {
  return {
    resolve(field, path, options) {
      const r = policy.check(path, options?.write ? 'write' : 'read');
      if (!r.ok) throw nodeId === undefined ? new UserError(`${field}: ${r.message}`) : new ConfigError(nodeId, `config.${field}`, r.message);
      return r.path;
    },
  };
}

const MAX_LINKS = 40;

/**
 * The real path of `abs` (absolute, normalized), also when it does not exist yet: the real path of its
 * deepest existing ancestor plus the rest. A dangling symlink is followed to where it points (writing
 * through it would create its target), a loop is an error.
 */
export function realPathOf(abs: string, links = 0): string {
  const rest: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return join(realpathSync.native(at), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    let isLink = false;
    try {
      isLink = lstatSync(at).isSymbolicLink();
    } catch {
      // does not exist at all: go up
    }
    if (isLink) {
      if (links >= MAX_LINKS) throw Object.assign(new Error(`too many symbolic links at ${at}`), { code: 'ELOOP' });
      // relative to where the link really is: `..` in its target climbs from there, as the OS does
      const target = resolve(realpathSync.native(dirname(at)), readlinkSync(at));
      return realPathOf(join(target, ...[...rest].reverse()), links + 1);
    }
    const parent = dirname(at);
    if (parent === at) return join(at, ...rest.reverse());
    rest.push(basename(at));
    at = parent;
  }
}

const inside = (path: string, dir: string) => {
  const r = relative(dir, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
};

export interface FileRootsOptions {
  /** the directories flows may use, as the user wrote them (shown in messages); the first takes relative paths */
  roots: string[];
  /** directories (or files) no flow may reach even inside a root: `{ path: './data', label: "the server's data directory" }` */
  protect?: { path: string; label: string }[];
  /** what `roots` and `protect` are relative to (default: the working directory) */
  cwd?: string;
}

/** Paths confined to a few directories, symlinks included, with protected directories cut out of them. */
export class FileRoots implements FilePolicy {
  private readonly roots: { shown: string; real: string }[];
  private readonly protect: { shown: string; label: string; real: string; exceptions: string[] }[];
  readonly description: string;

  constructor(options: FileRootsOptions) {
    if (options.roots.length === 0) throw new Error('FileRoots needs at least one root');
    const cwd = options.cwd ?? process.cwd();
    this.roots = options.roots.map((shown) => ({ shown, real: realPathOf(resolve(cwd, shown)) }));
    this.protect = (options.protect ?? []).map(({ path: shown, label }) => {
      const real = realPathOf(resolve(cwd, shown));
      // a root inside a protected directory (./data/files in ./data) stays usable; the rest of it does not
      const exceptions = this.roots.map((r) => r.real).filter((r) => r !== real && inside(r, real));
      return { shown, label, real, exceptions };
    });
    this.description = `confined to ${this.shownRoots()}`;
  }

  /** the first root: relative paths resolve against it */
  get base(): string {
    return this.roots[0].real;
  }

  private shownRoots(): string {
    return this.roots.map((r) => r.shown).join(', ');
  }

  check(path: string, _mode: FileMode): FileCheck {
    if (typeof path !== 'string' || path === '') return { ok: false, message: 'a file path is required' };
    if (path.includes('\0')) return { ok: false, message: 'a file path cannot hold a NUL character' };
    let real: string;
    try {
      real = realPathOf(resolve(this.base, path));
    } catch (err) {
      return { ok: false, message: `${path} cannot be resolved: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}` };
    }
    for (const p of this.protect) {
      if (inside(real, p.real) && !p.exceptions.some((e) => inside(real, e))) {
        return { ok: false, message: `${path} is inside ${p.label} (${p.shown}), which flows cannot reach` };
      }
    }
    if (!this.roots.some((r) => inside(real, r.real))) {
      return { ok: false, message: `${path} is outside the allowed file roots (${this.shownRoots()})` };
    }
    return { ok: true, path: real };
  }
}
