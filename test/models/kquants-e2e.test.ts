// K-quant models end to end against llama.cpp on the same files. A random llama (dim 256, ffn 768, 2 layers, GQA
// 4/2 heads, stories260K's 512-token vocabulary) is written as F32 GGUF and quantized by llama.cpp's own quantizer
// (test/models/kquant-model.ts) to Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K and IQ4_XS (every K type and IQ4_XS occurs,
// and fused q/k/v of mixed types); each file, and the F32 one as a baseline, then runs in weft and in llama.cpp
// (node-llama-cpp, one thread, f32 KV cache, no flash attention), teacher-forced over a 24-token sequence and
// greedily for 16 more tokens. node-llama-cpp hands out probabilities, not logits, so log-probabilities are compared
// (over the tokens llama.cpp gives p ≥ 1e-4). And weft's Q4_K quantizer (quantize on load) must give llama.cpp's
// bytes for every Q4_K tensor llama.cpp wrote into the Q4_K_M file (quantize_row_q4_K_ref: no importance matrix).
//
// Tolerance. Both engines quantize every matmul's activations to Q8_K with the same rule and take exact integer dot
// products per 256-block, so where the 8-bit activations agree the two differ only by f32 rounding order (norms,
// softmax, llama.cpp's 8-lane block sums): measured |Δ log p| ≤ 3e-6, as for the F32 file. But 8-bit rounding is a
// step function: an activation within an ulp of a .5 boundary rounds one way in one engine and the other way in the
// other (their RMS norms differ in the last bit), one 8-bit step moves, and every later position that attends to it
// moves too. Measured here: such a flip in 2 of the 6 files, |Δ log p| up to 0.067 (Q4_K_M, from position 14 on)
// and 0.0096 (Q5_K_M, two positions). So: every position within 0.15, at least half the positions within 1e-4
// (the arithmetic is the same; a wrong kernel or wiring misses both by far), and the greedy ids equal.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openGguf } from '../../src/files/local.js';
import { loadModel } from '../../src/models/model.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { putBytes } from '../kernels/util.js';
import { dataPath, describeData } from '../helpers/data.js';
import { FTYPES, type KFileType, llamaQuantize, MODEL, writeF32Model } from './kquant-model.js';

/** The F32 file (the baseline: no activation quantization on either side) and llama.cpp's K-quant files. */
const FILES: Array<KFileType | 'F32'> = ['F32', ...(Object.keys(FTYPES) as KFileType[])];

const PROMPT = [1, 403, 407, 261, 378, 432, 383, 286, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];
const GREEDY = 16;

let dir = '';
const files = new Map<KFileType | 'F32', string>();

