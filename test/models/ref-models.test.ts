/**
 * Every decoder of ../shared/data/ref-models against its float64 reference (transformers' modeling code ported to
 * numpy, confirmed by llama.cpp and torch: ref-models/README.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/model.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { dataPath, describeData } from '../helpers/data.js';
import { greedyWithCache, maxAbsDiff, readJson } from './helpers.js';

interface Expected {
  cases: Array<{ input_ids: number[]; logits: number[][] }>;
  greedy: { prompt_ids: number[]; max_new_tokens: number; generated_ids: number[] };
}

// f32 arithmetic against float64 references: the same forward in f32 numpy deviates by at most 2.3e-6 on these
// logits (ref-models/README.md), so 2e-5 leaves ~10× headroom for our different summation order. The f16/bf16
// references were computed from the rounded weights, which we keep exactly, so the same bound applies to them.
const LOGIT_TOLERANCE = 2e-5;
// Prefill of the whole sequence vs one token at a time: the same math through many-row and one-row kernels,
// which may sum in a different order: measured ≤ 1.8e-6 on these logits (|x| < 5), so 1e-5 leaves ~5× headroom.
const PREFILL_VS_STEP_TOLERANCE = 1e-5;

const MODELS: Array<{ name: string; path: string; expected: string }> = [
  ...['gpt2-a', 'gpt2-a-f16', 'gpt2-a-bf16', 'gpt2-b', 'llama-a', 'llama-b', 'qwen2-a'].map((name) => ({
    name,
    path: `ref-models/${name}`,
    expected: `ref-models/${name}/expected_outputs.json`,
  })),
  // gpt2-a's weights in llama.cpp naming and layout: the same expected outputs apply.
  { name: 'gpt2-a.gguf', path: 'ref-models/gpt2-a/gpt2-a.gguf', expected: 'ref-models/gpt2-a/expected_outputs.json' },
];

describeData('reference decoders', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });
  afterAll(() => rt.dispose());

  for (const m of MODELS) {
    describe(m.name, () => {
      let model: CausalLM;
      let expected: Expected;
      beforeAll(async () => {
        model = (await loadModel(dataPath(m.path), { runtime: rt })).model;
        expected = readJson(dataPath(m.expected));
      });
      afterAll(() => model?.dispose());

      it(`logits at every position of every case within ${LOGIT_TOLERANCE}`, () => {
        for (const c of expected.cases) {
          model.reset();
          const logits = model.forward(c.input_ids, { all: true });
          expect(maxAbsDiff(logits, c.logits), `case of ${c.input_ids.length} tokens`).toBeLessThan(LOGIT_TOLERANCE);
          expect(model.cacheLength).toBe(c.input_ids.length);
        }
      });

      it('greedy ids through the KV cache equal the reference, and prefill logits equal step-by-step ones', () => {
        const { prompt_ids: prompt, max_new_tokens: steps, generated_ids: want } = expected.greedy;
        const { ids, logits: stepLogits } = greedyWithCache(model, prompt, steps);
        expect(ids).toEqual(want);

        // The same sequence as one prefill: the logits of its last `steps` positions are what each step saw.
        model.reset();
        const all = model.forward([...prompt, ...ids.slice(0, steps - 1)], { all: true });
        const vocab = model.config.vocabSize;
        const prefillTail = all.subarray((prompt.length - 1) * vocab);
        let worst = 0;
        for (let i = 0; i < stepLogits.length; i++) worst = Math.max(worst, Math.abs(prefillTail[i] - stepLogits[i]));
        expect(worst).toBeLessThan(PREFILL_VS_STEP_TOLERANCE);
      });
    });
  }
});
