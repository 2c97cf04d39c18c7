/**
 * The fuzz cases: hostile variants of the shared reference files and hostile requests, each a pure function of
 * (seed, index), so a failing case is reproduced by its number alone.
 *
 *   seed, index ──Rng──▶ target (llama2.c .bin, GGUF, safetensors, config.json, generation_config.json,
 *                         tokenizer.json, tokenizer_config.json, tokenizer.bin, a request)
 *                 ──mutation──▶ truncation at a header-field boundary, a field set to 0 / −1 / ±1 / 2^31 / 2^32 /
 *                         2^63, a byte flip, a JSON node replaced or deleted, a hostile option
 *                 ──▶ files in a folder + the operation to run on them (see child.ts)
 *
 * The header-field walkers below are written from the formats' specifications, independently of src/formats.
 */
import { readFileSync } from 'node:fs';
import { Rng } from '../../src/generation/sampling.js';
import { dataPath } from '../helpers/data.js';

export type Target = 'llama2c' | 'gguf' | 'safetensors' | 'config' | 'generation_config' | 'tokenizer' | 'tokenizer_config' | 'tokenizer_bin' | 'request';
export const TARGETS: Target[] = ['llama2c', 'gguf', 'safetensors', 'config', 'generation_config', 'tokenizer', 'tokenizer_config', 'tokenizer_bin', 'request'];

export interface FuzzCase {
  index: number;
  target: Target;
  /** What was done, for the report: "gguf: tensor_info[3].n_dims ← 2^32". */
  mutation: string;
  /** Files to write in the case's folder (name → bytes). */
  files: Record<string, Uint8Array>;
  /** What to run: load the folder's model and generate, or load the tokenizer file and encode. */
  run: { kind: 'generate'; model: string; prompt: unknown; options: unknown } | { kind: 'tokenize'; tokenizer: string; texts: string[] };
}

interface Field {
  offset: number;
  size: 1 | 2 | 4 | 8;
  name: string;
}

const enc = new TextEncoder();
const cache = new Map<string, Uint8Array>();
function shared(path: string): Uint8Array {
  let b = cache.get(path);
  if (!b) cache.set(path, (b = new Uint8Array(readFileSync(dataPath(path)))));
  return b;
}

// ---- header-field walkers ------------------------------------------------------------------------------------------

/** llama2.c: seven i32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len). */
function llama2cFields(): Field[] {
  return ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'].map((name, i) => ({ offset: 4 * i, size: 4, name }));
}

/** tokenizer.bin: i32 max_token_length, then per token f32 score, i32 length, bytes (the first 64 tokens). */
function tokenizerBinFields(b: Uint8Array): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [{ offset: 0, size: 4, name: 'max_token_length' }];
  let o = 4;
  for (let t = 0; t < 64 && o + 8 <= b.length; t++) {
    fields.push({ offset: o, size: 4, name: `token[${t}].score` }, { offset: o + 4, size: 4, name: `token[${t}].length` });
    o += 8 + v.getInt32(o + 4, true);
  }
  return fields;
}

/** GGUF v2/v3: every field of the header, metadata and tensor infos (ggml's gguf.md). */
function ggufFields(b: Uint8Array): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [
    { offset: 0, size: 4, name: 'magic' },
    { offset: 4, size: 4, name: 'version' },
    { offset: 8, size: 8, name: 'tensor_count' },
    { offset: 16, size: 8, name: 'kv_count' },
  ];
  let o = 24;
  const str = (name: string): string => {
    fields.push({ offset: o, size: 8, name: `${name}.length` });
    const n = Number(v.getBigUint64(o, true));
    const s = new TextDecoder().decode(b.subarray(o + 8, o + 8 + n));
    o += 8 + n;
    return s;
  };
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type: number, name: string): void => {
    if (type === 8) str(name);
    else if (type === 9) {
      fields.push({ offset: o, size: 4, name: `${name}.item_type` }, { offset: o + 4, size: 8, name: `${name}.count` });
      const itemType = v.getUint32(o, true);
      const count = Number(v.getBigUint64(o + 4, true));
      o += 12;
      for (let i = 0; i < count; i++) {
        if (itemType === 8) {
          const n = Number(v.getBigUint64(o, true));
          if (i < 4) fields.push({ offset: o, size: 8, name: `${name}[${i}].length` });
          o += 8 + n;
        } else o += SIZES[itemType]!;
      }
    } else {
      const size = SIZES[type]!;
      fields.push({ offset: o, size: size as Field['size'], name });
      o += size;
    }
  };
  const kvCount = Number(v.getBigUint64(16, true));
  for (let i = 0; i < kvCount; i++) {
    const key = str(`kv[${i}].key`);
    fields.push({ offset: o, size: 4, name: `${key}.type` });
    const type = v.getUint32(o, true);
    o += 4;
    value(type, key);
  }
  const tensorCount = Number(v.getBigUint64(8, true));
  for (let t = 0; t < tensorCount; t++) {
    const name = str(`tensor_info[${t}].name`);
    fields.push({ offset: o, size: 4, name: `${name}.n_dims` });
    const nDims = v.getUint32(o, true);
    o += 4;
    for (let d = 0; d < nDims; d++, o += 8) fields.push({ offset: o, size: 8, name: `${name}.dims[${d}]` });
    fields.push({ offset: o, size: 4, name: `${name}.type` }, { offset: o + 4, size: 8, name: `${name}.offset` });
    o += 12;
  }
  return fields;
}

