#!/usr/bin/env node
/**
 * Rewrites the generated block of docs/type-mapping.md (the tables of declared types) from the mapping
 * data, after tsc: `npm run docs` runs it. See nodes/type-mapping-docs.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { spliceTypeTables } = await import(join(root, 'dist/nodes/type-mapping-docs.js'));
const path = join(root, 'docs/type-mapping.md');
writeFileSync(path, spliceTypeTables(readFileSync(path, 'utf8')));
