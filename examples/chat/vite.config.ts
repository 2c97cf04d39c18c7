// The chat demo, built from this checkout's sources: `npm run demo` (dev server) or `npx vite build examples/chat`.
// In an app of your own, `import … from 'weftjs'` needs no Vite configuration at all; the alias below only points
// the demo at ../../src instead of an installed package.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  // relative asset URLs: the built demo works from any folder of any static host
  base: './',
  resolve: { alias: { weftjs: `${root}src/index.ts` } },
  // the dev server may serve ../../src and ../../build (the wasm)
  // COOP/COEP make the page cross-origin isolated: SharedArrayBuffer, hence weft's threads (without them: one thread
  // and a console warning). A production server must send the same two headers.
  server: { fs: { allow: [root] }, headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  preview: { headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