// ---- mutations ------------------------------------------------------------------------------------------------------

const INT_VALUES: Array<[string, (orig: bigint) => bigint]> = [
  ['0', () => 0n],
  ['-1', () => -1n],
  ['+1', (x) => x + 1n],
  ['-1 (orig)', (x) => x - 1n],
  ['2^31', () => 2n ** 31n],
  ['2^32', () => 2n ** 32n],
  ['2^63', () => 2n ** 63n],
];

function readInt(b: Uint8Array, f: Field): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return f.size === 8 ? v.getBigUint64(f.offset, true) : f.size === 4 ? BigInt(v.getUint32(f.offset, true)) : f.size === 2 ? BigInt(v.getUint16(f.offset, true)) : BigInt(b[f.offset]!);
}

function writeInt(b: Uint8Array, f: Field, x: bigint): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const bits = BigInt(f.size * 8);
  const u = BigInt.asUintN(Number(bits), x);
  if (f.size === 8) v.setBigUint64(f.offset, u, true);
  else if (f.size === 4) v.setUint32(f.offset, Number(u), true);
  else if (f.size === 2) v.setUint16(f.offset, Number(u), true);
  else b[f.offset] = Number(u);
}

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng.nextU32() % list.length]!;
}

/** Truncation at a field boundary, a field write, or a byte flip inside the header region. */
function mutateBinary(rng: Rng, original: Uint8Array, fields: Field[], label: string): { bytes: Uint8Array; mutation: string } {
  const f = pick(rng, fields);
  const r = rng.nextU32() % 10;
  if (r < 3) {
    const at = pick(rng, [f.offset, f.offset + 1, f.offset + f.size, Math.max(0, f.offset - 1)]);
    return { bytes: original.slice(0, at), mutation: `${label}: truncated at byte ${at} (${f.name})` };
  }
  const bytes = original.slice();
  if (r < 9) {
    const [name, value] = pick(rng, INT_VALUES);
    writeInt(bytes, f, value(readInt(original, f)));
    return { bytes, mutation: `${label}: ${f.name} ← ${name}` };
  }
  const end = fields[fields.length - 1]!.offset + 8;
  const at = rng.nextU32() % Math.min(end, bytes.length);
  bytes[at] ^= 1 << (rng.nextU32() % 8);
  return { bytes, mutation: `${label}: bit flip at byte ${at}` };
}

/** Every path of a JSON value (arrays of over 64 items are sampled: vocabularies hold 50k entries). */
function jsonPaths(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    const step = Math.max(1, Math.floor(entries.length / 64));
    for (let i = 0; i < entries.length; i += step) jsonPaths(entries[i]![1], [...prefix, entries[i]![0]], out);
  }
  return out;
}

const HOSTILE_JSON: Array<[string, () => unknown]> = [
  ['null', () => null],
  ['-1', () => -1],
  ['0', () => 0],
  ['1.5', () => 1.5],
  ['2^31', () => 2 ** 31],
  ['2^32', () => 2 ** 32],
  ['2^53', () => 2 ** 53],
  ['1e308', () => 1e308],
  ['""', () => ''],
  ['"a"', () => 'a'],
  ['[]', () => []],
  ['{}', () => ({})],
  ['true', () => true],
  ['[null]', () => [null]],
  ['a 1 MB string', () => 'x'.repeat(1 << 20)],
  ['10000 nested arrays', () => 'DEEP'],
];

