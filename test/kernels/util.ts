// Helpers shared by the kernel tests: a seeded PRNG, moving arrays in and out of a Runtime, and a float comparison
// that reports the worst element.
import { expect } from 'vitest';
import type { GgufFile } from '../../src/formats/gguf.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Tensor } from '../../src/runtime/tensor.js';

/** mulberry32: a deterministic stream of uniform numbers in [0, 1) for the given seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A new f32 tensor in the runtime's heap holding `data` (rounded to f32). */
export function putF32(rt: Runtime, data: ArrayLike<number>): Tensor {
  const t = rt.alloc('f32', [data.length]);
  rt.write(t, Float32Array.from(data));
  return t;
}

/** A new i32 tensor in the runtime's heap holding `data`. */
export function putI32(rt: Runtime, data: ArrayLike<number>): Tensor {
  const t = rt.alloc('i32', [data.length]);
  rt.write(t, Int32Array.from(data));
  return t;
}

/** Copies bytes into a fresh heap block of the runtime; returns its offset (release it with rt.heap.release). */
export function putBytes(rt: Runtime, bytes: Uint8Array): number {
  const at = rt.heap.alloc(bytes.length);
  rt.u8.set(bytes, at);
  return at;
}

/** The raw bytes of a GGUF file's tensor, by name. */
export async function ggufTensorBytes(file: GgufFile, name: string): Promise<Uint8Array> {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${file.source.name} has no tensor ${name}`);
  return file.source.read(t.offset, t.byteLength);
}

/** A copy of a f32 tensor's elements. */
export function getF32(rt: Runtime, t: Tensor): Float32Array {
  return rt.readF32(t);
}

/**
 * Every element must satisfy |actual − expected| ≤ tol · max(1, |expected|): an absolute bound for values up to 1
 * and a relative one above. NaN and ±Infinity must match exactly. The failure names `what`, the worst index and
 * both values.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (!Object.is(a, e)) {
        throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
      }
      continue;
    }
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  if (worstErr > tol) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (error ${worstErr.toExponential(3)} > ${tol})`);
  }
}

/**
 * Every element must satisfy |actual − expected| ≤ rel·|expected| + abs: for outputs that can be tiny (activation
 * tails, small probabilities), where a bound relative to max(1, |expected|) would not see a wrong value.
 */
export function expectRelative(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (rel * Math.abs(expected[i]) + abs);
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rel ${rel}, abs ${abs})`);
}
