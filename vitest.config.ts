import { defineConfig } from 'vitest/config';

// Two projects: everything in a plain Node process (Node 20 runs the plain-SIMD build there, which tests the
// fallback), and the kernel tests again in a process started with relaxed SIMD enabled (the relaxed build).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'node', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'relaxed-simd',
          include: ['test/kernels/**/*.test.ts', 'test/runtime/**/*.test.ts'],
          execArgv: ['--experimental-wasm-relaxed-simd'],
        },
      },
    ],
  },
});
