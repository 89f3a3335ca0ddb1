/** A SQLite "connection" is a database file: the test opens it read-only and counts its tables. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { errorMessage, fileMark, type ConnectionTestResult, type FileAccess } from '../../runtime/index.js';

export const connectionEntrySchema = z.object({
  type: z.literal('sqlite').describe('sqlite'),
  path: z.string().min(1).describe('the database file (relative to the working directory; in the server, to its first file root)').meta(fileMark('read')),
});

export async function testConnection(config: Record<string, unknown>, options: { files: FileAccess }): Promise<ConnectionTestResult> {
  if (typeof config.path !== 'string' || config.path === '') return { ok: false, error: 'path is required: the SQLite database file' };
  let path: string;
  try {
    path = options.files.resolve('path', config.path);
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
  if (!existsSync(path)) return { ok: false, error: `no such file: ${path}`, hint: 'sqlite.sink creates the file on its first write; sqlite.source needs it to exist' };
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const { n } = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    return { ok: true, message: `opened ${path}: ${n} table${n === 1 ? '' : 's'}` };
  } catch (err) {
    return { ok: false, error: `cannot open ${path}: ${errorMessage(err)}` };
  } finally {
    db?.close();
  }
}
