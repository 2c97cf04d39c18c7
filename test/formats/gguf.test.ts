import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGguf } from '../../src/files/local.js';
import { GGML_TYPES, readGguf, type GgufFile } from '../../src/formats/gguf.js';
import { bytesSource } from '../../src/formats/source.js';
import { dataPath, describeData } from '../helpers/data.js';
import { expectWeftError } from './expect-error.js';
import { writeGgufV2From } from './make.js';

async function parseFile(...parts: string[]): Promise<GgufFile> {
  const file = await openGguf(dataPath(...parts));
  await file.source.close();
  return file;
}

function parseBytes(bytes: Uint8Array, name = 'bad.gguf'): Promise<GgufFile> {
  return readGguf(bytesSource(bytes, name));
}

/**
 * Where a tensor's description starts in a GGUF file, found by searching for its length-prefixed name (not
 * through weft's parser): returns the offsets of n_dims, the first dim, the type and the data offset.
 */
function locateTensorInfo(bytes: Uint8Array, name: string): { nDims: number; dims: number; type: number; offset: number } {
  const key = new Uint8Array(8 + name.length);
  new DataView(key.buffer).setBigUint64(0, BigInt(name.length), true);
  key.set(new TextEncoder().encode(name), 8);
  const at = Buffer.from(bytes).indexOf(key);
  if (at < 0) throw new Error(`tensor ${name} not found`);
  const nDimsAt = at + key.length;
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(nDimsAt, true);
  return { nDims: nDimsAt, dims: nDimsAt + 4, type: nDimsAt + 4 + 8 * n, offset: nDimsAt + 8 + 8 * n };
}

