/**
 * A minimal GGUF v3 writer for tests: metadata, and optionally F32 tensors (without them, a "vocab-only" file like
 * llama.cpp's ggml-vocab-*.gguf). Used to build vocabularies and models no shipped file covers.
 */
export type GgufWriteValue =
  | { type: 'string'; value: string }
  | { type: 'u32' | 'i32' | 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: string[] }
  | { type: 'f32[]' | 'i32[]' | 'u8[]'; value: ArrayLike<number> };

const T = { UINT8: 0, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

/** An F32 tensor; `shape` outermost first (PyTorch's order; GGUF stores the dims innermost first). */
export interface GgufWriteTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function writeGguf(metadata: Array<[string, GgufWriteValue]>, tensors: GgufWriteTensor[] = []): Uint8Array {
  const chunks: Uint8Array[] = [];
  const encoder = new TextEncoder();
  const bytes = (n: number, fill: (v: DataView) => void): void => {
    const b = new Uint8Array(n);
    fill(new DataView(b.buffer));
    chunks.push(b);
  };
  const u32 = (v: number): void => bytes(4, (d) => d.setUint32(0, v, true));
  const u64 = (v: number): void => bytes(8, (d) => d.setBigUint64(0, BigInt(v), true));
  const str = (s: string): void => {
    const b = encoder.encode(s);
    u64(b.length);
    chunks.push(b);
  };
  chunks.push(encoder.encode('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(metadata.length);
  for (const [key, v] of metadata) {
    str(key);
    switch (v.type) {
      case 'string': u32(T.STRING); str(v.value); break;
      case 'u32': u32(T.UINT32); u32(v.value); break;
      case 'i32': u32(T.INT32); bytes(4, (d) => d.setInt32(0, v.value, true)); break;
      case 'f32': u32(T.FLOAT32); bytes(4, (d) => d.setFloat32(0, v.value, true)); break;
      case 'bool': u32(T.BOOL); bytes(1, (d) => d.setUint8(0, v.value ? 1 : 0)); break;
      case 'string[]': u32(T.ARRAY); u32(T.STRING); u64(v.value.length); v.value.forEach(str); break;
      case 'f32[]': u32(T.ARRAY); u32(T.FLOAT32); u64(v.value.length); bytes(4 * v.value.length, (d) => Array.from(v.value).forEach((x, i) => d.setFloat32(4 * i, x, true))); break;
      case 'i32[]': u32(T.ARRAY); u32(T.INT32); u64(v.value.length); bytes(4 * v.value.length, (d) => Array.from(v.value).forEach((x, i) => d.setInt32(4 * i, x, true))); break;
      case 'u8[]': u32(T.ARRAY); u32(T.UINT8); u64(v.value.length); chunks.push(Uint8Array.from(v.value)); break;
    }
  }
  const align = (n: number) => Math.ceil(n / 32) * 32; // general.alignment's default
  let dataOffset = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.shape.length);
    for (const d of [...t.shape].reverse()) u64(d);
    u32(0); // GGML_TYPE_F32
    u64(dataOffset);
    dataOffset = align(dataOffset + t.data.byteLength);
  }
  const headerBytes = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(align(headerBytes) + dataOffset); // the data section starts aligned
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  at = align(headerBytes);
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += align(t.data.byteLength);
  }
  return out;
}
