// Normalisations over rows [start, end) of a row-major [rows × dim] f32 array, and the row softmax.
// Sums of squares run over thousands of elements and feed every later layer, so they are accumulated in f64 (two
// f64x2 per vector loop); LayerNorm takes the variance in a second pass over (x − mean)², which stays exact for rows
// with a large mean, where E[x²] − mean² would cancel. The mean is subtracted in two f32 parts, c + cLow (c the mean
// rounded to f32): x − c is exact for x near c, so x − mean costs one rounding instead of carrying c's (up to
// |mean|·6e-8 for a residual stream with a mean of 100s).
import { hsum64, loadTail, softmaxRow, softmaxRowRef, storeTail, widenHigh, widenLow } from "./vecmath";

/** Σ row[i] over dim f32, accumulated in f64. */
function sumRow(row: usize, dim: i32): f64 {
  let low = f64x2.splat(0), high = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    const v = v128.load(row + (<usize>i << 2));
    low = f64x2.add(low, widenLow(v));
    high = f64x2.add(high, widenHigh(v));
  }
  let s = hsum64(low, high);
  for (; i < dim; i++) s += <f64>load<f32>(row + (<usize>i << 2));
  return s;
}

/** Σ (row[i] − c − cLow)² over dim f32, accumulated in f64. */
function sumSquaredDeviations(row: usize, dim: i32, c: f32, cLow: f32): f64 {
  const vc = f32x4.splat(c), vcLow = f32x4.splat(cLow);
  let low = f64x2.splat(0), high = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    const d = f32x4.sub(f32x4.sub(v128.load(row + (<usize>i << 2)), vc), vcLow);
    const d2 = f32x4.mul(d, d);
    low = f64x2.add(low, widenLow(d2));
    high = f64x2.add(high, widenHigh(d2));
  }
  let s = hsum64(low, high);
  for (; i < dim; i++) {
    const d = load<f32>(row + (<usize>i << 2)) - c - cLow;
    s += <f64>(d * d);
  }
  return s;
}

/** 1/√(meanSquare + eps), or 0 when that is 0 (an all-zero row with eps 0): the row then normalises to zeros. */
// @ts-ignore: decorator
@inline function inverseRms(meanSquare: f64, eps: f32): f32 {
  const v = meanSquare + <f64>eps;
  return v > 0 ? <f32>(1.0 / Math.sqrt(v)) : 0;
}

/** y = (x − c − cLow)·k·gamma (+ beta) over one row; beta 0 = none. */
function scaleRow(x: usize, gamma: usize, beta: usize, y: usize, dim: i32, c: f32, cLow: f32, k: f32): void {
  const vc = f32x4.splat(c), vcLow = f32x4.splat(cLow), vk = f32x4.splat(k);
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    const o = <usize>i << 2;
    let v = f32x4.mul(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), vc), vcLow), vk), v128.load(gamma + o));
    if (beta) v = f32x4.add(v, v128.load(beta + o));
    v128.store(y + o, v);
  }
  if (i < dim) {
    const o = <usize>i << 2, n = dim - i;
    let v = f32x4.mul(f32x4.mul(f32x4.sub(f32x4.sub(loadTail(x + o, n), vc), vcLow), vk), loadTail(gamma + o, n));
    if (beta) v = f32x4.add(v, loadTail(beta + o, n));
    storeTail(y + o, v, n);
  }
}

export function layerNorm(x: usize, gamma: usize, beta: usize, y: usize, dim: i32, eps: f32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const o = <usize>r * <usize>dim << 2;
    const mean = sumRow(x + o, dim) / dim;
    const c = <f32>mean, cLow = <f32>(mean - <f64>c);
    const k = inverseRms(sumSquaredDeviations(x + o, dim, c, cLow) / dim, eps);
    scaleRow(x + o, gamma, beta, y + o, dim, c, cLow, k);
  }
}

export function rmsNorm(x: usize, gamma: usize, y: usize, dim: i32, eps: f32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const o = <usize>r * <usize>dim << 2;
    const k = inverseRms(sumSquaredDeviations(x + o, dim, 0, 0) / dim, eps);
    scaleRow(x + o, gamma, 0, y + o, dim, 0, 0, k);
  }
}

/** Rows of y = softmax(x + bias); x and y may be the same array. */
export function softmax(x: usize, bias: usize, y: usize, cols: i32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const o = <usize>r * <usize>cols << 2;
    if (bias) {
      let i = 0;
      for (; i + 4 <= cols; i += 4) {
        const p = o + (<usize>i << 2);
        v128.store(y + p, f32x4.add(v128.load(x + p), v128.load(bias + p)));
      }
      for (; i < cols; i++) {
        const p = o + (<usize>i << 2);
        store<f32>(y + p, load<f32>(x + p) + load<f32>(bias + p));
      }
      softmaxRow(y + o, y + o, cols);
    } else {
      softmaxRow(x + o, y + o, cols);
    }
  }
}

// ---- scalar references ---------------------------------------------------------------------------------------

export function layerNorm_ref(x: usize, gamma: usize, beta: usize, y: usize, dim: i32, eps: f32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const row = x + (<usize>r * <usize>dim << 2);
    const out = y + (<usize>r * <usize>dim << 2);
    let sum: f64 = 0;
    for (let i = 0; i < dim; i++) sum += <f64>load<f32>(row + (<usize>i << 2));
    const c = <f32>(sum / dim), cLow = <f32>(sum / dim - <f64>c);
    let sq: f64 = 0;
    for (let i = 0; i < dim; i++) {
      const d = load<f32>(row + (<usize>i << 2)) - c - cLow;
      sq += <f64>(d * d);
    }
    const k = inverseRms(sq / dim, eps);
    for (let i = 0; i < dim; i++) {
      const o = <usize>i << 2;
      let v = (load<f32>(row + o) - c - cLow) * k * load<f32>(gamma + o);
      if (beta) v += load<f32>(beta + o);
      store<f32>(out + o, v);
    }
  }
}

export function rmsNorm_ref(x: usize, gamma: usize, y: usize, dim: i32, eps: f32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const row = x + (<usize>r * <usize>dim << 2);
    const out = y + (<usize>r * <usize>dim << 2);
    let sq: f64 = 0;
    for (let i = 0; i < dim; i++) {
      const v = load<f32>(row + (<usize>i << 2));
      sq += <f64>(v * v);
    }
    const k = inverseRms(sq / dim, eps);
    for (let i = 0; i < dim; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, load<f32>(row + o) * k * load<f32>(gamma + o));
    }
  }
}

export function softmax_ref(x: usize, bias: usize, y: usize, cols: i32, start: i32, end: i32): void {
  for (let r = start; r < end; r++) {
    const o = <usize>r * <usize>cols << 2;
    if (bias) {
      for (let i = 0; i < cols; i++) {
        const p = o + (<usize>i << 2);
        store<f32>(y + p, load<f32>(x + p) + load<f32>(bias + p));
      }
      softmaxRowRef(y + o, y + o, cols);
    } else {
      softmaxRowRef(x + o, y + o, cols);
    }
  }
}
