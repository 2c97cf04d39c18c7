// Element-wise kernels over elements [start, end) of f32 arrays: activations, the gated MLP products, the residual
// add and scaling. Each loop steps by 4 lanes; the last 1–3 elements go through the same vector code with a partial
// load/store, so every element is computed by the same formula. The math lives in vecmath.ts.
import { geluErf4, geluErfScalar, geluTanh4, geluTanhScalar, loadTail, sigmoid, sigmoid4, storeTail } from "./vecmath";

// @ts-ignore: decorator
@inline function silu4(x: v128): v128 {
  return f32x4.mul(x, sigmoid4(x));
}

// @ts-ignore: decorator
@inline function gelu4(x: v128, tanhForm: i32): v128 {
  return tanhForm ? geluTanh4(x) : geluErf4(x);
}

export function geluErf(x: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(y + (<usize>i << 2), geluErf4(v128.load(x + (<usize>i << 2))));
  if (i < end) storeTail(y + (<usize>i << 2), geluErf4(loadTail(x + (<usize>i << 2), end - i)), end - i);
}

export function geluTanh(x: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(y + (<usize>i << 2), geluTanh4(v128.load(x + (<usize>i << 2))));
  if (i < end) storeTail(y + (<usize>i << 2), geluTanh4(loadTail(x + (<usize>i << 2), end - i)), end - i);
}

export function silu(x: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(y + (<usize>i << 2), silu4(v128.load(x + (<usize>i << 2))));
  if (i < end) storeTail(y + (<usize>i << 2), silu4(loadTail(x + (<usize>i << 2), end - i)), end - i);
}

export function relu(x: usize, y: usize, start: i32, end: i32): void {
  const zero = f32x4.splat(0);
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(y + (<usize>i << 2), f32x4.max(v128.load(x + (<usize>i << 2)), zero));
  if (i < end) storeTail(y + (<usize>i << 2), f32x4.max(loadTail(x + (<usize>i << 2), end - i), zero), end - i);
}

export function swiglu(gate: usize, up: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(silu4(v128.load(gate + o)), v128.load(up + o)));
  }
  if (i < end) {
    const o = <usize>i << 2;
    storeTail(y + o, f32x4.mul(silu4(loadTail(gate + o, end - i)), loadTail(up + o, end - i)), end - i);
  }
}

export function geglu(gate: usize, up: usize, y: usize, tanhForm: i32, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(gelu4(v128.load(gate + o), tanhForm), v128.load(up + o)));
  }
  if (i < end) {
    const o = <usize>i << 2;
    storeTail(y + o, f32x4.mul(gelu4(loadTail(gate + o, end - i), tanhForm), loadTail(up + o, end - i)), end - i);
  }
}

export function add(a: usize, b: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function scale(x: usize, s: f32, y: usize, start: i32, end: i32): void {
  const vs = f32x4.splat(s);
  let i = start;
  for (; i + 4 <= end; i += 4) v128.store(y + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), vs));
  for (; i < end; i++) store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}

// ---- scalar references ---------------------------------------------------------------------------------------

export function geluErf_ref(x: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) store<f32>(y + (<usize>i << 2), geluErfScalar(load<f32>(x + (<usize>i << 2))));
}

export function geluTanh_ref(x: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) store<f32>(y + (<usize>i << 2), geluTanhScalar(load<f32>(x + (<usize>i << 2))));
}

export function silu_ref(x: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(y + (<usize>i << 2), v * sigmoid(v));
  }
}

export function relu_ref(x: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) store<f32>(y + (<usize>i << 2), max(load<f32>(x + (<usize>i << 2)), 0));
}

export function swiglu_ref(gate: usize, up: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(y + o, g * sigmoid(g) * load<f32>(up + o));
  }
}

export function geglu_ref(gate: usize, up: usize, y: usize, tanhForm: i32, start: i32, end: i32): void {
  for (let i = start; i < end; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(y + o, (tanhForm ? geluTanhScalar(g) : geluErfScalar(g)) * load<f32>(up + o));
  }
}

export function add_ref(a: usize, b: usize, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function scale_ref(x: usize, s: f32, y: usize, start: i32, end: i32): void {
  for (let i = start; i < end; i++) store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}
