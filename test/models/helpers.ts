import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { CausalLM } from '../../src/models/model.js';

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** First index of the maximum (ties go to the lowest id, as run.c and transformers' argmax do). */
export function argmax(values: ArrayLike<number>, from = 0, to = values.length): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (values[i] > values[best]) best = i;
  return best - from;
}

/** Largest |a[i] − b[i]| over a flat array and a row-major list of rows. */
export function maxAbsDiff(actual: Float32Array, expected: number[][]): number {
  const cols = expected[0].length;
  expect(actual.length).toBe(expected.length * cols);
  let worst = 0;
  expected.forEach((row, r) => row.forEach((v, c) => (worst = Math.max(worst, Math.abs(actual[r * cols + c] - v)))));
  return worst;
}

/**
 * Greedy decoding the way a generator drives the model: the prompt as one prefill, then one token per forward
 * through the KV cache. Returns the new ids and the logits each step saw ([steps × vocab], row-major).
 */
export function greedyWithCache(model: CausalLM, prompt: number[], steps: number): { ids: number[]; logits: Float32Array } {
  const vocab = model.config.vocabSize;
  const logits = new Float32Array(steps * vocab);
  const ids: number[] = [];
  model.reset();
  let last = model.forward(prompt);
  for (let s = 0; s < steps; s++) {
    logits.set(last, s * vocab);
    ids.push(argmax(last));
    if (s + 1 < steps) last = model.forward([ids[s]]);
  }
  return { ids, logits };
}
