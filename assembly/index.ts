// The one kernel module. Each family lives in its own file beside its scalar reference; this file only gathers
// the exports. The calling convention (byte offsets, element counts, a trailing [start, end) range) is
// documented in src/runtime/kernels.ts, which the host uses as the type of these exports.
export * from "./linear";
export * from "./norm";
export * from "./activations";
export * from "./rope";
export * from "./attention";
export * from "./probe";
export * from "./check";

/** First free byte above this module's static data: the host's allocator starts here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 in the relaxed-SIMD build, 0 in the plain SIMD one: the host reports what actually runs, whatever it was given. */
export function relaxedSimdBuild(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
