import { defineConfig } from 'vitest/config';

// Three projects: everything in a plain Node process (Node 20 runs the plain-SIMD build there, which tests the
// fallback); the kernel and runtime tests again in a process started with relaxed SIMD enabled (the relaxed
// builds); and the model checks again with WEFT_THREADS=2, every kernel call split over the two threads.
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
      {
        extends: true,
        test: {
          name: 'threads',
          include: ['test/models/ref-models.test.ts', 'test/models/stories260k.test.ts'],
          env: { WEFT_THREADS: '2', WEFT_MIN_SPLIT_WORK: '0' },
        },
      },
    ],
  },
});
