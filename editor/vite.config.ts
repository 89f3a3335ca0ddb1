/**
 * Build of the browser editor: `npx vite build --config editor/vite.config.ts` → dist/editor (served by
 * the server). `npx vite --config editor/vite.config.ts` runs it in dev against a server on :8080.
 * Not type-checked by editor/tsconfig.json (which holds browser code only, without Node types).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = fileURLToPath(new URL('.', import.meta.url));
const backend = process.env.SLUICE_URL ?? 'http://localhost:8080';

export default defineConfig({
  root: here,
  // relative asset URLs: the built editor works wherever the server mounts it
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/editor', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      // the editor imports pure helpers (findCycle) from runtime modules that also hold the zod schemas
      // and the YAML parser; nothing there runs on import, so unused runtime modules are left out
      treeshake: { moduleSideEffects: (id: string) => id.includes('node_modules') || !/[\\/]runtime[\\/]/.test(id) },
    },
  },
  server: {
    proxy: {
      '/api': backend,
      '/socket.io': { target: backend, ws: true },
    },
  },
});
