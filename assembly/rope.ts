// Rotary position embedding, in place. Row r of x holds heads of headDim floats packed from the row start (rows
// rowStride floats apart, so q or k inside a fused qkv row works: the caller passes the offset pointer and the fused
// stride). For row r at position p = positions[r], the frequency i of a head is rotated by the angle whose cos and
// sin the host stored at table[p][i] = (cos, sin) (table: f32 [maxPos × rotaryDim/2 × 2]):
//   (a, b) ← (a·cos − b·sin, a·sin + b·cos)
// with (a, b) the dims (2i, 2i+1) when interleaved (llama2.c, GGUF) or (i, i + rotaryDim/2) otherwise (rotate-half,
// Hugging Face). Dims from rotaryDim to headDim are left alone (partial rotary). Heads [start, end) of every row.

/** Rotates the pair of floats at a and b by (c, s). */
// @ts-ignore: decorator
@inline function rotatePair(a: usize, b: usize, c: f32, s: f32): void {
  const x0 = load<f32>(a), x1 = load<f32>(b);
  store<f32>(a, x0 * c - x1 * s);
  store<f32>(b, x0 * s + x1 * c);
}

/** Pairs (2i, 2i+1): a vector holds two pairs, and the table's (cos, sin, cos, sin) for them lies in one load. */
function rotateInterleaved(head: usize, cs: usize, half: i32): void {
  const sign = f32x4(-1, 1, -1, 1);
  let i = 0;
  for (; i + 2 <= half; i += 2) {
    const o = <usize>i << 3;
    const v = v128.load(head + o); // a0 b0 a1 b1
    const t = v128.load(cs + o); // c0 s0 c1 s1
    const c = i32x4.shuffle(t, t, 0, 0, 2, 2);
    const s = f32x4.mul(i32x4.shuffle(t, t, 1, 1, 3, 3), sign);
    const swapped = i32x4.shuffle(v, v, 1, 0, 3, 2); // b0 a0 b1 a1
    v128.store(head + o, f32x4.add(f32x4.mul(v, c), f32x4.mul(swapped, s)));
  }
  if (i < half) rotatePair(head + (<usize>i << 3), head + (<usize>i << 3) + 4, load<f32>(cs + (<usize>i << 3)), load<f32>(cs + (<usize>i << 3), 4));
}

/** Pairs (i, i + half): four frequencies per step, their (cos, sin) de-interleaved from two table loads. */
function rotateHalf(head: usize, cs: usize, half: i32): void {
  const second = head + (<usize>half << 2);
  let i = 0;
  for (; i + 4 <= half; i += 4) {
    const o = <usize>i << 2;
    const t0 = v128.load(cs + (o << 1)), t1 = v128.load(cs + (o << 1), 16);
    const c = i32x4.shuffle(t0, t1, 0, 2, 4, 6);
    const s = i32x4.shuffle(t0, t1, 1, 3, 5, 7);
    const a = v128.load(head + o), b = v128.load(second + o);
    v128.store(head + o, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
    v128.store(second + o, f32x4.add(f32x4.mul(a, s), f32x4.mul(b, c)));
  }
  for (; i < half; i++) rotatePair(head + (<usize>i << 2), second + (<usize>i << 2), load<f32>(cs + (<usize>i << 3)), load<f32>(cs + (<usize>i << 3), 4));
}

export function rope(x: usize, rowStride: i32, table: usize, positions: usize, rows: i32, headDim: i32, rotaryDim: i32, interleaved: i32, start: i32, end: i32): void {
  const half = rotaryDim >> 1;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>rowStride << 2);
    const cs = table + (<usize>load<i32>(positions + (<usize>r << 2)) * <usize>rotaryDim << 2);
    for (let h = start; h < end; h++) {
      const head = row + (<usize>h * <usize>headDim << 2);
      if (interleaved) rotateInterleaved(head, cs, half);
      else rotateHalf(head, cs, half);
    }
  }
}

export function rope_ref(x: usize, rowStride: i32, table: usize, positions: usize, rows: i32, headDim: i32, rotaryDim: i32, interleaved: i32, start: i32, end: i32): void {
  const half = rotaryDim >> 1;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>rowStride << 2);
    const cs = table + (<usize>load<i32>(positions + (<usize>r << 2)) * <usize>rotaryDim << 2);
    for (let h = start; h < end; h++) {
      const head = row + (<usize>h * <usize>headDim << 2);
      for (let i = 0; i < half; i++) {
        const c = load<f32>(cs + (<usize>i << 3)), s = load<f32>(cs + (<usize>i << 3), 4);
        if (interleaved) rotatePair(head + (<usize>(2 * i) << 2), head + (<usize>(2 * i + 1) << 2), c, s);
        else rotatePair(head + (<usize>i << 2), head + (<usize>(i + half) << 2), c, s);
      }
    }
  }
}
