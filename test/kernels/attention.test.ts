import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectClose, getF32, putF32, seededRandom } from './util.js';

interface Case {
  rows: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  capacity: number;
  kvLen: number;
  pos0: number;
  causal: 0 | 1;
  qStride: number;
  outStride: number;
  start: number;
  end: number;
}

interface Inputs {
  q: number[]; // [rows × qStride]
  kCache: number[]; // [nKvHeads × capacity × headDim]
  vCache: number[];
  mask: number[] | null; // [kvLen]
  bias: number[] | null; // [nHeads × rows × kvLen]
  scale: number;
}

/** float64 attention: out[rows × outStride] for heads [start, end); other elements are left undefined. */
function attention64(c: Case, x: Inputs): Array<number | undefined> {
  const out = new Array<number | undefined>(c.rows * c.outStride);
  const group = c.nHeads / c.nKvHeads;
  for (let h = c.start; h < c.end; h++) {
    const kvHead = Math.floor(h / group);
    for (let i = 0; i < c.rows; i++) {
      const n = c.causal ? Math.min(c.kvLen, c.pos0 + i + 1) : c.kvLen;
      const s: number[] = [];
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let d = 0; d < c.headDim; d++) dot += x.q[i * c.qStride + h * c.headDim + d] * x.kCache[(kvHead * c.capacity + j) * c.headDim + d];
        s.push(dot * x.scale + (x.mask ? x.mask[j] : 0) + (x.bias ? x.bias[(h * c.rows + i) * c.kvLen + j] : 0));
      }
      const m = Math.max(-Infinity, ...s);
      const e = s.map((v) => (m === -Infinity ? 0 : Math.exp(v - m)));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < c.headDim; d++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += e[j] * x.vCache[(kvHead * c.capacity + j) * c.headDim + d];
        out[i * c.outStride + h * c.headDim + d] = sum > 0 ? acc / sum : 0;
      }
    }
  }
  return out;
}

const SENTINEL = -999;

function makeInputs(c: Case, seed: number, withMask: boolean, withBias: boolean): Inputs {
  const rand = seededRandom(seed);
  const r = () => Math.fround(rand() * 2 - 1);
  const cacheSize = c.nKvHeads * c.capacity * c.headDim;
  // cache slots at positions ≥ kvLen hold NaN: reading one would poison the output
  const cache = () => Array.from({ length: cacheSize }, (_, k) => (Math.floor(k / c.headDim) % c.capacity < c.kvLen ? r() : NaN));
  const mask = withMask ? Array.from({ length: c.kvLen }, (_, j) => (j % 5 === 1 ? -Infinity : Math.fround(r() * 0.5))) : null;
  const bias = withBias ? Array.from({ length: c.nHeads * c.rows * c.kvLen }, () => Math.fround(r() * 3)) : null;
  return { q: Array.from({ length: c.rows * c.qStride }, () => Math.fround(r() * 3)), kCache: cache(), vCache: cache(), mask, bias, scale: Math.fround(1 / Math.sqrt(c.headDim)) };
}

// Outputs are convex combinations of V entries in [−1, 1]. Scores sum headDim f32 products (rounding ≲ 1e-6 on
// |q·k|·scale ≲ 10) before exp, and the softmax and weighted sum add a few ulp: 2e-6 absolute.
const TOL = 2e-6;

