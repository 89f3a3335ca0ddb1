/**
 * The built editor (dist/editor) at `/`: files as they are, and index.html for any other path without
 * a file extension (client-side routes). Looked up per request, so building the editor while the
 * server runs needs no restart. Without a build, `/` says how to make one.
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import express, { Router } from 'express';

const NO_BUILD = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Sluice</h1>
<p>The server runs, but the editor is not built. Run <code>npm run build:editor</code> and reload this page.</p>
<p>The API answers under <a href="api/health"><code>/api</code></a>.</p>
</body></html>
`;

export function editorRoutes(editorDir: string | undefined): Router {
  const r = Router();
  if (editorDir) {
    r.use(
      express.static(editorDir, {
        setHeaders(res, path) {
          // hashed assets never change; index.html must always be fetched again
          res.setHeader('Cache-Control', path.includes(`${join('assets', '')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      }),
    );
  }
  if (editorDir) {
    // index.html answers deep paths too (/flows/x), and its asset URLs are relative (vite base './', so
    // the editor works under any mount point): there they name /flows/assets/…, the same files
    r.use((req, res, next) => {
      const m = /\/assets\/([^/.][^/]*)$/.exec(req.path);
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !m || req.path === `/assets/${m[1]}` || req.path.startsWith('/api/')) return next();
      const file = join(editorDir, 'assets', m[1]);
      if (!existsSync(file)) return next();
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.sendFile(file);
    });
  }
  r.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path.startsWith('/socket.io/') || extname(req.path) !== '') return next();
    const index = editorDir ? join(editorDir, 'index.html') : undefined;
    if (index && existsSync(index)) {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(index);
    } else if (req.path === '/') res.type('html').send(NO_BUILD);
    else next();
  });
  return r;
}
