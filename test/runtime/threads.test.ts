/**
 * Threads: the options, the split of linear layers and attention (same bits for every thread count), errors in a
 * worker, memory growth seen by the workers, and the lifecycle (dispose ends the workers, a process exits by
 * itself, many generations leave no growing memory or thread count).
 *
 * `minSplitWork: 0` makes every call split, however small, so these small shapes exercise the pool.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { generate } from '../../src/generation/generate.js';
import { loadModel } from '../../src/models/load.js';
import { attention } from '../../src/runtime/ops.js';
import { linear, packLinearWeight, type WeightDType } from '../../src/runtime/layout.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { AUTO_MAX_THREADS } from '../../src/runtime/threads.js';
import { dataPath, describeData } from '../helpers/data.js';
import { putF32, seededRandom } from '../kernels/util.js';

const ROOT = resolve(__dirname, '../..');

/** OS threads of this process (Linux): a worker adds several (its isolate's main thread and helpers). */
function osThreads(): number {
  return readdirSync('/proc/self/task').length;
}

/** Runs a module script with tsx in a fresh Node; returns its exit status, output and wall time. */
function runScript(code: string, timeout = 30_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout, env: { ...process.env, WEFT_THREADS: '' } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('the threads option', () => {
  it('threads: n gives n threads; 1 gives no pool; auto takes the cores, capped', async () => {
    const two = await Runtime.create({ threads: 2 });
    const one = await Runtime.create({ threads: 1 });
    const auto = await Runtime.create({ threads: 'auto' });
    expect(two.threads).toBe(2);
    expect(one.threads).toBe(1);
    const { availableParallelism } = await import('node:os');
    expect(auto.threads).toBe(Math.min(AUTO_MAX_THREADS, availableParallelism()));
    for (const rt of [two, one, auto]) rt.dispose();
  });

  it('WEFT_THREADS is the default, and the option wins over it', async () => {
    const saved = process.env.WEFT_THREADS;
    process.env.WEFT_THREADS = '3';
    try {
      const fromEnv = await Runtime.create();
      const fromOption = await Runtime.create({ threads: 1 });
      expect([fromEnv.threads, fromOption.threads]).toEqual([3, 1]);
      fromEnv.dispose();
      fromOption.dispose();
      process.env.WEFT_THREADS = 'many';
      await expect(Runtime.create()).rejects.toThrow(/option WEFT_THREADS must be 'auto' or an integer from 1 to 32, got "many"/);
    } finally {
      if (saved === undefined) delete process.env.WEFT_THREADS;
      else process.env.WEFT_THREADS = saved;
    }
  });

  it('a bad count is an E_OPTION error naming the option', async () => {
    for (const bad of [0, -1, 1.5, 1000]) {
      const e = await Runtime.create({ threads: bad }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(WeftError);
      expect((e as WeftError).code).toBe('E_OPTION');
      expect((e as WeftError).message).toMatch(/^option threads must be 'auto' or an integer/);
    }
  });

  it('without SharedArrayBuffer: one thread and exactly one warning naming the two headers, for any number of runtimes', () => {
    // (V8's --no-harmony-sharedarraybuffer would also stop tsx's loader, which needs it: the global is removed instead)
    const r = runScript(
      `delete globalThis.SharedArrayBuffer;
       const { Runtime } = await import('./src/runtime/runtime.ts');
       const a = await Runtime.create({ threads: 2 }); const b = await Runtime.create({ threads: 4 });
       console.log(a.threads, b.threads);`,
    );
    expect(r.stdout.trim()).toBe('1 1');
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('weft:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^weft: running on 1 thread instead of 2: SharedArrayBuffer is unavailable/);
    expect(warnings[0]).toContain('Cross-Origin-Opener-Policy: same-origin');
    expect(warnings[0]).toContain('Cross-Origin-Embedder-Policy: require-corp');
  });
});

describe('kernel calls split over threads', () => {
  let one: Runtime;
  const pools: Runtime[] = [];
  beforeAll(async () => {
    one = await Runtime.create({ threads: 1 });
    for (const threads of [2, 3]) pools.push(await Runtime.create({ threads, minSplitWork: 0 }));
  });
  afterAll(() => {
    one.dispose();
    for (const rt of pools) rt.dispose();
  });

  /** The same linear layer on every runtime; returns each runtime's output. */
  function linearOn(dtype: WeightDType, rows: number, inF: number, outF: number, seed: number): Float32Array[] {
    return [one, ...pools].map((rt) => {
      const next = seededRandom(seed);
      const x = putF32(rt, Array.from({ length: rows * inF }, () => next() - 0.5));
      const w = new Float32Array(Array.from({ length: outF * inF }, () => next() - 0.5));
      const bytes = dtype === 'f32' ? new Uint8Array(w.buffer) : toHalfBytes(w, dtype);
      const packed = packLinearWeight(rt, bytes, outF, inF, dtype);
      const b = putF32(rt, Array.from({ length: outF }, () => next()));
      const y = rt.alloc('f32', [rows, outF]);
      linear(rt, { ...x, shape: [rows, inF] }, packed, b, y);
      const out = rt.readF32(y);
      for (const t of [x, packed, b, y]) rt.free(t);
      return out;
    });
  }

  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    it(`linear ${dtype}: 2 and 3 threads give the bits of one thread (decode and prefill rows, awkward sizes)`, () => {
      for (const [rows, inF, outF] of [[1, 45, 37], [1, 64, 4], [1, 8, 1], [5, 45, 37], [9, 100, 131], [4, 576, 260]]) {
        const [ref, ...others] = linearOn(dtype, rows, inF, outF, rows * 1000 + outF);
        for (const got of others) expect(bits(got), `${rows}×${inF}×${outF}`).toEqual(bits(ref));
      }
    });
  }

  it('attention: heads split over threads, each with its own scores row, give the bits of one thread', () => {
    const [nHeads, nKvHeads, headDim, rows, pos0] = [6, 2, 20, 3, 9];
    const kvLen = pos0 + rows;
    const capacity = 16;
    const results = [one, ...pools].map((rt) => {
      const next = seededRandom(7);
      const q = putF32(rt, Array.from({ length: rows * nHeads * headDim }, () => next() - 0.5));
      const keys = putF32(rt, Array.from({ length: nKvHeads * capacity * headDim }, () => next() - 0.5));
      const values = putF32(rt, Array.from({ length: nKvHeads * capacity * headDim }, () => next() - 0.5));
      const out = rt.alloc('f32', [rows, nHeads * headDim]);
      rt.scratch.reset();
      const width = nHeads * headDim;
      attention(rt, {
        q: { offset: q.offset, stride: width, rows, width },
        cache: { keys, values, capacity },
        kvLen,
        pos0,
        out: { offset: out.offset, stride: width, rows, width },
        shape: { nHeads, nKvHeads, headDim },
        scale: 0.25,
        causal: true,
        mask: null,
        bias: null,
      });
      const result = rt.readF32(out);
      for (const t of [q, keys, values, out]) rt.free(t);
      return result;
    });
    for (const got of results.slice(1)) expect(bits(got)).toEqual(bits(results[0]));
  });

  it('after the memory grew, the workers read and write the new pages', async () => {
    const rt = await Runtime.create({ threads: 2, minSplitWork: 0, initialBytes: 1 << 16 });
    const before = rt.heap.memoryBytes;
    const [ref] = linearOn('f32', 3, 300, 200, 99);
    const next = seededRandom(99);
    const x = putF32(rt, Array.from({ length: 3 * 300 }, () => next() - 0.5));
    const w = new Float32Array(Array.from({ length: 200 * 300 }, () => next() - 0.5));
    const packed = packLinearWeight(rt, new Uint8Array(w.buffer), 200, 300, 'f32');
    const b = putF32(rt, Array.from({ length: 200 }, () => next()));
    const y = rt.alloc('f32', [3, 200]);
    expect(rt.heap.memoryBytes).toBeGreaterThan(before); // weights and output live in pages added after the pool started
    expect(rt.f32.length * 4).toBe(rt.memory.buffer.byteLength); // the host's views cover the grown shared memory too
    expect(y.offset + y.byteLength).toBeGreaterThan(before);
    linear(rt, { ...x, shape: [3, 300] }, packed, b, y);
    expect(bits(rt.readF32(y))).toEqual(bits(ref));
    rt.dispose();
  });

  it('an error in a worker reaches the caller as a WeftError, and the runtime stays usable', async () => {
    const rt = pools[0];
    const [nHeads, headDim, rows, capacity] = [64, 64, 8, 64];
    const q = putF32(rt, new Float32Array(rows * nHeads * headDim));
    const kv = putF32(rt, new Float32Array(capacity * headDim));
    const out = rt.alloc('f32', [rows, nHeads * headDim]);
    rt.scratch.reset();
    const scores = rt.temp('f32', [capacity]);
    // Thread t writes its scores at scratch + t·bytes: past the end of memory for every worker, fine for the caller.
    const call = {
      kernel: 'attention' as const,
      args: [q.offset, nHeads * headDim, kv.offset, kv.offset, capacity, out.offset, nHeads * headDim, rows, nHeads, 1, headDim, capacity, capacity - rows, 0.1, 1, 0, 0, scores.offset],
      start: 0,
      end: nHeads,
      unit: 1,
      work: Infinity,
      scratch: { arg: 17, bytes: 1 << 30 }, // the memory is far smaller than 1 GiB
    };
    // Which thread claims which chunk depends on scheduling: repeat until a worker has claimed one.
    let error: unknown = null;
    for (let i = 0; i < 200 && !error; i++) {
      try {
        rt.parallel(call);
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(WeftError);
    expect((error as WeftError).code).toBe('E_WASM');
    expect((error as WeftError).message).toMatch(/^kernel attention failed in a worker \(thread 1: .*memory access out of bounds/);
    for (const t of [q, kv, out]) rt.free(t);
    // still usable: the same results as one thread
    const [ref, got] = linearOn('f32', 2, 33, 29, 5);
    expect(bits(got)).toEqual(bits(ref));
  });
});

describe('lifecycle', () => {
  it('dispose() ends the workers: creating and disposing runtimes leaves the thread count where it was', async () => {
    const warm = await Runtime.create({ threads: 3 });
    warm.dispose();
    await settle();
    const before = osThreads();
    for (let i = 0; i < 10; i++) (await Runtime.create({ threads: 3 })).dispose();
    await settle();
    expect(osThreads()).toBeLessThanOrEqual(before);
    const rt = await Runtime.create({ threads: 2 });
    rt.dispose();
    expect(() => rt.parallel({ kernel: 'add', args: [0, 0, 0], start: 0, end: 0, unit: 1, work: 0 })).toThrow(/this Runtime was disposed/);
  });

  it('a process exits by itself after dispose(), and also when it never disposes', () => {
    const script = (dispose: boolean) => `
      import { Runtime } from './src/runtime/runtime.ts';
      const rt = await Runtime.create({ threads: 2 });
      console.log(rt.threads);
      ${dispose ? 'rt.dispose();' : ''}`;
    for (const dispose of [true, false]) {
      const r = runScript(script(dispose));
      expect(r.signal, `dispose: ${dispose}: killed after the timeout`).toBeNull();
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe('2');
    }
  });
});

describeData('many generations on a threaded runtime', () => {
  it('200 short generations of stories260K leave no growing wasm memory, heap or OS thread count', async () => {
    const rt = await Runtime.create({ threads: 2, minSplitWork: 0 });
    const lm = await loadModel(dataPath('llama2c-stories260k', 'stories260K.bin'), { runtime: rt });
    const first = await generate(lm, 'Once upon a time', { max_new_tokens: 8, temperature: 0 });
    const sample = () => ({ memory: rt.heap.memoryBytes, heap: rt.heap.usedBytes, threads: osThreads() });
    const before = sample();
    for (let i = 0; i < 200; i++) {
      const out = await generate(lm, 'Once upon a time', { max_new_tokens: 8, temperature: 0 });
      expect(out.text).toBe(first.text);
    }
    const after = sample();
    expect(after).toEqual(before);
    lm.model.dispose();
    rt.dispose();
  }, 120_000);
});

/** Float bits, so that −0/0 and NaN payloads count. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** f16 or bf16 bytes of f32 values (round to nearest even is not needed: any 16-bit pattern is a fine weight). */
function toHalfBytes(w: Float32Array, dtype: 'f16' | 'bf16'): Uint8Array {
  const u = new Uint32Array(w.buffer);
  const out = new Uint16Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = dtype === 'bf16' ? u[i] >>> 16 : (u[i] >>> 16) & 0xbfff; // f16: any pattern, no inf/nan
  return new Uint8Array(out.buffer);
}

/** Lets terminated workers' OS threads wind down. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 500));
}