describe('attention', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  const run = (name: 'attention' | 'attention_ref', c: Case, x: Inputs) => {
    const tq = putF32(rt, x.q);
    const tk = putF32(rt, x.kCache);
    const tv = putF32(rt, x.vCache);
    const tm = x.mask ? putF32(rt, x.mask) : null;
    const tb = x.bias ? putF32(rt, x.bias) : null;
    const to = putF32(rt, new Array<number>(c.rows * c.outStride).fill(SENTINEL));
    const scratch = rt.alloc('f32', [c.kvLen]);
    rt.kernels[name](
      tq.offset, c.qStride, tk.offset, tv.offset, c.capacity, to.offset, c.outStride, c.rows, c.nHeads, c.nKvHeads, c.headDim,
      c.kvLen, c.pos0, x.scale, c.causal, tm ? tm.offset : 0, tb ? tb.offset : 0, scratch.offset, c.start, c.end,
    );
    const out = getF32(rt, to);
    for (const t of [tq, tk, tv, tm, tb, to, scratch]) if (t) rt.free(t);
    return out;
  };

  const check = (c: Case, x: Inputs, what: string) => {
    const want = attention64(c, x);
    for (const name of ['attention', 'attention_ref'] as const) {
      const got = run(name, c, x);
      const idx = want.flatMap((v, k) => (v === undefined ? [] : [k]));
      expectClose(idx.map((k) => got[k]), idx.map((k) => want[k]!), TOL, `${name} ${what}`);
      const untouched = want.flatMap((v, k) => (v === undefined && got[k] !== SENTINEL ? [k] : []));
      expect(untouched, `${name} ${what}: wrote outside heads [${c.start}, ${c.end})`).toEqual([]);
    }
  };

  it('matches float64 for GQA ratios 1, 2, 3, causal decode and prefill, non-causal with mask and bias', () => {
    let seed = 0;
    for (const headDim of [1, 3, 5, 17, 33, 64, 67, 130]) {
      for (const group of [1, 2, 3]) {
        const nKvHeads = 2;
        const nHeads = nKvHeads * group;
        const base = { nHeads, nKvHeads, headDim, capacity: 40, qStride: nHeads * headDim + 5, outStride: nHeads * headDim + 3 };
        const modes: Array<[string, Case, boolean, boolean]> = [
          ['decode', { ...base, rows: 1, pos0: 22, kvLen: 23, causal: 1, start: 0, end: nHeads }, false, false],
          ['prefill', { ...base, rows: 7, pos0: 2, kvLen: 9, causal: 1, start: 1, end: nHeads }, false, false],
          ['prefill+mask', { ...base, rows: 3, pos0: 0, kvLen: 3, causal: 1, start: 0, end: nHeads }, true, false],
          ['encoder+mask+bias', { ...base, rows: 7, pos0: 0, kvLen: 7, causal: 0, start: 0, end: nHeads - 1 }, true, true],
          ['encoder+bias', { ...base, rows: 2, pos0: 0, kvLen: 37, causal: 0, start: 0, end: nHeads }, false, true],
        ];
        for (const [mode, c, mask, bias] of modes) check(c, makeInputs(c, seed++, mask, bias), `${mode} headDim=${headDim} group=${group}`);
      }
    }
  });

  it('a fully masked query row outputs zeros', () => {
    // keys 0..2 masked out, causal from position 0: rows 0, 1, 2 see no key at all; rows 3.. see some
    const c: Case = { rows: 5, nHeads: 2, nKvHeads: 1, headDim: 17, capacity: 8, kvLen: 5, pos0: 0, causal: 1, qStride: 34, outStride: 34, start: 0, end: 2 };
    const x = makeInputs(c, 99, false, false);
    x.mask = [-Infinity, -Infinity, -Infinity, 0, 0];
    check(c, x, 'masked rows');
    const got = run('attention', c, x);
    expect(Array.from(got.subarray(0, 3 * 34)).every((v) => v === 0), 'rows 0..2 are zeros').toBe(true);
    // a row masked only through the bias
    const all: Case = { ...c, causal: 0, rows: 1 };
    const y = makeInputs(all, 5, false, false);
    y.bias = new Array<number>(2 * 5).fill(-Infinity);
    expect(Array.from(run('attention', all, y).subarray(0, 34)).every((v) => v === 0), 'bias −inf row is zeros').toBe(true);
  });

  it('decode over a long cache (kvLen 3000, headDim 128) matches float64', () => {
    const c: Case = { rows: 1, nHeads: 4, nKvHeads: 2, headDim: 128, capacity: 3072, kvLen: 3000, pos0: 2999, causal: 1, qStride: 512, outStride: 512, start: 0, end: 4 };
    check(c, makeInputs(c, 7, false, false), 'long decode');
  });

  it('kvStore writes rows of a fused k/v into positions [pos, pos + rows) of each head', () => {
    const nKvHeads = 3;
    const headDim = 5;
    const capacity = 6;
    const rows = 2;
    const pos = 3;
    const srcStride = nKvHeads * headDim + 4; // k and v inside wider rows
    const rand = seededRandom(1);
    const k = Array.from({ length: rows * srcStride }, () => Math.fround(rand()));
    const v = Array.from({ length: rows * srcStride }, () => Math.fround(rand()));
    const tk = putF32(rt, k);
    const tv = putF32(rt, v);
    const kc = putF32(rt, new Array<number>(nKvHeads * capacity * headDim).fill(SENTINEL));
    const vc = putF32(rt, new Array<number>(nKvHeads * capacity * headDim).fill(SENTINEL));
    rt.kernels.kvStore(tk.offset, tv.offset, srcStride, kc.offset, vc.offset, capacity, nKvHeads, headDim, pos, rows);
    for (const [src, cache] of [[k, getF32(rt, kc)], [v, getF32(rt, vc)]] as const) {
      for (let h = 0; h < nKvHeads; h++) {
        for (let p = 0; p < capacity; p++) {
          const slot = Array.from(cache.subarray((h * capacity + p) * headDim, (h * capacity + p + 1) * headDim));
          const r = p - pos;
          const want = r >= 0 && r < rows ? src.slice(r * srcStride + h * headDim, r * srcStride + (h + 1) * headDim) : new Array<number>(headDim).fill(SENTINEL);
          expect(slot, `head ${h} position ${p}`).toEqual(want);
        }
      }
    }
    for (const t of [tk, tv, kc, vc]) rt.free(t);
  });
});