describeData('K-quant GGUF files made by llama.cpp: weft against llama.cpp', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-kquant-'));
    const f32 = join(dir, 'model-F32.gguf');
    await writeF32Model(f32, dataPath('llama2c-stories260k/stories260K.gguf'));
    for (const ftype of Object.keys(FTYPES) as KFileType[]) {
      const out = join(dir, `model-${ftype}.gguf`);
      llamaQuantize(f32, out, ftype);
      if (!existsSync(out)) throw new Error(`llama.cpp did not write ${out}`);
      files.set(ftype, out);
    }
    files.set('F32', f32);
  }, 300_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("weft's Q4_K quantizer gives llama.cpp's bytes for every Q4_K tensor of the Q4_K_M file", async () => {
    const source = await openGguf(files.get('F32')!);
    const made = await openGguf(files.get('Q4_K_M')!);
    const rt = await Runtime.create();
    let tensors = 0;
    try {
      for (const t of made.tensors.filter((x) => x.typeName === 'Q4_K')) {
        const f32 = source.tensors.find((x) => x.name === t.name)!;
        const src = putBytes(rt, await source.source.read(f32.offset, f32.byteLength));
        const dst = rt.heap.alloc(t.byteLength);
        rt.kernels.quantizeRowQ4_K_ref(src, dst, f32.byteLength / 4);
        const want = await made.source.read(t.offset, t.byteLength);
        const got = rt.u8.slice(dst, dst + t.byteLength);
        expect(got.findIndex((v, i) => v !== want[i]), `${t.name}: first byte differing from llama.cpp's`).toBe(-1);
        rt.heap.release(src);
        rt.heap.release(dst);
        tensors++;
      }
    } finally {
      await source.source.close();
      await made.source.close();
    }
    expect(tensors).toBeGreaterThanOrEqual(10);
  });

  for (const ftype of FILES) {
    it(`${ftype}: log-probabilities as llama.cpp's (1e-4 where no 8-bit rounding flips, 0.15 everywhere) and the same greedy ids`, async () => {
      const path = files.get(ftype)!;
      const llamaCpp = await llamaCppRun(path);
      const lm = await loadModel(path);
      try {
        const logits = lm.model.forward(PROMPT, { all: true });
        // per position, the largest |Δ log p| over tokens llama.cpp gives p ≥ 1e-4
        const worst = PROMPT.map((_, pos) => {
          const mine = logSoftmax(logits.subarray(pos * MODEL.vocab, (pos + 1) * MODEL.vocab));
          let w = 0;
          for (const [token, p] of llamaCpp.probabilities[pos]) if (p >= 1e-4) w = Math.max(w, Math.abs(mine[token] - Math.log(p)));
          return w;
        });
        const summary = worst.map((w) => w.toExponential(1)).join(' ');
        expect(Math.max(...worst), `${ftype}: |Δ log p| per position: ${summary}`).toBeLessThanOrEqual(0.15);
        expect(worst.filter((w) => w <= 1e-4).length, `${ftype}: positions within 1e-4: ${summary}`).toBeGreaterThanOrEqual(PROMPT.length / 2);
        const greedy: number[] = [];
        let last = logits.subarray((PROMPT.length - 1) * MODEL.vocab);
        for (let i = 0; i < GREEDY; i++) {
          const next = argmax(last);
          greedy.push(next);
          last = lm.model.forward([next]);
        }
        expect(greedy, `${ftype}: greedy ids`).toEqual(llamaCpp.greedy);
      } finally {
        lm.model.dispose();
      }
    }, 120_000);
  }
});

function logSoftmax(x: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(x, (v) => v - lse);
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** llama.cpp on the file: the probabilities after every prompt position (one batch), then GREEDY greedy tokens. */
async function llamaCppRun(path: string): Promise<{ probabilities: Array<Map<number, number>>; greedy: number[] }> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  type Token = import('node-llama-cpp').Token;
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, build: 'never' });
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({
      contextSize: MODEL.context,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const sequence = context.getSequence();
    const next = { generateNext: { probabilities: true } } as const;
    const out = await sequence.controlledEvaluate(PROMPT.map((t) => [t as Token, next]));
    const probabilities = out.map((o, i) => {
      if (!o?.next?.probabilities) throw new Error(`llama.cpp gave no probabilities at position ${i}`);
      return o.next.probabilities;
    });
    const greedy: number[] = [];
    let p = probabilities[probabilities.length - 1];
    for (let i = 0; i < GREEDY; i++) {
      const token = argmaxMap(p);
      greedy.push(token);
      const step = await sequence.controlledEvaluate([[token as Token, next]]);
      p = step[0]!.next!.probabilities!;
    }
    await context.dispose();
    return { probabilities, greedy };
  } finally {
    await model.dispose();
  }
}

/** The token of highest probability (the lowest id on a tie, as argmax over logits). */
function argmaxMap(p: Map<number, number>): number {
  let best = -1;
  let bestP = -1;
  for (const [token, prob] of p) if (prob > bestP || (prob === bestP && token < best)) [best, bestP] = [token, prob];
  return best;
}
