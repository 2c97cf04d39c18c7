/** The two normalisations the models use, behind one call so a block does not care which its model has. */
import { layerNorm, rmsNorm } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';

export interface Norm {
  /** 'rms': x / sqrt(mean(x²) + eps) · weight (Llama, T5). 'layer': (x − mean) / sqrt(var + eps) · weight + bias (GPT-2, BERT). */
  kind: 'rms' | 'layer';
  weight: Tensor; // f32 [dim]
  bias: Tensor | null; // f32 [dim], LayerNorm only
  eps: number;
}

/** y[rows × dim] = norm(x[rows × dim]); y may be x. */
export function applyNorm(rt: Runtime, norm: Norm, x: Tensor, y: Tensor): void {
  if (norm.kind === 'rms') rmsNorm(rt, { x, gamma: norm.weight, eps: norm.eps, y });
  else layerNorm(rt, { x, gamma: norm.weight, beta: norm.bias, eps: norm.eps, y });
}
