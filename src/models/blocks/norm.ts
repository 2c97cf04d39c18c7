/** The two normalisations decoders use, behind one call so a block does not care which its model has. */
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';

export interface Norm {
  /** 'rms': x / sqrt(mean(x²) + eps) · weight (Llama). 'layer': (x − mean) / sqrt(var + eps) · weight + bias (GPT-2). */
  kind: 'rms' | 'layer';
  weight: Tensor; // f32 [dim]
  bias: Tensor | null; // f32 [dim], LayerNorm only
  eps: number;
}

/** y[rows × dim] = norm(x[rows × dim]); y may be x. */
export function applyNorm(rt: Runtime, norm: Norm, x: Tensor, y: Tensor, rows: number): void {
  const dim = norm.weight.shape[0];
  if (norm.kind === 'rms') rt.kernels.rmsNorm(x.offset, norm.weight.offset, y.offset, dim, norm.eps, 0, rows);
  else rt.kernels.layerNorm(x.offset, norm.weight.offset, norm.bias ? norm.bias.offset : 0, y.offset, dim, norm.eps, 0, rows);
}
