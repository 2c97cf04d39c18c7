/** The feed-forward half of a decoder block, in its two shapes. */
import { linear } from '../../runtime/layout.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { TraceHook } from './trace.js';

/** The element-wise activation between the two linear layers of a plain MLP (HF `activation_function`). */
export type Activation = 'gelu_new' | 'gelu' | 'relu' | 'silu';

export type Mlp =
  /** Llama, Qwen2: down(silu(gate(x)) · up(x)). Weights packed [ffn × dim], [ffn × dim], [dim × ffn]. */
  | { kind: 'gated'; gate: Tensor; up: Tensor; down: Tensor }
  /** GPT-2: proj(act(fc(x) + fcBias)) + projBias. Weights packed [ffn × dim], [dim × ffn]; biases f32. */
  | { kind: 'plain'; fc: Tensor; fcBias: Tensor | null; proj: Tensor; projBias: Tensor | null; activation: Activation };

/** y[rows × dim] = mlp(x[rows × dim]). */
export function applyMlp(rt: Runtime, mlp: Mlp, x: Tensor, y: Tensor, rows: number, layer: number, trace: TraceHook | null): void {
  const k = rt.kernels;
  if (mlp.kind === 'gated') {
    const ffn = mlp.gate.shape[0];
    const gate = rt.temp('f32', [rows, ffn]);
    const up = rt.temp('f32', [rows, ffn]);
    linear(rt, x, mlp.gate, null, gate);
    linear(rt, x, mlp.up, null, up);
    k.swiglu(gate.offset, up.offset, gate.offset, 0, rows * ffn); // in place: element i reads only element i
    trace?.('ffn_act', layer, gate);
    linear(rt, gate, mlp.down, null, y);
  } else {
    const ffn = mlp.fc.shape[0];
    const hidden = rt.temp('f32', [rows, ffn]);
    linear(rt, x, mlp.fc, mlp.fcBias, hidden);
    const n = rows * ffn;
    if (mlp.activation === 'gelu_new') k.geluTanh(hidden.offset, hidden.offset, 0, n);
    else if (mlp.activation === 'gelu') k.geluErf(hidden.offset, hidden.offset, 0, n);
    else if (mlp.activation === 'relu') k.relu(hidden.offset, hidden.offset, 0, n);
    else k.silu(hidden.offset, hidden.offset, 0, n);
    trace?.('ffn_act', layer, hidden);
    linear(rt, hidden, mlp.proj, mlp.projBias, y);
  }
}
