/**
 * One transformer block, the same for every family; what differs is data:
 *
 *   pre-norm  (GPT-2, Llama, T5):   h += attn(norm₁(h));        [h += cross(norm×(h));]        h += mlp(norm₂(h))
 *   post-norm (BERT, BART, Marian): h = norm₁(h + attn(h));     [h = norm×(h + cross(h));]     h = norm₂(h + mlp(h))
 *
 * Cross-attention (encoder-decoder models) is a hook: the layer holds its weights and norm, the model that owns the
 * encoder output and its cached K/V supplies the function that runs it.
 */
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import { add } from '../../runtime/ops.js';
import { selfAttention, type AttentionPlan, type AttentionSpec, type AttentionWeights } from './attention.js';
import { applyMlp, type Mlp } from './mlp.js';
import { applyNorm, type Norm } from './norm.js';
import type { TraceHook } from './trace.js';

export interface TransformerLayer {
  attentionNorm: Norm;
  attention: AttentionWeights;
  /** Encoder-decoder decoders only: attention over the encoder output, with its own norm. */
  cross: { norm: Norm; attention: AttentionWeights } | null;
  mlpNorm: Norm;
  mlp: Mlp;
}

export type NormPlacement = 'pre' | 'post';

/**
 * Runs a layer's cross-attention: y[rows × dim] from the (normed, for pre-norm) decoder rows x[rows × dim], over
 * the encoder output whose keys and values the model computed once per input.
 */
export type CrossAttention = (weights: AttentionWeights, layer: number, x: Tensor, y: Tensor) => void;

/** Everything a layer needs besides its weights, for one forward. */
export interface LayerContext {
  placement: NormPlacement;
  spec: AttentionSpec;
  plan: AttentionPlan;
  cross: CrossAttention | null;
  trace: TraceHook | null;
}

/**
 * hidden[rows × dim] = layer(hidden), in place; `normed` and `branch` are scratch of the same shape. Trace names
 * follow llama.cpp: attn_norm, qkv, kqv_out, attn_out, ffn_norm, ffn_act, ffn_out, l_out.
 */
export function runLayer(rt: Runtime, layer: TransformerLayer, l: number, ctx: LayerContext, hidden: Tensor, normed: Tensor, branch: Tensor): void {
  const { trace } = ctx;
  // One residual sub-block: pre-norm normalises its input, post-norm the sum after it.
  const subBlock = (norm: Norm, normName: string, outName: string, run: (x: Tensor, y: Tensor) => void) => {
    if (ctx.placement === 'pre') {
      applyNorm(rt, norm, hidden, normed);
      trace?.(normName, l, normed);
      run(normed, branch);
      trace?.(outName, l, branch);
      add(rt, hidden, branch, hidden);
    } else {
      run(hidden, branch);
      trace?.(outName, l, branch);
      add(rt, hidden, branch, hidden);
      applyNorm(rt, norm, hidden, hidden);
      trace?.(normName, l, hidden);
    }
  };
  subBlock(layer.attentionNorm, 'attn_norm', 'attn_out', (x, y) => selfAttention(rt, layer.attention, ctx.spec, ctx.plan, l, x, y, trace));
  const cross = layer.cross;
  if (cross) {
    if (!ctx.cross) throw new Error(`layer ${l} has cross-attention weights but the model supplied no encoder output`);
    subBlock(cross.norm, 'cross_norm', 'cross_out', (x, y) => ctx.cross!(cross.attention, l, x, y));
  }
  subBlock(layer.mlpNorm, 'ffn_norm', 'ffn_out', (x, y) => applyMlp(rt, layer.mlp, x, y, l, trace));
  trace?.('l_out', l, hidden);
}