describeData('GGUF: the shipped files', () => {
  it('reads stories260K.gguf as its README describes it', async () => {
    const g = await parseFile('llama2c-stories260k', 'stories260K.gguf');
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(32);
    const m = g.metadata;
    expect(m.get('general.architecture')).toBe('llama');
    expect(m.get('general.name')).toBe('stories260K');
    expect(m.get('general.file_type')).toBe(0);
    expect(m.get('llama.context_length')).toBe(512);
    expect(m.get('llama.embedding_length')).toBe(64);
    expect(m.get('llama.feed_forward_length')).toBe(172);
    expect(m.get('llama.block_count')).toBe(5);
    expect(m.get('llama.attention.head_count')).toBe(8);
    expect(m.get('llama.attention.head_count_kv')).toBe(4);
    expect(m.get('llama.rope.dimension_count')).toBe(8);
    expect(m.get('llama.rope.freq_base')).toBe(10000);
    expect(m.get('llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5)); // stored as f32
    expect(m.get('tokenizer.ggml.model')).toBe('llama');
    const tokens = m.get('tokenizer.ggml.tokens') as string[];
    expect(tokens.length).toBe(512);
    expect(tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tokens[3]).toBe('<0x00>');
    const types = m.get('tokenizer.ggml.token_type') as number[];
    expect(types.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect((m.get('tokenizer.ggml.scores') as number[]).length).toBe(512);
    expect([m.get('tokenizer.ggml.unknown_token_id'), m.get('tokenizer.ggml.bos_token_id'), m.get('tokenizer.ggml.eos_token_id')]).toEqual([0, 1, 2]);

    // 3 global tensors + 9 per block × 5 blocks, all F32, ne = [in, out] as the README lists
    expect(g.tensors.length).toBe(48);
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    expect(byName.get('blk.0.attn_k.weight')!.dims).toEqual([64, 32]);
    expect(byName.get('blk.0.ffn_gate.weight')!.dims).toEqual([64, 172]);
    expect(byName.get('blk.0.ffn_down.weight')!.dims).toEqual([172, 64]);
    expect(byName.get('token_embd.weight')!.dims).toEqual([64, 512]);
    expect(byName.get('output.weight')!.dims).toEqual([64, 512]);
    expect(byName.get('output_norm.weight')!.dims).toEqual([64]);
    for (const t of g.tensors) {
      expect(t.typeName).toBe('F32');
      expect(t.byteLength).toBe(4 * t.dims.reduce((a, b) => a * b, 1));
      expect(t.offset % 32).toBe(0);
    }
    // the data section ends the file
    const last = g.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
    expect(last.offset + last.byteLength).toBe(1_185_344);
  });

  it('reads gpt2-a.gguf with the shapes of the safetensors twin (Conv1D transposed)', async () => {
    const g = await parseFile('ref-models', 'gpt2-a', 'gpt2-a.gguf');
    expect(g.metadata.get('general.architecture')).toBe('gpt2');
    expect(g.metadata.get('gpt2.block_count')).toBe(2);
    expect(g.metadata.get('gpt2.embedding_length')).toBe(64);
    expect(g.metadata.get('gpt2.context_length')).toBe(128);
    expect(g.metadata.get('gpt2.attention.head_count')).toBe(4);
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')!.dims).toEqual([64, 512]);
    expect(byName.get('position_embd.weight')!.dims).toEqual([64, 128]);
    expect(byName.get('blk.1.attn_qkv.weight')!.dims).toEqual([64, 192]);
    expect(byName.get('blk.1.ffn_down.weight')!.dims).toEqual([256, 64]);
    expect(g.tensors.length).toBe(2 + 2 * 12 + 2);
  });

  it('reads the quantized stories260K files with the tensor types llama.cpp reported', async () => {
    for (const type of ['F16', 'BF16', 'Q8_0', 'Q6_K', 'Q4_0', 'Q4_K_M']) {
      const file = `stories260K-${type}.gguf`;
      const g = await parseFile('stories260k-gguf-quantized', file);
      const expected = JSON.parse(await readFile(dataPath('stories260k-gguf-quantized', 'expected', `${file}.greedy64.json`), 'utf8'));
      expect(Object.fromEntries(g.tensors.map((t) => [t.name, t.typeName]))).toEqual(expected.tensor_types);
      expect(g.metadata.get('general.file_type')).toBe(expected['general.file_type']);
      // the tensors tile the data section: each starts where the previous ended, padded to the alignment
      const sorted = [...g.tensors].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) {
        const end = sorted[i - 1].offset + sorted[i - 1].byteLength;
        expect(sorted[i].offset).toBe(Math.ceil(end / 32) * 32);
      }
      const last = sorted[sorted.length - 1];
      const size = (await stat(dataPath('stories260k-gguf-quantized', file))).size;
      expect(Math.ceil((last.offset + last.byteLength) / 32) * 32).toBe(size); // llama.cpp pads the last tensor too
    }
  });

  it('knows the block geometry of every type in the ggml quant vectors (sizes from ggml itself)', async () => {
    const g = await parseFile('ggml-quant-vectors', 'quant-vectors.gguf');
    const report = JSON.parse(await readFile(dataPath('ggml-quant-vectors', 'quant-report.json'), 'utf8'));
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    expect(report.types.length).toBe(24);
    for (const r of report.types) {
      const t = byName.get(r.tensor)!;
      expect(t.type, r.tensor).toBe(r.ggml_type_id);
      expect(t.typeName).toBe(r.ggml_type);
      expect(t.dims).toEqual([512, 8]);
      expect(t.byteLength, r.tensor).toBe(r.total_bytes);
      expect(GGML_TYPES.get(r.ggml_type_id)).toEqual({ name: r.ggml_type, blockSize: r.block_size, typeSize: r.type_size });
    }
  });

  it('reads the vocabulary-only GGUFs: token lists, merges, special ids', async () => {
    // Token counts are the models' vocabulary sizes; special ids as README's table gives them (llama.cpp takes
    // BERT's BOS from cls_token_id, and bert-bge has no EOS).
    const expected: Record<string, { model: string; n: number; ids: Record<string, number> }> = {
      'gpt-2': { model: 'gpt2', n: 50257, ids: { bos_token_id: 50256, eos_token_id: 50256 } },
      'llama-spm': { model: 'llama', n: 32000, ids: { bos_token_id: 1, eos_token_id: 2 } },
      'phi-3': { model: 'llama', n: 32064, ids: { bos_token_id: 1, eos_token_id: 32000 } },
      'bert-bge': { model: 'bert', n: 30522, ids: { cls_token_id: 101 } },
      'deepseek-coder': { model: 'gpt2', n: 32256, ids: { bos_token_id: 32013, eos_token_id: 32014 } },
    };
    for (const [suite, e] of Object.entries(expected)) {
      const g = await parseFile('llamacpp-vocab', `ggml-vocab-${suite}.gguf`);
      expect(g.tensors, suite).toEqual([]);
      expect(g.metadata.get('tokenizer.ggml.model'), suite).toBe(e.model);
      expect((g.metadata.get('tokenizer.ggml.tokens') as string[]).length, suite).toBe(e.n);
      for (const [key, id] of Object.entries(e.ids)) expect(g.metadata.get(`tokenizer.ggml.${key}`), `${suite} ${key}`).toBe(id);
    }
    expect((await parseFile('llamacpp-vocab', 'ggml-vocab-bert-bge.gguf')).metadata.has('tokenizer.ggml.eos_token_id')).toBe(false);
  });

  it('decodes UTF-8 token strings exactly: gpt-2.gguf equals the gpt2 tokenizer.json vocabulary', async () => {
    const g = await parseFile('llamacpp-vocab', 'ggml-vocab-gpt-2.gguf');
    const json = JSON.parse(await readFile(dataPath('tokenizers', 'gpt2', 'tokenizer.json'), 'utf8'));
    const tokens = g.metadata.get('tokenizer.ggml.tokens') as string[];
    const vocab = json.model.vocab as Record<string, number>;
    expect(tokens.length).toBe(Object.keys(vocab).length);
    const fromJson: string[] = [];
    for (const [piece, id] of Object.entries(vocab)) fromJson[id] = piece;
    expect(tokens).toEqual(fromJson);
    const merges = g.metadata.get('tokenizer.ggml.merges') as string[];
    expect(merges.length).toBe(50000);
    const jsonMerges = (json.model.merges as Array<string | string[]>).map((m) => (Array.isArray(m) ? m.join(' ') : m));
    expect(merges).toEqual(jsonMerges);
  });
});

describeData('GGUF: bad input from real files', () => {
  let good: Uint8Array;
  let headerEnd: number;
  beforeAll(async () => {
    good = new Uint8Array(await readFile(dataPath('llama2c-stories260k', 'stories260K.gguf')));
    headerEnd = locateTensorInfo(good, 'token_embd.weight').offset; // tensor infos come last in the header
  });
  const edit = (f: (bytes: Uint8Array, view: DataView) => void): Uint8Array => {
    const bytes = good.slice();
    f(bytes, new DataView(bytes.buffer));
    return bytes;
  };

  it('truncated anywhere: an E_FORMAT naming the file and a byte offset, never a RangeError', async () => {
    const cuts = [0, 3, 7, 8, 15, 23, 24, 30];
    for (let c = 31; c < 14_200; c += 97) cuts.push(c); // through the metadata, the tensor infos and the padding
    cuts.push(14_144, 14_145, 200_000, good.length - 1);
    for (const cut of cuts) {
      const message = await expectWeftError(parseBytes(good.subarray(0, cut), 'cut.gguf'), 'E_FORMAT', /^cut\.gguf: /, /byte offset \d+/);
      if (cut >= 8) expect(message, `cut at ${cut}`).toMatch(/truncated/);
    }
    expect(headerEnd).toBeLessThan(14_144);
  });

  it('truncated tensor data names the tensor that runs past the end', async () => {
    const message = await expectWeftError(parseBytes(good.subarray(0, good.length - 100)), 'E_FORMAT', /tensor blk\.4\.ffn_norm\.weight/, /past the end/);
    expect(message).toMatch(/byte offset 1185088/); // 1,185,344 − 256: the last tensor, a [64] F32 norm
  });

  it('refuses GGUF v1, unknown versions and non-GGUF files', async () => {
    await expectWeftError(parseBytes(edit((_, v) => v.setUint32(4, 1, true))), 'E_UNSUPPORTED', /GGUF version 1/, /bad\.gguf/);
    await expectWeftError(parseBytes(edit((_, v) => v.setUint32(4, 4, true))), 'E_UNSUPPORTED', /GGUF version 4/);
    await expectWeftError(parseBytes(edit((_, v) => v.setUint32(4, 0x03000000, true))), 'E_UNSUPPORTED', /big-endian/);
    await expectWeftError(parseBytes(edit((b) => b.set([0x7f, 0x45, 0x4c, 0x46]))), 'E_FORMAT', /not a GGUF file/, /byte offset 0/);
  });

  it('corrupt counts are checked against the file size before anything is allocated', async () => {
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(8, 1n << 62n, true))), 'E_FORMAT', /tensor count is 4611686018427387904/, /byte offset 8/);
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(8, 100_000n, true))), 'E_FORMAT', /tensor count is 100000/);
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(16, 0xffffffffffffffffn, true))), 'E_FORMAT', /key\/value count/, /byte offset 16/);
    // the first key's length (byte 24)
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(24, 1n << 40n, true))), 'E_FORMAT', /length of metadata key 0/, /byte offset 24/);
    // the token array's count: after its key, its value type (9) and its element type (8)
    const tokensKey = Buffer.from(good).indexOf('tokenizer.ggml.tokens');
    const countAt = tokensKey + 'tokenizer.ggml.tokens'.length + 8;
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(countAt, 1n << 50n, true))), 'E_FORMAT', /element count of tokenizer\.ggml\.tokens/, new RegExp(`byte offset ${countAt}`));
    // one token's string length past the end
    const tokenAt = countAt + 8; // the first token, "<unk>"
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(tokenAt, 10_000_000n, true))), 'E_FORMAT', /tokenizer\.ggml\.tokens\[0\]/);
    // an unknown metadata value type for the first key (general.architecture, length 20)
    await expectWeftError(parseBytes(edit((_, v) => v.setUint32(24 + 8 + 20, 13, true))), 'E_FORMAT', /general\.architecture: unknown value type 13/, /byte offset 52/);
  });

  it('tensor descriptions: unknown type, bad dims, misaligned or overlapping offsets, ranges past the end', async () => {
    const k = locateTensorInfo(good, 'blk.0.attn_k.weight');
    for (const type of [4, 31, 99]) {
      await expectWeftError(parseBytes(edit((_, v) => v.setUint32(k.type, type, true))), 'E_FORMAT', new RegExp(`tensor blk\\.0\\.attn_k\\.weight has unknown ggml type ${type}`), new RegExp(`byte offset ${k.type}`));
    }
    // Q8_0 needs rows in multiples of 32: 64 passes, so make the row 48
    await expectWeftError(
      parseBytes(edit((_, v) => { v.setUint32(k.type, 8, true); v.setBigUint64(k.dims, 48n, true); })),
      'E_FORMAT',
      /row length 48 is not a multiple of the Q8_0 block size 32/,
    );
    await expectWeftError(parseBytes(edit((_, v) => v.setUint32(k.nDims, 7, true))), 'E_FORMAT', /7 dimensions/);
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(k.dims, 1n << 60n, true))), 'E_FORMAT', /dimension 0/);
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(k.offset, v.getBigUint64(k.offset, true) + 4n, true))), 'E_FORMAT', /not a multiple of the alignment 32/);
    // attn_k onto attn_q's range
    const q = locateTensorInfo(good, 'blk.0.attn_q.weight');
    await expectWeftError(
      parseBytes(edit((_, v) => v.setBigUint64(k.offset, v.getBigUint64(q.offset, true), true))),
      'E_FORMAT',
      /tensor blk\.0\.attn_(q|k)\.weight overlaps tensor blk\.0\.attn_(q|k)\.weight/,
    );
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(k.offset, 1n << 40n, true))), 'E_FORMAT', /blk\.0\.attn_k\.weight .* ends past the end of the file/);
    // a larger shape that runs into the next tensor
    await expectWeftError(parseBytes(edit((_, v) => v.setBigUint64(k.dims + 8, 64n, true))), 'E_FORMAT', /overlaps/);
  });
});

