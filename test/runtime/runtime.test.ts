import { describe, expect, it } from 'vitest';
import { Runtime, relaxedSimdSupported } from '../../src/runtime/runtime.js';
import { readFile } from 'node:fs/promises';

describe('Runtime', () => {
  it('picks the relaxed build exactly when the engine validates relaxed SIMD', async () => {
    const rt = await Runtime.create();
    expect(rt.relaxedSimd).toBe(relaxedSimdSupported());
    // Node 20 enables relaxed SIMD only behind a flag: the two vitest projects cover both branches.
    expect(relaxedSimdSupported()).toBe(process.execArgv.includes('--experimental-wasm-relaxed-simd'));
  });

  it('loads from bytes and from a precompiled WebAssembly.Module', async () => {
    const bytes = await readFile(new URL('../../build/weft-simd.wasm', import.meta.url));
    const fromBytes = await Runtime.create({ wasm: bytes });
    const fromModule = await Runtime.create({ wasm: await WebAssembly.compile(bytes) });
    for (const rt of [fromBytes, fromModule]) {
      const t = rt.alloc('f32', [5]);
      rt.write(t, new Float32Array([1, 2, 3, 4, 5]));
      expect(rt.kernels.sumF32(t.offset, 5)).toBe(15);
    }
  });

  it('refreshes views after growth and reuses freed blocks', async () => {
    const rt = await Runtime.create({ initialBytes: 1 << 16, threads: 1 }); // a private memory: a grow detaches its views
    const a = rt.alloc('f32', [4]);
    const before = rt.f32;
    const big = rt.alloc('f32', [1 << 22]); // 16 MiB: forces memory.grow
    expect(rt.f32 === before).toBe(false);
    expect(before.buffer.byteLength).toBe(0); // the old view was detached by the grow
    expect(rt.f32.length * 4).toBe(rt.memory.buffer.byteLength);
    rt.free(big);
    const again = rt.alloc('f32', [1 << 22]);
    expect(again.offset).toBe(big.offset);
    rt.free(a);
    rt.free(again);
    expect(rt.heap.usedBytes).toBe(0);
  });

  it('reports exhaustion past the wasm32 ceiling with a clear error and stays usable', async () => {
    const rt = await Runtime.create();
    expect(() => rt.alloc('f32', [2 ** 31])).toThrow(/4 GiB wasm32 limit/);
    const t = rt.alloc('f32', [3]);
    rt.write(t, new Float32Array([1, 1, 1]));
    expect(rt.kernels.sumF32(t.offset, 3)).toBe(3);
  });

  it('scratch arena resets to one chunk of the total size', async () => {
    const rt = await Runtime.create();
    const a = rt.temp('f32', [1 << 19]);
    const b = rt.temp('f32', [1 << 19]);
    expect(b.offset).not.toBe(a.offset);
    rt.scratch.reset();
    const c = rt.temp('f32', [1 << 19]);
    const d = rt.temp('f32', [1 << 19]);
    expect(d.offset - c.offset).toBe(1 << 21); // contiguous after the merge
  });
});
