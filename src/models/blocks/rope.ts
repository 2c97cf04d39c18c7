/**
 * Rotary position embeddings: the frequencies (with the scaling schemes real checkpoints use) and the cos/sin table
 * the `rope` kernel reads.
 *
 * Hugging Face computes `inv_freq` in float32 (modeling_rope_utils.py), so we round every step of that
 * computation to f32 with Math.fround; the angles pos·inv_freq and their cos/sin are then computed in float64 and
 * stored as f32, which keeps the table within one f32 rounding of the reference at every position.
 */
import { WeftError } from '../../errors.js';
import type { Json } from '../config.js';

export type RopeScaling =
  | { type: 'none' }
  /** Positions divided by `factor` (HF "linear", GGUF rope.scaling.type = linear). */
  | { type: 'linear'; factor: number }
  /** Llama 3.1: low frequencies divided by `factor`, a smooth ramp between (HF `_compute_llama3_parameters`). */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number };

export interface RopeConfig {
  theta: number;
  /** Leading dims of each head that rotate (head_dim × partial_rotary_factor); even. */
  rotaryDim: number;
  scaling: RopeScaling;
  /** Per-frequency divisors [rotaryDim/2] (GGUF `rope_freqs.weight`, llama3 scaling baked by the converter). */
  freqFactors: Float32Array | null;
  /**
   * Which dims pair up: true = (2i, 2i+1) as llama2.c and GGUF llama weights expect; false = (i, i + rotaryDim/2),
   * Hugging Face's rotate-half. A property of where the weights came from, fixed at load.
   */
  interleaved: boolean;
}

const f32 = Math.fround;

/** The rotation frequency of each dim pair [rotaryDim/2], in f32 as Hugging Face computes it. */
export function ropeInverseFrequencies(rope: RopeConfig): Float32Array {
  const half = rope.rotaryDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    // 1 / theta ** (arange(0, dim, 2) / dim), each op in f32
    invFreq[i] = f32(1 / f32(Math.pow(rope.theta, f32((2 * i) / rope.rotaryDim))));
  }
  const s = rope.scaling;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) invFreq[i] = f32(invFreq[i] / s.factor);
  } else if (s.type === 'llama3') {
    const lowFreqWavelen = s.originalContextLength / s.lowFreqFactor;
    const highFreqWavelen = s.originalContextLength / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const inv = invFreq[i];
      const wavelen = f32(f32(2 * Math.PI) / inv);
      if (wavelen > lowFreqWavelen) invFreq[i] = f32(inv / s.factor); // low frequencies: scaled fully
      else if (wavelen >= highFreqWavelen) {
        // medium frequencies: interpolate between scaled and unscaled
        const smooth = f32(f32(f32(s.originalContextLength / wavelen) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
        invFreq[i] = f32(f32(f32(f32(1 - smooth) * inv) / s.factor) + f32(smooth * inv));
      } // high frequencies: unchanged
    }
  }
  if (rope.freqFactors) {
    for (let i = 0; i < half; i++) invFreq[i] = f32(invFreq[i] / rope.freqFactors[i]);
  }
  return invFreq;
}

/** The table the `rope` kernel reads: f32 [positions × rotaryDim/2 × 2], (cos, sin) of pos·invFreq[i]. */
export function ropeTable(invFreq: Float32Array, positions: number): Float32Array {
  const half = invFreq.length;
  const table = new Float32Array(positions * half * 2);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i];
      table[(pos * half + i) * 2] = Math.cos(angle);
      table[(pos * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/** The `rope_scaling` object of a Hugging Face config.json (null or absent: none). */
export function ropeScalingFromHf(value: unknown, where: string): RopeScaling {
  if (value === undefined || value === null) return { type: 'none' };
  const s = value as Json;
  const type = s.rope_type ?? s.type;
  const num = (key: string): number => {
    const v = s[key];
    if (typeof v !== 'number' || !(v > 0)) {
      throw new WeftError('E_FORMAT', `${where}: rope_scaling.${key} should be a positive number, not ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalContextLength: num('original_max_position_embeddings'),
    };
  }
  throw new WeftError('E_UNSUPPORTED', `${where}: rope_scaling type ${JSON.stringify(type)} is not supported (weft knows "linear" and "llama3")`);
}
