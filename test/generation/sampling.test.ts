/**
 * Sampling has no external reference output, so it is tested by properties: greedy limits, the frequencies of
 * seeded draws against the filtered softmax (χ²), determinism per seed, and the penalty formulas of Hugging Face's
 * logits processors and OpenAI's definition on small vectors.
 */
import { describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import {
  applyLogitBias,
  applyPresenceFrequencyPenalty,
  applyRepetitionPenalty,
  argmax,
  checkSamplingOptions,
  drawFrom,
  Rng,
  Sampler,
  samplingDistribution,
} from '../../src/generation/sampling.js';

/** Upper 0.1% points of the χ² distribution by degrees of freedom (standard tables). */
const CHI2_999: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32, 15: 37.7 };

/** χ² statistic of observed counts against expected probabilities (all > 0). */
function chi2(counts: number[], probs: number[], n: number): number {
  let s = 0;
  for (let i = 0; i < probs.length; i++) s += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
  return s;
}

/** Plain softmax written out independently of the code under test. */
function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** Draws `n` tokens from the distribution the sampler builds and counts them per id. */
function drawCounts(logits: number[], o: Parameters<typeof samplingDistribution>[1], n: number, seed: number): number[] {
  const dist = samplingDistribution(Float32Array.from(logits), o);
  const rng = new Rng(seed);
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[drawFrom(dist, rng.nextFloat())]++;
  return counts;
}

function randomLogits(rng: Rng, n: number): Float32Array {
  const l = new Float32Array(n);
  for (let i = 0; i < n; i++) l[i] = rng.nextFloat() * 8 - 4;
  return l;
}

// Logits chosen so that each filter below keeps a set that can be read off by hand (no ties, no boundary cases).
const LOGITS = [2, 1, 0.5, 0, -1, -2, 0.2, 1.5];
const N = 100_000;

