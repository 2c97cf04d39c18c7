/**
 * Where the kernel module lives: `build/weft-<variant>.wasm` in the package, found from this module's URL.
 *
 * One literal `new URL('…', import.meta.url)` expression per build, not one template string: bundlers recognise only
 * literals as assets. Vite's dev server pre-bundles dependencies into `node_modules/.vite/deps/` and rewrites a
 * literal to the right relative path, but turned the former template (`weft-${variant}.wasm`) into an empty glob
 * lookup, i.e. `.vite/deps/undefined` (404). `vite build` and webpack 5 copy literal assets into the app.
 *
 * The script-tag build (scripts/build-iife.mjs) replaces this module: there the wasm sits beside weft.iife.js.
 */
export type WasmVariant = 'simd' | 'relaxed' | 'shared' | 'shared-relaxed';

export function wasmUrl(variant: WasmVariant): URL {
  switch (variant) {
    case 'relaxed':
      return new URL('../../build/weft-relaxed.wasm', import.meta.url);
    case 'shared':
      return new URL('../../build/weft-shared.wasm', import.meta.url);
    case 'shared-relaxed':
      return new URL('../../build/weft-shared-relaxed.wasm', import.meta.url);
    default:
      return new URL('../../build/weft-simd.wasm', import.meta.url);
  }
}
