// The script-tag build: dist/weft.iife.js, one classic script defining the global `weft` (everything the package
// index exports), with the kernel builds copied beside it as dist/weft-{simd,relaxed,shared,shared-relaxed}.wasm.
//
//   src/index.ts ──esbuild (bundle, minify, @huggingface/jinja included)──▶ dist/weft.iife.js
//   build/weft-*.wasm ──copy──▶ dist/weft-*.wasm (the shared builds run when the page is cross-origin isolated)
//
// Why beside and not inlined: the page downloads only the build its engine runs (relaxed SIMD or plain SIMD,
// ~68 KB each) and compiles it while it streams in (instantiateStreaming); inlining both as base64 would cost every
// page ~180 KB of script that compresses worse and compiles only after the whole script parsed.
// The wasm URL is taken from document.currentScript.src while the script runs (it is null afterwards), so the
// three files can be served from any folder or CDN path as long as they stay together.
//
// Node's dynamic `import('node:…')` calls stay external: they are reached only by path loading, never in a page.
// Prints the payload sizes (raw and gzip -9); `--json` prints them as JSON; `--outdir DIR` writes elsewhere than dist/.
import { build } from 'esbuild';
import { copyFile, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdirArg = process.argv.indexOf('--outdir');
const out = outdirArg > 0 ? `${process.argv[outdirArg + 1].replace(/\/$/, '')}/` : `${root}dist/`;

/** Replaces src/runtime/wasm-url.ts: the wasm files sit beside the script. */
const scriptWasmUrl = {
  name: 'weft-script-wasm-url',
  setup(b) {
    b.onResolve({ filter: /\/wasm-url\.js$/ }, () => ({ path: 'wasm-url', namespace: 'weft-script' }));
    b.onLoad({ filter: /.*/, namespace: 'weft-script' }, () => ({
      loader: 'js',
      contents: `
        // Evaluated once, synchronously, while <script src=".../weft.iife.js"> runs.
        const base = (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) || self.location.href;
        export function wasmUrl(variant) { return new URL('weft-' + variant + '.wasm', base); }`,
    }));
  },
};

await build({
  entryPoints: [`${root}src/index.ts`],
  outfile: `${out}weft.iife.js`,
  bundle: true,
  format: 'iife',
  globalName: 'weft',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  external: ['node:*'],
  plugins: [scriptWasmUrl],
  logLevel: 'warning',
});
for (const variant of ['simd', 'relaxed', 'shared', 'shared-relaxed']) await copyFile(`${root}build/weft-${variant}.wasm`, `${out}weft-${variant}.wasm`);

const sizes = {};
for (const name of ['weft.iife.js', 'weft-simd.wasm', 'weft-relaxed.wasm', 'weft-shared.wasm', 'weft-shared-relaxed.wasm']) {
  const bytes = await readFile(`${out}${name}`);
  sizes[name] = { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}
const js = sizes['weft.iife.js'];
const wasm = sizes['weft-relaxed.wasm'].gzip > sizes['weft-simd.wasm'].gzip ? sizes['weft-relaxed.wasm'] : sizes['weft-simd.wasm'];
// A page fetches the script and one of the builds (the shared ones are the same code, within a few bytes).
const payload = { raw: js.raw + wasm.raw, gzip: js.gzip + wasm.gzip };
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ files: sizes, payload }));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  for (const [name, s] of Object.entries(sizes)) console.log(`${name.padEnd(18)} ${kb(s.raw).padStart(9)}  gzip ${kb(s.gzip).padStart(8)}`);
  console.log(`script-tag payload (script + one wasm) ${kb(payload.raw)}, gzip ${kb(payload.gzip)}`);
}