describe('Rng (xorshift64*, splitmix64-seeded)', () => {
  it('gives the same sequence for the same seed and different ones for different seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 32 }, () => a.nextU32());
    expect(Array.from({ length: 32 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 32 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('seed 0 works (the splitmix64 step keeps the xorshift state non-zero)', () => {
    const r = new Rng(0);
    const xs = Array.from({ length: 8 }, () => r.nextU32());
    expect(new Set(xs).size).toBe(8);
  });

  it('floats are uniform on [0, 1): χ² over 16 bins below the 0.1% point (df 15)', () => {
    const r = new Rng(7);
    const bins = new Array(16).fill(0);
    let outside = 0;
    for (let i = 0; i < N; i++) {
      const u = r.nextFloat();
      if (!(u >= 0 && u < 1)) outside++;
      else bins[Math.floor(u * 16)]++;
    }
    expect(outside).toBe(0);
    expect(chi2(bins, new Array(16).fill(1 / 16), N)).toBeLessThan(CHI2_999[15]);
  });

  it('rejects seeds that are not integers in [0, 2^53)', () => {
    expect(() => new Rng(-1)).toThrow(/seed/);
    expect(() => new Rng(1.5)).toThrow(/seed/);
  });
});

describe('greedy', () => {
  it('argmax takes the first maximum (run.c: strict >)', () => {
    expect(argmax(Float32Array.from([0, 3, 1, 3]))).toBe(1);
    expect(argmax(Float32Array.from([NaN, -1, -2]))).toBe(1);
  });

  it('top_k = 1 and temperature → 0 equal greedy on random logits', () => {
    const r = new Rng(1);
    for (let trial = 0; trial < 200; trial++) {
      const logits = randomLogits(r, 64);
      const sorted = [...logits].sort((a, b) => b - a);
      // temperature 1e-4 leaves the runner-up exp(-margin/1e-4) of the mass: < e^-100 for a margin ≥ 0.01
      if (sorted[0] - sorted[1] < 0.01) continue;
      const best = argmax(logits);
      const topK1 = samplingDistribution(logits, { temperature: 1, top_k: 1 });
      expect(Array.from(topK1.ids)).toEqual([best]);
      const cold = samplingDistribution(logits, { temperature: 1e-4 });
      expect(drawFrom(cold, r.nextFloat())).toBe(best);
    }
  });

  it('temperature 0 in the Sampler is argmax and uses no randomness', () => {
    const logits = Float32Array.from([0.1, 2, 0.3]);
    expect(new Sampler({ temperature: 0 }, []).next(logits.slice())).toBe(1);
  });
});

describe('seeded draws follow the filtered softmax (χ² below the 0.1% point of df = kept − 1)', () => {
  it('plain softmax, temperature 1', () => {
    const p = softmax(LOGITS);
    expect(chi2(drawCounts(LOGITS, { temperature: 1 }, N, 11), p, N)).toBeLessThan(CHI2_999[7]);
  });

  it('temperature 0.7 scales the logits', () => {
    const p = softmax(LOGITS.map((l) => l / 0.7));
    expect(chi2(drawCounts(LOGITS, { temperature: 0.7 }, N, 12), p, N)).toBeLessThan(CHI2_999[7]);
  });

  it('top_k 3 keeps ids 0, 7, 1 (logits 2, 1.5, 1)', () => {
    const kept = [0, 7, 1];
    const p = softmax(kept.map((i) => LOGITS[i]));
    const counts = drawCounts(LOGITS, { temperature: 1, top_k: 3 }, N, 13);
    expect(counts.reduce((a, c, i) => a + (kept.includes(i) ? 0 : c), 0)).toBe(0);
    expect(chi2(kept.map((i) => counts[i]), p, N)).toBeLessThan(CHI2_999[2]);
  });

  it('top_p 0.8 keeps the smallest most-probable set reaching 0.8', () => {
    const full = softmax(LOGITS);
    const order = full.map((q, i) => [q, i]).sort((a, b) => b[0] - a[0]);
    const kept: number[] = [];
    let mass = 0;
    for (const [q, i] of order) {
      if (mass >= 0.8) break;
      kept.push(i);
      mass += q;
    }
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length).toBeLessThan(LOGITS.length);
    const p = softmax(kept.map((i) => LOGITS[i]));
    const counts = drawCounts(LOGITS, { temperature: 1, top_p: 0.8 }, N, 14);
    expect(counts.reduce((a, c, i) => a + (kept.includes(i) ? 0 : c), 0)).toBe(0);
    expect(chi2(kept.map((i) => counts[i]), p, N)).toBeLessThan(CHI2_999[kept.length - 1]);
  });

  it('min_p 0.2 keeps ids with probability ≥ 0.2 × the largest', () => {
    const full = softmax(LOGITS);
    const kept = full.map((q, i) => [q, i]).filter(([q]) => q >= 0.2 * Math.max(...full)).map(([, i]) => i);
    const p = softmax(kept.map((i) => LOGITS[i]));
    const counts = drawCounts(LOGITS, { temperature: 1, min_p: 0.2 }, N, 15);
    expect(counts.reduce((a, c, i) => a + (kept.includes(i) ? 0 : c), 0)).toBe(0);
    expect(chi2(kept.map((i) => counts[i]), p, N)).toBeLessThan(CHI2_999[kept.length - 1]);
  });

  it('temperature 1.5 with top_k 5 then top_p 0.9 then min_p 0.1, in HF order', () => {
    const scaled = LOGITS.map((l) => l / 1.5);
    const top5 = scaled.map((l, i) => [l, i]).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, i]) => i);
    const p5 = softmax(top5.map((i) => scaled[i]));
    const kept: number[] = [];
    let mass = 0;
    for (const [q, i] of p5.map((q, j) => [q, top5[j]]).sort((a, b) => b[0] - a[0])) {
      if (mass >= 0.9) break;
      kept.push(i);
      mass += q;
    }
    const pk = softmax(kept.map((i) => scaled[i]));
    const final = kept.filter((_, j) => pk[j] >= 0.1 * Math.max(...pk));
    const p = softmax(final.map((i) => scaled[i]));
    const counts = drawCounts(LOGITS, { temperature: 1.5, top_k: 5, top_p: 0.9, min_p: 0.1 }, N, 16);
    expect(counts.reduce((a, c, i) => a + (final.includes(i) ? 0 : c), 0)).toBe(0);
    expect(chi2(final.map((i) => counts[i]), p, N)).toBeLessThan(CHI2_999[final.length - 1]);
  });

  it('the same seed gives the same tokens through the Sampler', () => {
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, top_p: 0.95, seed }, []);
      return Array.from({ length: 50 }, () => s.next(Float32Array.from(LOGITS)));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe('filters on small vectors, as the HF warpers define them', () => {
  // transformers src/transformers/generation/logits_process.py @ 00857b6cf63a4fa05cbd9bdc8a4fd78b6168c5af
  it('top_k keeps ties with the k-th value (TopKLogitsWarper: `scores < torch.topk(scores, top_k)[0][..., -1, None]`)', () => {
    expect(Array.from(samplingDistribution(Float32Array.from([1, 2, 2, 0]), { temperature: 1, top_k: 1 }).ids)).toEqual([1, 2]);
  });

  it('top_p removes the ascending prefix with cumulative probability ≤ 1 − top_p (TopPLogitsWarper: `cumulative_probs <= (1 - self.top_p)`)', () => {
    // probabilities 0.5, 0.3, 0.15, 0.05; ascending cumulative 0.05, 0.20, 0.50, 1.0; 1 − 0.75 = 0.25 removes two
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const d = samplingDistribution(logits, { temperature: 1, top_p: 0.75 });
    expect(Array.from(d.ids)).toEqual([0, 1]);
    // renormalised 0.5/0.8, 0.3/0.8; tolerance: the logits went through f32 (relative error ~6e-8)
    expect(d.probs[0]).toBeCloseTo(0.625, 6);
    expect(d.probs[1]).toBeCloseTo(0.375, 6);
  });

  it('top_p always keeps the most probable token (`sorted_indices_to_remove[..., -self.min_tokens_to_keep :] = 0`)', () => {
    const d = samplingDistribution(Float32Array.from([5, 0, 0]), { temperature: 1, top_p: 0.01 });
    expect(Array.from(d.ids)).toEqual([0]);
  });

  it('min_p removes probabilities below min_p × the top one (MinPLogitsWarper: `tokens_to_remove = probs < scaled_min_p`)', () => {
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    expect(Array.from(samplingDistribution(logits, { temperature: 1, min_p: 0.2 }).ids)).toEqual([0, 1, 2]);
  });
});

describe('penalties and bias', () => {
  it('repetition penalty divides positive and multiplies negative logits, once per distinct id', () => {
    // transformers logits_process.py @ 00857b6cf63a4fa05cbd9bdc8a4fd78b6168c5af, `_apply_penalty` used by
    // RepetitionPenaltyLogitsProcessor: `torch.where(score < 0, score * penalty, score / penalty)`, with the ids
    // gathered once per column (`torch.gather(scores, 1, input_ids)` then scatter), so repeats do not compound.
    const logits = Float32Array.from([2, -1, 0.5, 3]);
    applyRepetitionPenalty(logits, [0, 1, 1, 0], 2);
    expect(Array.from(logits)).toEqual([1, -2, 0.5, 3]);
  });

  it('presence and frequency penalties follow OpenAI: mu[j] − c[j]·α_frequency − [c[j] > 0]·α_presence', () => {
    // OpenAI API docs, "Parameter details" / frequency and presence penalties:
    // mu[j] -> mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence
    const logits = Float32Array.from([1, 1, 1, 1]);
    applyPresenceFrequencyPenalty(logits, new Map([[0, 2], [3, 1]]), 0.5, 0.25);
    expect(Array.from(logits)).toEqual([0, 1, 1, 0.25]);
  });

  it('logit_bias adds per id; -Infinity bans a token even from greedy', () => {
    const logits = Float32Array.from([3, 1, 0]);
    applyLogitBias(logits, { 0: -Infinity, 2: 1.5 });
    expect(Array.from(logits)).toEqual([-Infinity, 1, 1.5]);
    expect(new Sampler({ temperature: 0, logit_bias: { 0: -Infinity } }, []).next(Float32Array.from([3, 1, 0]))).toBe(1);
  });

  it('the Sampler counts the prompt for the repetition penalty and only generated ids for presence/frequency', () => {
    // prompt [0]: id 0 (logit 2) is divided by 4 → 0.5, below id 1 (1.0); greedy picks 1.
    const s = new Sampler({ temperature: 0, repetition_penalty: 4 }, [0]);
    expect(s.next(Float32Array.from([2, 1, 0]))).toBe(1);
    // presence penalty 5 with prompt [0]: only generated ids are penalised, so id 0 still wins first, then loses.
    const p = new Sampler({ temperature: 0, presence_penalty: 5 }, [0]);
    expect(p.next(Float32Array.from([2, 1, 0]))).toBe(0);
    expect(p.next(Float32Array.from([2, 1, 0]))).toBe(1);
  });
});

describe('option checks', () => {
  const cases: Array<[string, object]> = [
    ['temperature', { temperature: -1 }],
    ['top_k', { top_k: 1.5 }],
    ['top_p', { top_p: 0 }],
    ['top_p', { top_p: 1.5 }],
    ['min_p', { min_p: -0.1 }],
    ['repetition_penalty', { repetition_penalty: 0 }],
    ['presence_penalty', { presence_penalty: NaN }],
    ['seed', { seed: -3 }],
    ['logit_bias', { logit_bias: { 99: 1 } }],
    ['logit_bias', { logit_bias: { 1: NaN } }],
  ];
  for (const [name, o] of cases) {
    it(`rejects ${JSON.stringify(o)} with E_OPTION naming ${name}`, () => {
      try {
        checkSamplingOptions(o, 16);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(WeftError);
        expect((e as WeftError).code).toBe('E_OPTION');
        expect((e as WeftError).message).toContain(name);
      }
    });
  }
});