describeData('GGUF v2', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-gguf-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stories260K rewritten as v2 reads the same header, metadata and tensors', async () => {
    const v2Path = join(dir, 'stories260K-v2.gguf');
    await writeGgufV2From(dataPath('llama2c-stories260k', 'stories260K.gguf'), v2Path);
    const v3 = await parseFile('llama2c-stories260k', 'stories260K.gguf');
    const v2 = await openGguf(v2Path);
    await v2.source.close();
    expect(v2.version).toBe(2);
    expect(v2.metadata).toEqual(v3.metadata);
    expect(v2.tensors).toEqual(v3.tensors);
    expect(v2.dataOffset).toBe(v3.dataOffset);
  });

  it('openGguf of a bad file on disk is the same clear error', async () => {
    const v1Path = join(dir, 'v1.gguf');
    const bytes = await readFile(dataPath('llama2c-stories260k', 'stories260K.gguf'));
    bytes.writeUInt32LE(1, 4);
    await writeFile(v1Path, bytes);
    await expectWeftError(openGguf(v1Path), 'E_UNSUPPORTED', new RegExp(`${v1Path}: GGUF version 1`));
  });
});

describe('GGUF metadata value types (a file built in the test)', () => {
  /** A GGUF v3 file with the given raw key/value bytes and no tensors. */
  function ggufWithKvs(kvs: Uint8Array[], alignment?: number): Uint8Array {
    const parts: number[] = [];
    const push = (b: Uint8Array): void => void parts.push(...b);
    const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
    const u64 = (n: bigint): Uint8Array => new Uint8Array(new BigUint64Array([n]).buffer);
    push(new TextEncoder().encode('GGUF'));
    push(u32(3));
    push(u64(0n));
    push(u64(BigInt(kvs.length + (alignment ? 1 : 0))));
    for (const kv of kvs) push(kv);
    if (alignment) push(kv('general.alignment', 4, u32(alignment)));
    return new Uint8Array(parts);
  }
  const str = (s: string): Uint8Array => {
    const b = new TextEncoder().encode(s);
    const out = new Uint8Array(8 + b.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(b.length), true);
    out.set(b, 8);
    return out;
  };
  const cat = (...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const kv = (key: string, type: number, value: Uint8Array): Uint8Array => cat(str(key), new Uint8Array(new Uint32Array([type]).buffer), value);
  const le = (bytes: ArrayBufferLike): Uint8Array => new Uint8Array(bytes);

  it('reads every scalar type, nested arrays, and 64-bit integers as number when safe else bigint', async () => {
    const file = ggufWithKvs([
      kv('u8', 0, new Uint8Array([250])),
      kv('i8', 1, new Uint8Array([0xfe])),
      kv('u16', 2, le(new Uint16Array([65000]).buffer)),
      kv('i16', 3, le(new Int16Array([-300]).buffer)),
      kv('u32', 4, le(new Uint32Array([4_000_000_000]).buffer)),
      kv('i32', 5, le(new Int32Array([-2_000_000_000]).buffer)),
      kv('f32', 6, le(new Float32Array([0.1]).buffer)),
      kv('bool', 7, new Uint8Array([1])),
      kv('str', 8, str('héllo ▁')),
      kv('u64.safe', 10, le(new BigUint64Array([2n ** 53n - 1n]).buffer)),
      kv('u64.big', 10, le(new BigUint64Array([2n ** 64n - 1n]).buffer)),
      kv('i64.neg', 11, le(new BigInt64Array([-5n]).buffer)),
      kv('i64.big', 11, le(new BigInt64Array([-(2n ** 60n)]).buffer)),
      kv('f64', 12, le(new Float64Array([Math.PI]).buffer)),
      kv('arr.i32', 9, cat(le(new Uint32Array([5]).buffer), le(new BigUint64Array([3n]).buffer), le(new Int32Array([1, -2, 3]).buffer))),
      kv('arr.nested', 9, cat(le(new Uint32Array([9]).buffer), le(new BigUint64Array([2n]).buffer),
        le(new Uint32Array([8]).buffer), le(new BigUint64Array([2n]).buffer), str('a'), str('bc'),
        le(new Uint32Array([7]).buffer), le(new BigUint64Array([1n]).buffer), new Uint8Array([0]))),
      kv('arr.empty', 9, cat(le(new Uint32Array([8]).buffer), le(new BigUint64Array([0n]).buffer))),
    ], 64);
    const g = await parseBytes(file, 'types.gguf');
    expect(Object.fromEntries(g.metadata)).toEqual({
      u8: 250,
      i8: -2,
      u16: 65000,
      i16: -300,
      u32: 4_000_000_000,
      i32: -2_000_000_000,
      f32: Math.fround(0.1),
      bool: true,
      str: 'héllo ▁',
      'u64.safe': 2 ** 53 - 1,
      'u64.big': 2n ** 64n - 1n,
      'i64.neg': -5,
      'i64.big': -(2n ** 60n),
      f64: Math.PI,
      'arr.i32': [1, -2, 3],
      'arr.nested': [['a', 'bc'], [false]],
      'arr.empty': [],
      'general.alignment': 64,
    });
    expect(g.alignment).toBe(64);
    expect(g.tensors).toEqual([]);
  });

  it('refuses an alignment that is not a power of two, duplicate keys and unknown array element types', async () => {
    await expectWeftError(parseBytes(ggufWithKvs([], 48)), 'E_FORMAT', /general\.alignment is 48/);
    const dup = kv('x', 0, new Uint8Array([1]));
    await expectWeftError(parseBytes(ggufWithKvs([dup, dup])), 'E_FORMAT', /duplicate metadata key x/);
    await expectWeftError(
      parseBytes(ggufWithKvs([kv('a', 9, cat(le(new Uint32Array([77]).buffer), le(new BigUint64Array([1n]).buffer)))])),
      'E_FORMAT',
      /metadata a: unknown array element type 77/,
    );
  });
});
