import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Sluice's package directory: the nearest one above `from` holding Sluice's package.json (works from dist/ too) */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sluice') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the sluice package above ${from}`);
    dir = up;
  }
}
