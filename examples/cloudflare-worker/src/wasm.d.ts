// Wrangler (and the test's bundler) turn a .wasm import into a compiled module.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
