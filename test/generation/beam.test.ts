/**
 * Beam search has no shipped reference output, so it is checked by properties that fail when the search is wrong:
 * with at least vocab^L beams it must find the best-scoring sequence an exhaustive enumeration finds (under
 * length_penalty 0 and 1), return distinct hypotheses sorted by score, keep no_repeat_ngram_size, and with one
 * beam and no EOS follow greedy decoding. The model is a fake whose logits are a fixed pseudo-random function of
 * the whole sequence, so the enumeration recomputes them from scratch and shares no state with the beam caches.
 */
import { describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { beamSearch, checkBeamOptions, logSoftmax, type BeamDecoder, type BeamRun } from '../../src/generation/beam.js';
import { generate } from '../../src/generation/generate.js';
import { banBadWords, banRepeatedNgrams } from '../../src/generation/processors.js';
import { FakeLM, fakeLM } from './fakes.js';

/** Logits of the token after `ids`: a hash of the sequence spread over [-3, 3], sharp enough to matter. */
function fakeLogits(ids: readonly number[], vocab: number): Float32Array {
  let h = 2166136261;
  for (const id of ids) h = Math.imul(h ^ (id + 1), 16777619) >>> 0;
  const out = new Float32Array(vocab);
  for (let t = 0; t < vocab; t++) {
    h = Math.imul(h ^ (t + 7), 2654435761) >>> 0;
    out[t] = ((h % 6001) / 1000) - 3;
  }
  return out;
}

/** A BeamDecoder over fakeLogits, keeping each beam's ids as its "cache". */
class FakeBeams implements BeamDecoder {
  readonly config: { vocabSize: number };
  beams: number[][] = [];
  steps = 0;

  constructor(
    private readonly prompt: number[],
    vocab: number,
  ) {
    this.config = { vocabSize: vocab };
  }

  beginBeams(n: number): void {
    this.beams = Array.from({ length: n }, () => [...this.prompt]);
  }

  stepBeams(parents: readonly number[], ids: readonly number[]): Float32Array {
    this.steps++;
    this.beams = parents.map((p, b) => [...this.beams[p], ids[b]]);
    const v = this.config.vocabSize;
    const out = new Float32Array(this.beams.length * v);
    this.beams.forEach((seq, b) => out.set(fakeLogits(seq, v), b * v));
    return out;
  }

  endBeams(): void {
    this.beams = [];
  }
}

function search(prompt: number[], vocab: number, run: Omit<BeamRun, 'promptIds'>) {
  const model = new FakeBeams(prompt, vocab);
  return beamSearch(model, fakeLogits(prompt, vocab), { promptIds: prompt, ...run });
}

/** Every finished sequence of at most L generated ids (EOS only last; length L may end without it), with its score. */
function enumerate(prompt: number[], vocab: number, eos: number, L: number, lengthPenalty: number): Array<{ ids: number[]; score: number }> {
  const out: Array<{ ids: number[]; score: number }> = [];
  const walk = (ids: number[], logp: number) => {
    const lp = new Float64Array(vocab);
    logSoftmax(fakeLogits([...prompt, ...ids], vocab), lp);
    for (let t = 0; t < vocab; t++) {
      const next = [...ids, t];
      const sum = logp + lp[t];
      if (t === eos || next.length === L) out.push({ ids: next, score: sum / next.length ** lengthPenalty });
      else walk(next, sum);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

describe('beam search against exhaustive enumeration', () => {
  const vocab = 4;
  const eos = 3;
  const L = 3;
  const prompt = [1, 2];

  for (const [lengthPenalty, earlyStopping] of [
    [0, false],
    [1, 'never'],
    [0, 'never'],
  ] as const) {
    it(`with vocab^L = ${vocab ** L} beams, length_penalty ${lengthPenalty}, early_stopping ${String(earlyStopping)}: the best beams are the best sequences`, async () => {
      const all = enumerate(prompt, vocab, eos, L, lengthPenalty);
      // the case must be one where the greedy path is not the answer, or the check proves little
      expect(new Set(all.slice(0, 5).map((s) => s.ids.length)).size).toBeGreaterThan(1);
      const r = await search(prompt, vocab, {
        maxNewTokens: L,
        eosIds: [eos],
        options: { num_beams: vocab ** L, length_penalty: lengthPenalty, early_stopping: earlyStopping, num_return_sequences: 10 },
      });
      expect(r.hypotheses.length).toBe(10);
      r.hypotheses.forEach((h, i) => {
        expect(h.ids).toEqual(all[i].ids);
        expect(h.score).toBeCloseTo(all[i].score, 9);
        expect(h.finishedByEos).toBe(h.ids[h.ids.length - 1] === eos);
      });
    });
  }

  it('num_return_sequences are distinct and sorted by score, with a few beams too', async () => {
    const r = await search([5], 12, { maxNewTokens: 6, eosIds: [0], options: { num_beams: 6, num_return_sequences: 6 } });
    const keys = r.hypotheses.map((h) => h.ids.join(','));
    expect(new Set(keys).size).toBe(6);
    for (let i = 1; i < r.hypotheses.length; i++) expect(r.hypotheses[i].score).toBeLessThanOrEqual(r.hypotheses[i - 1].score);
  });

  it('one beam with no EOS follows greedy decoding', async () => {
    const prompt1 = [4];
    const greedy: number[] = [];
    for (let i = 0; i < 8; i++) {
      const l = fakeLogits([...prompt1, ...greedy], 9);
      greedy.push(l.indexOf(Math.max(...l)));
    }
    const r = await search(prompt1, 9, { maxNewTokens: 8, eosIds: [], options: { num_beams: 1 } });
    expect(r.hypotheses[0].ids).toEqual(greedy);
  });

  it('more beams never find a worse best hypothesis than fewer (early_stopping never, length_penalty 0)', async () => {
    let previous = -Infinity;
    for (const beams of [1, 2, 4, 16, 64]) {
      const r = await search([3], 8, { maxNewTokens: 4, eosIds: [7], options: { num_beams: beams, length_penalty: 0, early_stopping: 'never' } });
      expect(r.hypotheses[0].score).toBeGreaterThanOrEqual(previous - 1e-12);
      previous = r.hypotheses[0].score;
    }
  });
});

describe('beam search options and processors', () => {
  it('no_repeat_ngram_size: no hypothesis repeats an n-gram of prompt + generated ids', async () => {
    for (const n of [1, 2, 3]) {
      const prompt = [1, 2, 1];
      // a vocabulary of 5 over 12 steps forces repetition without the processor
      const r = await search(prompt, 5, { maxNewTokens: n === 1 ? 3 : 12, eosIds: [], options: { num_beams: 4, num_return_sequences: 4, no_repeat_ngram_size: n } });
      for (const h of r.hypotheses) {
        const seq = [...prompt, ...h.ids];
        const seen = new Set<string>();
        for (let i = 0; i + n <= seq.length; i++) {
          const gram = seq.slice(i, i + n).join(',');
          // n-grams inside the prompt may repeat (they were given); a generated token never completes a repeat
          if (i + n > prompt.length) expect(seen.has(gram), `n=${n} ${seq.join(',')}`).toBe(false);
          seen.add(gram);
        }
      }
    }
  });

  it('banRepeatedNgrams bans exactly the tokens that followed the last n-1 ids', () => {
    const s = new Float64Array(6);
    banRepeatedNgrams(s, [1, 2, 3, 1, 2, 4, 1, 2], 3);
    expect([...s].map((x) => x === -Infinity)).toEqual([false, false, false, true, true, false]);
  });

  it('banBadWords bans the last id of a bad sequence only after its prefix, single ids always, never [EOS] alone', () => {
    const s = new Float64Array(6);
    banBadWords(s, [4, 1, 2], [[1, 2, 3], [2, 5], [0], [4]], [4]);
    expect([...s].map((x) => x === -Infinity)).toEqual([true, false, false, true, false, true]);
  });

  it('bad_words_ids: no hypothesis contains a banned sequence', async () => {
    const bad = [[2, 3], [1]];
    const r = await search([4], 5, { maxNewTokens: 8, eosIds: [], options: { num_beams: 4, num_return_sequences: 4, bad_words_ids: bad } });
    const free = await search([4], 5, { maxNewTokens: 8, eosIds: [], options: { num_beams: 4, num_return_sequences: 4 } });
    const contains = (ids: number[], w: number[]) => ids.some((_, i) => w.every((t, j) => ids[i + j] === t));
    expect(free.hypotheses.some((h) => bad.some((w) => contains([4, ...h.ids], w)))).toBe(true); // the ban changes something
    for (const h of r.hypotheses) for (const w of bad) expect(contains([4, ...h.ids], w)).toBe(false);
  });

  it('min_new_tokens keeps EOS out until then; forced_bos and forced_eos place their ids', async () => {
    const r = await search([2], 6, { maxNewTokens: 5, eosIds: [0], options: { num_beams: 3, num_return_sequences: 3, min_new_tokens: 4, forced_eos_token_id: 0 } });
    for (const h of r.hypotheses) {
      expect(h.ids.indexOf(0)).toBeGreaterThanOrEqual(4);
      expect(h.ids[h.ids.length - 1]).toBe(0); // ended by EOS at step 5 or earlier than the limit after min_new_tokens
    }
    const bos = await search([2], 6, { maxNewTokens: 3, eosIds: [], options: { num_beams: 3, num_return_sequences: 3, forced_bos_token_id: 5 } });
    for (const h of bos.hypotheses) expect(h.ids[0]).toBe(5);
  });

  it('early_stopping true stops once num_beams hypotheses are finished', async () => {
    const loose = await search([1], 4, { maxNewTokens: 12, eosIds: [3], options: { num_beams: 2, early_stopping: 'never', length_penalty: 2 } });
    const eager = await search([1], 4, { maxNewTokens: 12, eosIds: [3], options: { num_beams: 2, early_stopping: true, length_penalty: 2 } });
    expect(eager.steps).toBeLessThanOrEqual(loose.steps);
  });

  it('through generate: beams need a model with beam caches, temperature 0 and no stop strings', async () => {
    const lm = fakeLM(new FakeLM(() => 3), null);
    await expect(generate(lm, [1], { num_beams: 2 })).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
    await expect(generate(lm, [1], { num_beams: 2, temperature: 0.7 })).rejects.toMatchObject({ code: 'E_OPTION' });
    await expect(generate(lm, [1], { num_beams: 0 })).rejects.toMatchObject({ code: 'E_OPTION' });
    expect((await generate(lm, [1], { num_beams: 1, max_new_tokens: 2 })).ids).toEqual([3, 3]); // 1 beam: greedy
  });

  it('num_beams 0, fractional, absurd, and num_return_sequences > num_beams are E_OPTION errors', () => {
    for (const o of [{ num_beams: 0 }, { num_beams: 1.5 }, { num_beams: 1e6 }, { num_beams: 2, num_return_sequences: 3 }, { early_stopping: 'sometimes' as never }, { length_penalty: NaN }]) {
      try {
        checkBeamOptions(o);
        expect.unreachable(JSON.stringify(o));
      } catch (e) {
        expect(e).toBeInstanceOf(WeftError);
        expect((e as WeftError).code).toBe('E_OPTION');
      }
    }
  });
});
