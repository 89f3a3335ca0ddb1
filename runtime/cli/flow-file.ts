import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { LIMITS } from '../flow/limits.js';

/** the text of a flow document, or a UserError that says why it cannot be read */
export function readFlowFile(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > LIMITS.textBytes) throw new UserError(`cannot read flow ${path}: ${(size / 1024 / 1024).toFixed(1)} MB, at most ${LIMITS.textBytes / 1024 / 1024} MB`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read flow ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
}
