import type { Tensor } from '../../runtime/tensor.js';

/**
 * A debugging hook: the forward pass calls it with the name of each intermediate value (as llama.cpp's `cb(cur,
 * "attn_norm", il)`), the layer (-1 outside the blocks) and the f32 tensor holding it [rows × features]. The
 * tensor is scratch memory, valid only during the call: copy what you want to keep (`rt.readF32`).
 */
export type TraceHook = (name: string, layer: number, value: Tensor) => void;
