// The chat demo, built from this checkout's sources: `npm run demo` (dev server) or `npx vite build examples/chat`.
// In an app of your own, `import … from 'weftjs'` needs no Vite configuration at all; the alias below only points
// the demo at ../../src instead of an installed package.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  resolve: { alias: { weftjs: `${root}src/index.ts` } },
  // the dev server may serve ../../src and ../../build (the wasm)
  server: { fs: { allow: [root] } },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
