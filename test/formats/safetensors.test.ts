import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readSafetensors, type SafetensorsFile } from '../../src/formats/safetensors.js';
import { bytesSource } from '../../src/formats/source.js';
import { openSafetensors } from '../../src/files/local.js';
import { readTensorInto } from '../../src/formats/weights.js';
import { dataPath, describeData } from '../helpers/data.js';
import { expectWeftError } from './expect-error.js';
import { joinSafetensors, shardSafetensors, splitSafetensors } from './make.js';

const REF_MODELS = ['gpt2-a', 'gpt2-a-f16', 'gpt2-a-bf16', 'gpt2-b', 'llama-a', 'llama-b', 'qwen2-a', 'bert-a', 'bert-b', 't5-a', 't5-b'];

function parseBytes(bytes: Uint8Array, name = 'bad.safetensors'): Promise<SafetensorsFile> {
  return readSafetensors(bytesSource(bytes, name));
}

describeData('safetensors: the reference models', () => {
  it('every ref-models checkpoint parses, with the dtype of its README and the shapes of its config', async () => {
    for (const model of REF_MODELS) {
      const set = await openSafetensors(dataPath('ref-models', model));
      const config = JSON.parse(await readFile(dataPath('ref-models', model, 'config.json'), 'utf8'));
      const dtype = model.endsWith('-f16') ? 'f16' : model.endsWith('-bf16') ? 'bf16' : 'f32';
      for (const e of set.entries.values()) expect(e.dtype, `${model} ${e.name}`).toBe(dtype);
      const hidden = config.n_embd ?? config.hidden_size ?? config.d_model;
      const embedding = ['transformer.wte.weight', 'wte.weight', 'model.embed_tokens.weight', 'embeddings.word_embeddings.weight', 'bert.embeddings.word_embeddings.weight', 'shared.weight'].find((n) => set.has(n));
      expect(embedding, model).toBeDefined();
      expect(set.get(embedding!).shape, model).toEqual([config.vocab_size, hidden]);
      await set.close();
    }
  });

  it('gpt2-a: Conv1D [in, out] layout, tied head, __metadata__', async () => {
    const path = dataPath('ref-models', 'gpt2-a', 'model.safetensors');
    const st = await readSafetensors(bytesSource(new Uint8Array(await readFile(path)), path));
    expect(st.metadata).toEqual({ format: 'pt' });
    const byName = new Map(st.tensors.map((t) => [t.name, t]));
    expect(byName.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([64, 192]);
    expect(byName.get('transformer.h.1.mlp.c_proj.weight')!.shape).toEqual([256, 64]);
    expect(byName.get('transformer.wpe.weight')!.shape).toEqual([128, 64]);
    expect(byName.has('lm_head.weight')).toBe(false);
    expect(byName.has('transformer.h.0.attn.bias')).toBe(false);
    for (const t of st.tensors) expect(t.dtype).toBe('F32');
  });

  it('llama-a has an untied lm_head and GQA projections; llama-b is tied', async () => {
    const a = await openSafetensors(dataPath('ref-models', 'llama-a', 'model.safetensors'));
    expect(a.get('lm_head.weight').shape).toEqual([512, 64]);
    expect(a.get('model.layers.1.self_attn.k_proj.weight').shape).toEqual([32, 64]); // 2 kv heads × 16
    expect(a.get('model.layers.1.mlp.gate_proj.weight').shape).toEqual([172, 64]);
    await a.close();
    const b = await openSafetensors(dataPath('ref-models', 'llama-b'));
    expect(b.has('lm_head.weight')).toBe(false);
    expect(b.get('model.layers.0.self_attn.q_proj.weight').shape).toEqual([64, 48]); // explicit head_dim 16
    await b.close();
  });
});

describeData('safetensors: bad input from gpt2-a', () => {
  let good: Uint8Array;
  let header: Record<string, unknown>;
  let data: Uint8Array;
  beforeAll(async () => {
    good = new Uint8Array(await readFile(dataPath('ref-models', 'gpt2-a', 'model.safetensors')));
    ({ header, data } = splitSafetensors(good));
  });
  /** The file with one header entry changed. */
  const withEntry = (name: string, value: unknown): Uint8Array => joinSafetensors({ ...header, [name]: value }, data);
  const entry = (name: string): { dtype: string; shape: number[]; data_offsets: [number, number] } =>
    header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };

  it('truncated anywhere: E_FORMAT naming the file, never a RangeError', async () => {
    const headerEnd = good.length - data.length;
    const cuts = [0, 4, 7, 8, 9, 100, headerEnd - 1, headerEnd, headerEnd + 1, good.length - 1];
    for (let c = 0; c < good.length; c += 9973) cuts.push(c);
    for (const cut of cuts) {
      await expectWeftError(parseBytes(good.subarray(0, cut), 'cut.safetensors'), 'E_FORMAT', /^cut\.safetensors: /, /truncated/);
    }
  });

  it('a header length past the end of the file or absurdly large', async () => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setBigUint64(0, BigInt(good.length), true);
    await expectWeftError(parseBytes(bytes), 'E_FORMAT', /header length \d+ is past the end of the file/, /byte offset 0/);
    new DataView(bytes.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    await expectWeftError(parseBytes(bytes), 'E_FORMAT', /header length 18446744073709551615/);
  });

  it('a header that is not JSON, or not an object', async () => {
    const bytes = good.slice();
    bytes[8] = 0x5b; // '[' instead of '{'
    await expectWeftError(parseBytes(bytes), 'E_FORMAT', /not valid UTF-8 JSON/);
    bytes[8] = 0xff; // invalid UTF-8
    await expectWeftError(parseBytes(bytes), 'E_FORMAT', /not valid UTF-8 JSON/);
    await expectWeftError(parseBytes(joinSafetensors([] as unknown as Record<string, unknown>, data)), 'E_FORMAT', /not a JSON object/);
  });

  it('unknown dtype, bad shapes, shape × dtype size ≠ span, offsets past the end or overlapping', async () => {
    const name = 'transformer.h.0.attn.c_attn.weight';
    const e = entry(name);
    await expectWeftError(parseBytes(withEntry(name, { ...e, dtype: 'F12' })), 'E_FORMAT', /tensor transformer\.h\.0\.attn\.c_attn\.weight: unknown dtype "F12"/);
    await expectWeftError(parseBytes(withEntry(name, { ...e, shape: [64, -192] })), 'E_FORMAT', /shape \[64,-192\] is not a list/);
    await expectWeftError(parseBytes(withEntry(name, { ...e, shape: [64, 191] })), 'E_FORMAT', /shape \[64, 191\] of F32 needs 48896 bytes but data_offsets \[\d+, \d+\] span 49152/);
    await expectWeftError(parseBytes(withEntry(name, { ...e, dtype: 'F16' })), 'E_FORMAT', /needs 24576 bytes/);
    await expectWeftError(parseBytes(withEntry(name, { ...e, data_offsets: [e.data_offsets[1], e.data_offsets[0]] })), 'E_FORMAT', /data_offsets .* not \[begin, end\]/);
    await expectWeftError(parseBytes(withEntry(name, { ...e, data_offsets: [e.data_offsets[0]] })), 'E_FORMAT', /data_offsets/);
    const past = data.length;
    await expectWeftError(
      parseBytes(withEntry(name, { ...e, data_offsets: [past, past + 49152] })),
      'E_FORMAT',
      /tensor transformer\.h\.0\.attn\.c_attn\.weight ends at byte \d+, past the end of the file/,
    );
    // onto the range of another tensor of the same size
    const other = Object.keys(header).find((n) => n !== name && n !== '__metadata__' && entry(n).data_offsets[1] - entry(n).data_offsets[0] === 49152)!;
    await expectWeftError(parseBytes(withEntry(name, { ...e, data_offsets: entry(other).data_offsets })), 'E_FORMAT', /overlaps tensor/);
    // half-overlapping: shifted by 4 bytes into its neighbour
    await expectWeftError(parseBytes(withEntry(name, { ...e, data_offsets: [e.data_offsets[0] + 4, e.data_offsets[1] + 4] })), 'E_FORMAT', /overlaps tensor/);
    await expectWeftError(parseBytes(withEntry('__metadata__', { format: 1 })), 'E_FORMAT', /__metadata__ must be an object of strings/);
  });

  it('parses I32/I64 tensors (which model code refuses for weights)', async () => {
    const bytes = joinSafetensors({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, pos: { dtype: 'I32', shape: [2], data_offsets: [16, 24] } }, new Uint8Array(24));
    const st = await parseBytes(bytes);
    expect(st.tensors.map((t) => [t.name, t.dtype, t.byteLength])).toEqual([['ids', 'I64', 16], ['pos', 'I32', 8]]);
  });
});