function mutateJson(rng: Rng, original: unknown, label: string, structural: (path: Array<string | number>) => boolean): { bytes: Uint8Array; mutation: string } {
  const copy = JSON.parse(JSON.stringify(original)) as Record<string, unknown>;
  const paths = jsonPaths(copy).filter((p) => p.length > 0);
  const preferred = paths.filter(structural);
  const path = pick(rng, preferred.length > 0 && rng.nextU32() % 5 !== 0 ? preferred : paths);
  let parent: any = copy;
  for (const k of path.slice(0, -1)) parent = parent[k];
  const key = path[path.length - 1]!;
  let mutation: string;
  if (rng.nextU32() % 6 === 0 && !Array.isArray(parent)) {
    delete parent[key];
    mutation = `${label}: deleted ${path.join('.')}`;
  } else {
    const [name, make] = pick(rng, HOSTILE_JSON);
    parent[key] = make();
    mutation = `${label}: ${path.join('.')} ← ${name}`;
  }
  let text = JSON.stringify(copy);
  text = text.replace('"DEEP"', '['.repeat(10_000) + ']'.repeat(10_000)); // JSON.stringify cannot write it
  return { bytes: enc.encode(text), mutation };
}

// ---- the cases --------------------------------------------------------------------------------------------------------

const STORIES = 'llama2c-stories260k';
const TOKENIZERS = ['gpt2', 'all-MiniLM-L6-v2', 'legal_t5_small_trans_fr_en'];
const TEXTS = ['Hello world', ' a  b\tc\n', 'Ünïcödé 🦙 日本語', 'x'.repeat(300)];
const GOOD_GENERATE = { max_new_tokens: 8, temperature: 0 };

/** Requests a careless or hostile caller might make of a good model. */
const HOSTILE_REQUESTS: Array<[string, unknown, unknown]> = [
  ['prompt {}', {}, {}],
  ['prompt null', null, {}],
  ['prompt 42', 42, {}],
  ['prompt [-1]', [-1], {}],
  ['prompt [1e9]', [1e9], {}],
  ['prompt [1.5]', [1.5], {}],
  ['options null', 'Once', null],
  ['options "x"', 'Once', 'x'],
  ['options []', 'Once', []],
  ['temperature -1', 'Once', { temperature: -1 }],
  ['temperature "0.5"', 'Once', { temperature: '0.5' }],
  ['temperature NaN', 'Once', { temperature: NaN }],
  ['top_k 1.5', 'Once', { top_k: 1.5 }],
  ['top_p 0', 'Once', { top_p: 0 }],
  ['top_p 2', 'Once', { top_p: 2 }],
  ['min_p -1', 'Once', { min_p: -1 }],
  ['max_new_tokens -1', 'Once', { max_new_tokens: -1 }],
  ['max_new_tokens 1e12', 'Once', { max_new_tokens: 1e12, temperature: 0 }],
  ['eos_token_id "a"', 'Once', { eos_token_id: 'a' }],
  ['eos_token_id [1e9]', 'Once', { eos_token_id: [1e9] }],
  ['logit_bias bans all', 'Once', { logit_bias: Object.fromEntries(Array.from({ length: 512 }, (_, i) => [i, -Infinity])) }],
  ['logit_bias id -1', 'Once', { logit_bias: { '-1': 1 } }],
  ['logit_bias NaN', 'Once', { logit_bias: { 5: NaN } }],
  ['logit_bias []', 'Once', { logit_bias: [] }],
  ['stop ""', 'Once', { stop: '' }],
  ['stop [1]', 'Once', { stop: [1] }],
  ['seed -1', 'Once', { seed: -1 }],
  ['seed 2^53', 'Once', { seed: 2 ** 53 }],
  ['repetition_penalty 0', 'Once', { repetition_penalty: 0 }],
  ['signal {}', 'Once', { signal: {} }],
  ['truncate_prompt "yes"', 'Once', { truncate_prompt: 'yes' }],
  ['a 2 MB prompt', 'Once upon a time '.repeat(120_000), { max_new_tokens: 2 }],
];

