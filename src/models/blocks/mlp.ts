/** The feed-forward half of a transformer block, in its two shapes. */
import { linear } from '../../runtime/layout.js';
import { activate, gatedActivation, type Activation } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { TraceHook } from './trace.js';

export type Mlp =
  /**
   * Llama, Qwen2 (silu: SwiGLU), T5 v1.1 (gelu_new: GeGLU): down(act(gate(x)) · up(x)).
   * Weights packed [ffn × dim], [ffn × dim], [dim × ffn].
   */
  | { kind: 'gated'; gate: Tensor; up: Tensor; down: Tensor; activation: 'silu' | 'gelu' | 'gelu_new' }
  /** GPT-2, BERT, T5 v1.0: proj(act(fc(x) + fcBias)) + projBias. Weights packed [ffn × dim], [dim × ffn]; biases f32. */
  | { kind: 'plain'; fc: Tensor; fcBias: Tensor | null; proj: Tensor; projBias: Tensor | null; activation: Activation };

/** y[rows × dim] = mlp(x[rows × dim]). */
export function applyMlp(rt: Runtime, mlp: Mlp, x: Tensor, y: Tensor, layer: number, trace: TraceHook | null): void {
  const rows = x.shape[0];
  if (mlp.kind === 'gated') {
    const ffn = mlp.gate.shape[0];
    const gate = rt.temp('f32', [rows, ffn]);
    const up = rt.temp('f32', [rows, ffn]);
    linear(rt, x, mlp.gate, null, gate);
    linear(rt, x, mlp.up, null, up);
    gatedActivation(rt, { act: mlp.activation, gate, up, y: gate }); // in place: element i reads only element i
    trace?.('ffn_act', layer, gate);
    linear(rt, gate, mlp.down, null, y);
  } else {
    const hidden = rt.temp('f32', [rows, mlp.fc.shape[0]]);
    linear(rt, x, mlp.fc, mlp.fcBias, hidden);
    activate(rt, mlp.activation, hidden, hidden);
    trace?.('ffn_act', layer, hidden);
    linear(rt, hidden, mlp.proj, mlp.projBias, y);
  }
}