describeData('safetensors: sharded checkpoints', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-shards-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gpt2-a split into two shards reads the same entries with identical bytes', async () => {
    const out = join(dir, 'gpt2-a-sharded');
    await shardSafetensors(dataPath('ref-models', 'gpt2-a', 'model.safetensors'), out, 2);
    const single = await openSafetensors(dataPath('ref-models', 'gpt2-a'));
    const sharded = await openSafetensors(out);
    expect([...sharded.entries.keys()].sort()).toEqual([...single.entries.keys()].sort());
    expect(new Set([...sharded.entries.values()].map((e) => e.source.name)).size).toBe(2);
    for (const a of single.entries.values()) {
      const b = sharded.get(a.name);
      expect([b.dtype, b.shape, b.byteLength]).toEqual([a.dtype, a.shape, a.byteLength]);
      const bytesA = new Uint8Array(a.byteLength);
      const bytesB = new Uint8Array(b.byteLength);
      await readTensorInto(a, bytesA);
      await readTensorInto(b, bytesB);
      expect(Buffer.from(bytesB).equals(Buffer.from(bytesA)), a.name).toBe(true);
    }
    await single.close();
    await sharded.close();
    // the index file itself opens the same checkpoint
    const viaIndex = await openSafetensors(join(out, 'model.safetensors.index.json'));
    expect(viaIndex.entries.size).toBe(single.entries.size);
    await viaIndex.close();
  });

  it('an index naming a missing shard, a tensor its shard lacks, or bad JSON', async () => {
    const out = join(dir, 'broken');
    await shardSafetensors(dataPath('ref-models', 'gpt2-a', 'model.safetensors'), out, 2);
    const indexPath = join(out, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));

    await writeFile(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, 'extra.weight': 'model-00001-of-00002.safetensors' } }));
    await expectWeftError(openSafetensors(out), 'E_MISSING', /tensor extra\.weight in model-00001-of-00002\.safetensors, which does not hold it/);

    await writeFile(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, 'transformer.wte.weight': 'model-00009-of-00009.safetensors' } }));
    await expectWeftError(openSafetensors(out), 'E_MISSING', /model-00009-of-00009\.safetensors/);

    await writeFile(indexPath, JSON.stringify({ weight_map: { 'transformer.wte.weight': '../../etc/passwd' } }));
    await expectWeftError(openSafetensors(out), 'E_FORMAT', /not a shard file in the same folder/);

    await writeFile(indexPath, '{"weight_map": ');
    await expectWeftError(openSafetensors(out), 'E_FORMAT', /model\.safetensors\.index\.json: not valid JSON/);

    await expectWeftError(openSafetensors(join(dir, 'nothing-here')), 'E_MISSING', /no such file or folder/);
    await expectWeftError(openSafetensors(dir), 'E_MISSING', /holds neither model\.safetensors nor model\.safetensors\.index\.json/);
  });
});