export function makeCase(seed: number, index: number): FuzzCase {
  const rng = new Rng(seed * 1_000_003 + index);
  const target = TARGETS[index % TARGETS.length]!;
  const stories = { 'stories260K.bin': shared(`${STORIES}/stories260K.bin`), 'tok512.bin': shared(`${STORIES}/tok512.bin`) };
  const generate = (model: string, prompt: unknown = [1], options: unknown = GOOD_GENERATE) => ({ kind: 'generate' as const, model, prompt, options });
  const llamaA = () => ({
    'config.json': shared('ref-models/llama-a/config.json'),
    'generation_config.json': shared('ref-models/llama-a/generation_config.json'),
    'model.safetensors': shared('ref-models/llama-a/model.safetensors'),
  });
  switch (target) {
    case 'llama2c': {
      const { bytes, mutation } = mutateBinary(rng, stories['stories260K.bin'], llama2cFields(), 'stories260K.bin');
      return { index, target, mutation, files: { ...stories, 'stories260K.bin': bytes }, run: generate('stories260K.bin') };
    }
    case 'tokenizer_bin': {
      const tok = stories['tok512.bin'];
      const { bytes, mutation } = mutateBinary(rng, tok, tokenizerBinFields(tok), 'tok512.bin');
      return { index, target, mutation, files: { ...stories, 'tok512.bin': bytes }, run: generate('stories260K.bin', 'Once upon a time', GOOD_GENERATE) };
    }
    case 'gguf': {
      const gguf = shared(`${STORIES}/stories260K.gguf`);
      const { bytes, mutation } = mutateBinary(rng, gguf, ggufFields(gguf), 'stories260K.gguf');
      return { index, target, mutation, files: { 'stories260K.gguf': bytes }, run: generate('stories260K.gguf') };
    }
    case 'safetensors': {
      const st = shared('ref-models/llama-a/model.safetensors');
      const n = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + n))) as Record<string, unknown>;
      let bytes: Uint8Array;
      let mutation: string;
      if (rng.nextU32() % 3 === 0) {
        ({ bytes, mutation } = mutateBinary(rng, st, [{ offset: 0, size: 8, name: 'header_length' }], 'model.safetensors'));
      } else {
        const m = mutateJson(rng, header, 'model.safetensors header', (p) => p.length >= 2);
        const json = m.bytes;
        bytes = new Uint8Array(8 + json.length + st.length - 8 - n);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
        bytes.set(json, 8);
        bytes.set(st.subarray(8 + n), 8 + json.length);
        mutation = m.mutation;
      }
      return { index, target, mutation, files: { ...llamaA(), 'model.safetensors': bytes }, run: generate('.', [1, 2, 3]) };
    }
    case 'config':
    case 'generation_config': {
      const file = `${target}.json`;
      const original = JSON.parse(new TextDecoder().decode(shared(`ref-models/llama-a/${file}`))) as unknown;
      const { bytes, mutation } = mutateJson(rng, original, file, () => true);
      return { index, target, mutation, files: { ...llamaA(), [file]: bytes }, run: generate('.', [1, 2, 3]) };
    }
    case 'tokenizer':
    case 'tokenizer_config': {
      const name = pick(rng, TOKENIZERS);
      const tokenizerJson = shared(`tokenizers/${name}/tokenizer.json`);
      if (target === 'tokenizer') {
        const original = JSON.parse(new TextDecoder().decode(tokenizerJson)) as unknown;
        const big = (p: Array<string | number>) => p[0] === 'model' && (p[1] === 'vocab' || p[1] === 'merges') && p.length > 2;
        const { bytes, mutation } = mutateJson(rng, original, `${name}/tokenizer.json`, (p) => !big(p));
        return { index, target, mutation, files: { 'tokenizer.json': bytes }, run: { kind: 'tokenize', tokenizer: 'tokenizer.json', texts: TEXTS } };
      }
      const config = {
        bos_token: '<s>',
        eos_token: '</s>',
        model_max_length: 512,
        chat_template: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
      };
      const { bytes, mutation } = mutateJson(rng, config, `${name}/tokenizer_config.json`, () => true);
      return { index, target, mutation, files: { 'tokenizer.json': tokenizerJson, 'tokenizer_config.json': bytes }, run: { kind: 'tokenize', tokenizer: '.', texts: TEXTS } };
    }
    case 'request': {
      const [name, prompt, options] = pick(rng, HOSTILE_REQUESTS);
      return { index, target, mutation: `request: ${name}`, files: stories, run: generate('stories260K.bin', prompt, options) };
    }
  }
}
