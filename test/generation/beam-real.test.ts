/**
 * Beam search on decoder-only reference models (llama-a: RoPE, GQA; gpt2-a: learned positions), where every beam
 * has its own KV cache: with the vocabulary cut to 4 ids by logit_bias, 4³ beams over 3 new tokens must return the
 * best sequences of an exhaustive enumeration scored by full recomputation (the prompt and prefix run from an empty
 * cache, no beam caches involved). And the cache reordering itself: contents follow the parents, and a step in which
 * every beam keeps its own line copies nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logSoftmax } from '../../src/generation/beam.js';
import { generate } from '../../src/generation/generate.js';
import { KvCache } from '../../src/models/blocks/attention.js';
import { BeamCaches } from '../../src/models/blocks/beam-caches.js';
import { loadModel } from '../../src/models/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { dataPath, describeData } from '../helpers/data.js';

describeData('beam search on decoder-only reference models', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });
  afterAll(() => rt.dispose());

  for (const name of ['llama-a', 'gpt2-a']) {
    it(`${name}: 64 beams over a 4-id vocabulary find the enumeration's best sequences (length_penalty 0 and 1)`, async () => {
      const lm = await loadModel(dataPath('ref-models', name), { runtime: rt });
      const { model } = lm;
      try {
        const prompt = [5, 77, 300, 12];
        const vocab = model.config.vocabSize;
        const allowed = [3, 40, 41, 200];
        const eos = 200;
        const logit_bias: Record<number, number> = {};
        for (let id = 0; id < vocab; id++) if (!allowed.includes(id)) logit_bias[id] = -Infinity;
        const L = 3;
        for (const [lengthPenalty, earlyStopping] of [
          [0, false],
          [1, 'never'],
        ] as const) {
          const scored: Array<{ ids: number[]; score: number }> = [];
          const walk = (ids: number[], sum: number) => {
            model.reset();
            const logits = model.forward([...prompt, ...ids]);
            const lp = new Float64Array(vocab);
            logSoftmax(logits, lp);
            for (const t of allowed) {
              const next = [...ids, t];
              if (t === eos || next.length === L) scored.push({ ids: next, score: (sum + lp[t]) / next.length ** lengthPenalty });
              else walk(next, sum + lp[t]);
            }
          };
          walk([], 0);
          scored.sort((a, b) => b.score - a.score);
          const r = await generate(lm, prompt, { num_beams: 64, num_return_sequences: 8, max_new_tokens: L, length_penalty: lengthPenalty, early_stopping: earlyStopping, logit_bias, eos_token_id: eos });
          expect(r.sequences!.map((s) => s.ids)).toEqual(scored.slice(0, 8).map((s) => s.ids));
          r.sequences!.forEach((s, i) => expect(Math.abs(s.score - scored[i].score)).toBeLessThan(1e-4));
          expect(r.promptIds).toEqual(prompt);
          // afterwards the model's cache holds the prompt, and greedy from it still works
          expect(model.cacheLength).toBe(prompt.length);
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('BeamCaches: slots follow their parents; only a parent with several children is copied', () => {
    const shape = { nHeads: 1, nKvHeads: 1, headDim: 2 };
    const base = new KvCache(rt, 1, shape, 8);
    base.length = 2;
    const caches = new BeamCaches(rt, shape, base, 3, 8);
    try {
      const mark = (b: number, v: number) => {
        const layer = caches.cacheOf(b)(0);
        rt.f32.fill(v, layer.keys.offset / 4 + caches.length * 2, layer.keys.offset / 4 + caches.length * 2 + 2);
      };
      const keyAt = (b: number, pos: number) => rt.f32[caches.cacheOf(b)(0).keys.offset / 4 + pos * 2];
      rt.f32.fill(9, base.layers[0].keys.offset / 4, base.layers[0].keys.offset / 4 + 4); // the prompt's 2 positions
      caches.reorder([0, 0, 0]); // first step: every beam continues beam 0
      expect(caches.copiedBytes).toBeGreaterThan(0);
      [1, 2, 3].forEach((v, b) => mark(b, v));
      caches.length++;
      const before = caches.copiedBytes;
      caches.reorder([0, 1, 2]); // every beam keeps its line: nothing copied
      expect(caches.copiedBytes).toBe(before);
      caches.reorder([2, 2, 0]); // beam 1 dies; beam 2 has two children
      expect(caches.copiedBytes).toBeGreaterThan(before);
      expect([keyAt(0, 2), keyAt(1, 2), keyAt(2, 2)]).toEqual([3, 3, 1]);
      expect([keyAt(0, 0), keyAt(1, 1), keyAt(2, 0)]).toEqual([9, 9, 9]);
    } finally {
      caches.free();
      base.free(rt);
    }
  });
});
