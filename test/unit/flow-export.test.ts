/**
 * The exported document (server/flow-export.ts), on the real node catalog: the connections the nodes use
 * (stored ones copied in, unused ones left out), every declared secret as a predictable placeholder (a
 * URL's password inside the URL; a node's own inline URL too), placeholders already there kept, and file
 * paths inside the first file root made relative to it.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { FileRoots } from '../../runtime/files.js';
import { exportDocument } from '../../server/flow-export.js';
import type { StoredConnection } from '../../server/store/control-store.js';
import { tempDir } from '../helpers/node-harness.js';

const registry = createRegistry();
const stored = (id: string, type: string, config: Record<string, unknown>): StoredConnection => ({ id, type, config, createdAt: 0, updatedAt: 0 });

describe('exportDocument', () => {
  const root = tempDir('sluice-export-unit-');
  const files = join(root, 'files');
  mkdirSync(files);
  const policy = { files: new FileRoots({ roots: [files] }) };
  const doc = {
    apiVersion: 'sluice/v1',
    name: 'f',
    connections: { inline: { type: 'postgres', url: 'postgres://app:${env:MY_OWN}@db/x' }, lite: { type: 'sqlite', path: join(files, 'shop.db') } },
    nodes: [
      { id: 'a', type: 'postgres.source', config: { connection: 'shop-db', tables: ['t'] } },
      { id: 'b', type: 'mysql.source', config: { connection: 'my.store', tables: ['t'] } },
      { id: 'c', type: 'postgres.source', config: { connection: 'inline', tables: ['t'] } },
      { id: 'lite', type: 'sqlite.source', config: { path: join(files, 'shop.db'), tables: ['t'] } },
      { id: 'out', type: 'mysql.sink', config: { url: 'mysql://u:pw-node-Xy12@h/db', table: 't' } },
      { id: 'file', type: 'file.sink', config: { path: join(files, 'sub', 'out.jsonl') } },
      { id: 'elsewhere', type: 'file.sink', config: { path: '/var/other/out.jsonl' } },
    ],
    edges: [],
  };
  const connections = [
    stored('shop-db', 'postgres', { host: 'db', user: 'app', password: 'pw-field-Ab12', tls: { passphrase: 'pw-tls-Cd34', rejectUnauthorized: false } }),
    stored('my.store', 'mysql', { url: 'mysql://app:pw-url-Ef56@db:3306/shop' }),
    stored('unused', 'postgres', { password: 'pw-unused-Gh78' }),
  ];
  const { document, variables } = exportDocument(doc, connections, registry, policy);
  const text = JSON.stringify(document);

  it('holds no secret, and no unused stored connection', () => {
    for (const secret of ['pw-field-Ab12', 'pw-tls-Cd34', 'pw-url-Ef56', 'pw-unused-Gh78', 'pw-node-Xy12']) expect(text).not.toContain(secret);
    expect(Object.keys(document.connections as object).sort()).toEqual(['inline', 'lite', 'my.store', 'shop-db']);
  });

  it('puts a predictable placeholder in each secret, inside the URL for a URL password, and keeps existing ones', () => {
    const c = document.connections as Record<string, Record<string, unknown>>;
    expect(c['shop-db']).toEqual({ type: 'postgres', host: 'db', user: 'app', password: '${env:SLUICE_FLOW_SHOP_DB_PASSWORD}', tls: { passphrase: '${env:SLUICE_FLOW_SHOP_DB_TLS_PASSPHRASE}', rejectUnauthorized: false } });
    expect(c['my.store']).toEqual({ type: 'mysql', url: 'mysql://app:${env:SLUICE_FLOW_MY_STORE_URL_PASSWORD}@db:3306/shop' });
    expect(c.inline).toEqual(doc.connections.inline);
    expect((document.nodes as { config: Record<string, unknown> }[])[4].config.url).toBe('mysql://u:${env:SLUICE_FLOW_NODE_OUT_URL_PASSWORD}@h/db');
    expect(variables).toEqual([
      { name: 'MY_OWN', connection: 'inline', field: 'url' },
      { name: 'SLUICE_FLOW_SHOP_DB_PASSWORD', connection: 'shop-db', field: 'password' },
      { name: 'SLUICE_FLOW_SHOP_DB_TLS_PASSPHRASE', connection: 'shop-db', field: 'tls.passphrase' },
      { name: 'SLUICE_FLOW_MY_STORE_URL_PASSWORD', connection: 'my.store', field: 'url' },
      { name: 'SLUICE_FLOW_NODE_OUT_URL_PASSWORD', node: 'out', field: 'url' },
    ]);
  });

  it('writes paths inside the first file root relative to it, others as they are', () => {
    const nodes = document.nodes as { config: Record<string, unknown> }[];
    expect(nodes[5].config.path).toBe(join('sub', 'out.jsonl'));
    expect(nodes[6].config.path).toBe('/var/other/out.jsonl');
    expect(nodes[3].config.path).toBe('shop.db');
    expect((document.connections as Record<string, Record<string, unknown>>).lite.path).toBe('shop.db');
  });
});
