import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openGguf } from '../../src/files/local.js';
import { fileSource, openSafetensors } from '../../src/files/local.js';
import { blobSource, bytesSource } from '../../src/formats/source.js';
import { bf16ToF32, f16ToF32, readTensorF32, readTensorInto, weightsFromGguf } from '../../src/formats/weights.js';
import { dataPath, describeData } from '../helpers/data.js';
import { expectWeftError } from './expect-error.js';

describe('f16 / bf16 widening', () => {
  it('f16ToF32 on values whose encoding IEEE 754 fixes', () => {
    const cases: Array<[number, number]> = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504], // largest normal
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) expect(f16ToF32(bits), bits.toString(16)).toBe(value);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it('bf16ToF32 is the top half of the f32 bits', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(bf16ToF32(0x0001)).toBe(2 ** -133); // smallest subnormal
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });
});

describe('byte sources', () => {
  const bytes = new Uint8Array(1000).map((_, i) => (i * 7) % 256);

  it('bytesSource and blobSource read the same ranges and refuse reads past the end', async () => {
    for (const source of [bytesSource(bytes, 'mem'), blobSource(new Blob([bytes]), 'blob')]) {
      expect(source.size).toBe(1000);
      expect(await source.read(990, 10)).toEqual(bytes.slice(990));
      const dst = new Uint8Array(16);
      await source.readInto(100, dst);
      expect(dst).toEqual(bytes.slice(100, 116));
      await expectWeftError(source.read(995, 10), 'E_FORMAT', new RegExp(`^${source.name}: unexpected end of file`), /byte offset 995/);
      await expectWeftError(source.read(-1, 1), 'E_OPTION');
      await source.close();
      await expectWeftError(source.read(0, 1), 'E_OPTION', /read after close/);
    }
  });

  describeData('fileSource', () => {
    it('reads straight into a view of wasm memory and names the path in errors', async () => {
      const path = dataPath('llama2c-stories260k', 'stories260K.bin');
      const whole = new Uint8Array(await readFile(path));
      const source = await fileSource(path);
      expect(source.size).toBe(whole.length);
      const memory = new WebAssembly.Memory({ initial: 17 }); // 17 × 64 KiB > the file
      await source.readInto(0, new Uint8Array(memory.buffer, 64, whole.length));
      expect(Buffer.from(memory.buffer, 64, whole.length).equals(whole)).toBe(true);
      await expectWeftError(source.read(whole.length - 3, 4), 'E_FORMAT', new RegExp(`stories260K\\.bin: unexpected end of file.*byte offset ${whole.length - 3}`));
      await source.close();
      await expectWeftError(fileSource(dataPath('no-such-file.bin')), 'E_MISSING', /no-such-file\.bin/);
      await expectWeftError(fileSource(dataPath('ref-models')), 'E_MISSING', /is not a file/);
    });
  });
});

describeData('WeightSet', () => {
  it('get() of a missing tensor names the tensor and the file; the set stays usable', async () => {
    const set = await openSafetensors(dataPath('ref-models', 'gpt2-a'));
    await expectWeftError(Promise.resolve().then(() => set.get('lm_head.weight')), 'E_MISSING', /tensor lm_head\.weight is missing from .*gpt2-a\/model\.safetensors/);
    expect(set.has('transformer.wte.weight')).toBe(true);
    const wte = set.get('transformer.wte.weight');
    await expectWeftError(readTensorInto(wte, new Uint8Array(10)), 'E_OPTION', /transformer\.wte\.weight is 131072 bytes but the destination holds 10/);
    expect((await readTensorF32(wte)).length).toBe(512 * 64);
    await set.close();
  });

  it('f16 and bf16 copies of gpt2-a widen to the rounded f32 weights', async () => {
    const f32 = await openSafetensors(dataPath('ref-models', 'gpt2-a'));
    const f16 = await openSafetensors(dataPath('ref-models', 'gpt2-a-f16'));
    const bf16 = await openSafetensors(dataPath('ref-models', 'gpt2-a-bf16'));
    const mismatches: string[] = [];
    let checked = 0;
    for (const e of f32.entries.values()) {
      const exact = await readTensorF32(e);
      const halves = await readTensorF32(f16.get(e.name));
      const brains = await readTensorF32(bf16.get(e.name));
      const bits = new Uint32Array(exact.buffer);
      for (let i = 0; i < exact.length; i++) {
        // f16 round-to-nearest: error at most half an ulp, 2⁻¹¹ relative (2⁻²⁵ absolute in the subnormal range)
        const bound = Math.max(Math.abs(exact[i]) * 2 ** -11, 2 ** -25);
        if (!(Math.abs(halves[i] - exact[i]) <= bound)) mismatches.push(`f16 ${e.name}[${i}]: ${halves[i]} vs ${exact[i]}`);
        // bf16 round-to-nearest-even of the f32 bits, as the README says the file was made
        const u = bits[i];
        const rounded = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16;
        const expected = new Float32Array(new Uint32Array([rounded]).buffer)[0];
        if (brains[i] !== expected) mismatches.push(`bf16 ${e.name}[${i}]: ${brains[i]} vs ${expected}`);
        checked++;
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
    for (const set of [f32, f16, bf16]) await set.close();
  });

  it('weightsFromGguf reverses GGUF dims; gpt2-a.gguf holds the safetensors weights (Conv1D transposed)', async () => {
    const gguf = weightsFromGguf(await openGguf(dataPath('ref-models', 'gpt2-a', 'gpt2-a.gguf')));
    const st = await openSafetensors(dataPath('ref-models', 'gpt2-a'));
    expect(gguf.get('token_embd.weight').shape).toEqual([512, 64]);
    expect(await readTensorF32(gguf.get('token_embd.weight'))).toEqual(await readTensorF32(st.get('transformer.wte.weight')));
    expect(await readTensorF32(gguf.get('blk.1.attn_norm.bias'))).toEqual(await readTensorF32(st.get('transformer.h.1.ln_1.bias')));
    const qkv = gguf.get('blk.0.attn_qkv.weight');
    expect(qkv.shape).toEqual([192, 64]); // [out, in]; the HF Conv1D is [in, out] = [64, 192]
    const a = await readTensorF32(qkv);
    const b = await readTensorF32(st.get('transformer.h.0.attn.c_attn.weight'));
    const transposed = new Float32Array(192 * 64);
    for (let o = 0; o < 192; o++) for (let i = 0; i < 64; i++) transposed[o * 64 + i] = b[i * 192 + o];
    expect(a).toEqual(transposed);
    for (const e of gguf.entries.values()) expect((await readTensorF32(e)).every(Number.isFinite), e.name).toBe(true);
    await gguf.close();
    await st.close();
  });

  it('quantized GGUF tensors keep their ggml type name; readTensorF32 refuses them', async () => {
    const set = weightsFromGguf(await openGguf(dataPath('stories260k-gguf-quantized', 'stories260K-Q8_0.gguf')));
    const q = set.get('blk.0.attn_q.weight');
    expect([q.dtype, q.shape, q.byteLength]).toEqual(['Q8_0', [64, 64], (64 * 64 / 32) * 34]);
    expect(set.get('blk.0.ffn_down.weight').dtype).toBe('f16');
    expect(set.get('output_norm.weight').dtype).toBe('f32');
    await expectWeftError(readTensorF32(q), 'E_UNSUPPORTED', /blk\.0\.attn_q\.weight in .*stories260K-Q8_0\.gguf is Q8_0/);
    await set.close();
  });
});
