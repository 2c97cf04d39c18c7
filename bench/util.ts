/**
 * Shared benchmark helpers: time a function by the median of several runs, print a table, and the `--json` switch.
 * The machine is shared and noisy: medians damp the outliers, and ratios between kernels measured in the same run
 * mean more than any absolute figure.
 */

import { Rng } from '../src/generation/sampling.js';
import type { Runtime } from '../src/runtime/runtime.js';
import type { Tensor } from '../src/runtime/tensor.js';

/** True when the command line asks for a JSON document (the table then goes to stderr). */
export const JSON_OUTPUT = process.argv.includes('--json');

/** xorshift32: a fixed stream of 32-bit words, fast enough to fill hundreds of MB, so runs see the same data. */
export function xorshift32(seed = 0x9e3779b9): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/** The generation benchmarks' prompt: `n` seeded ids from 3 up (no special tokens), the same in every run and engine. */
export function randomPromptIds(vocab: number, n: number): number[] {
  const rng = new Rng(2024);
  return Array.from({ length: n }, () => 3 + (rng.nextU32() % (vocab - 3)));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface TimingOptions {
  /** Fewest timed samples (default 5). */
  minSamples?: number;
  /** Keep sampling until this much time has been spent, in seconds (default 0.25)… */
  minSeconds?: number;
  /** …but never more samples than this (default 31). */
  maxSamples?: number;
}

/**
 * Median seconds per call of `fn`. One untimed call warms up the JIT and the caches; calls shorter than ~2 ms are
 * batched so that a sample is long enough for the clock, and the batch time divided by its size.
 */
export function timeIt(fn: () => void, options: TimingOptions = {}): number {
  const { minSamples = 5, minSeconds = 0.25, maxSamples = 31 } = options;
  let t = performance.now();
  fn();
  const first = (performance.now() - t) / 1000;
  const batch = Math.max(1, Math.min(10_000, Math.round(0.002 / Math.max(first, 1e-7))));
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < minSamples || (samples.length < maxSamples && (performance.now() - started) / 1000 < minSeconds)) {
    t = performance.now();
    for (let i = 0; i < batch; i++) fn();
    samples.push((performance.now() - t) / 1000 / batch);
  }
  return median(samples);
}

/**
 * Seconds per call of each function, measured in alternation for `rounds` rounds (one call each per round, after
 * one warm-up call each): ratios taken round by round then compare the functions under the same load, which a
 * shared machine changes from second to second.
 */
export function timeAlternating(fns: ReadonlyArray<() => void>, rounds: number): number[][] {
  for (const fn of fns) fn();
  const times = fns.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    fns.forEach((fn, i) => {
      const t = performance.now();
      fn();
      times[i].push((performance.now() - t) / 1000);
    });
  }
  return times;
}

/** Prints rows as an aligned text table (numbers right-aligned) to stdout, or to stderr under --json. */
export function printTable(title: string, columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[], numeric: readonly boolean[]) =>
    row.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [title, line(columns, []), line(widths.map((w) => '-'.repeat(w)), [])];
  for (let r = 0; r < rows.length; r++) out.push(line(cells[r], rows[r].map((c) => typeof c === 'number')));
  log(out.join('\n') + '\n');
}

/** Three significant figures, enough for figures that vary by a few percent from run to run. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(n))));
  return n.toFixed(Math.min(digits, 4));
}

/** Progress and tables: stdout normally, stderr when stdout carries the JSON document. */
export function log(text: string): void {
  (JSON_OUTPUT ? process.stderr : process.stdout).write(text + '\n');
}

/**
 * The read-bandwidth probe every benchmark reports against: `sumF32` (a SIMD loop summing f32) over 1 GiB, four
 * times the 260 MB L3 cache these machines report, so the figure is memory's and not the cache's. The buffer is
 * filled with data first: untouched pages read as zeros from the kernel's shared zero page and give false figures.
 */
export class ReadProbe {
  static readonly BYTES = 1 << 30;
  readonly buffer: Tensor;

  constructor(private readonly rt: Runtime) {
    this.buffer = rt.alloc('f32', [ReadProbe.BYTES / 4]);
    const view = rt.f32View(this.buffer);
    for (let i = 0; i < view.length; i++) view[i] = (i & 1023) * 1e-3;
  }

  /** One pass over the buffer. */
  readonly run = (): void => {
    this.rt.kernels.sumF32(this.buffer.offset, ReadProbe.BYTES / 4);
  };

  /** Bytes per second: the median of several passes. */
  bytesPerSecond(): number {
    return ReadProbe.BYTES / timeIt(this.run, { minSamples: 7 });
  }

  free(): void {
    this.rt.free(this.buffer);
  }
}
