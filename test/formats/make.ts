/**
 * Test data made from shipped files, for the paths no shipped file covers. Written without weft's parsers, so
 * that a test comparing weft's reading of the made file with its reading of the original checks something.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Rewrite a GGUF v3 file as v2. The two versions have the same little-endian layout (v3 only added big-endian
 * files), so the rewrite changes the u32 version at byte 4 and nothing else.
 */
export async function writeGgufV2From(v3Path: string, outPath: string): Promise<void> {
  const bytes = await readFile(v3Path);
  if (bytes.toString('latin1', 0, 4) !== 'GGUF' || bytes.readUInt32LE(4) !== 3) throw new Error(`${v3Path} is not a GGUF v3 file`);
  bytes.writeUInt32LE(2, 4);
  await writeFile(outPath, bytes);
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file's header JSON and data section, read by hand (8-byte length, JSON, data). */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + n) };
}

/** Serialise a safetensors file: the JSON header padded with spaces to a multiple of 8, as the reference writer does. */
export function joinSafetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  out.set(data, 8 + jsonBytes.length);
  return out;
}

/**
 * Split a single-file safetensors checkpoint into `nShards` files named as transformers names them
 * (`model-00001-of-00002.safetensors`), tensors in file order, plus `model.safetensors.index.json`. The
 * folder's config.json and generation_config.json are copied beside them, so `outDir` is a model folder.
 */
export async function shardSafetensors(path: string, outDir: string, nShards: number): Promise<void> {
  const { header, data } = splitSafetensors(await readFile(path));
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  names.sort((a, b) => (header[a] as HeaderEntry).data_offsets[0] - (header[b] as HeaderEntry).data_offsets[0]);
  await mkdir(outDir, { recursive: true });
  const weightMap: Record<string, string> = {};
  const perShard = Math.ceil(names.length / nShards);
  for (let s = 0; s < nShards; s++) {
    const shardName = `model-${String(s + 1).padStart(5, '0')}-of-${String(nShards).padStart(5, '0')}.safetensors`;
    const shardHeader: Record<string, unknown> = { __metadata__: header.__metadata__ ?? { format: 'pt' } };
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const name of names.slice(s * perShard, (s + 1) * perShard)) {
      const entry = header[name] as HeaderEntry;
      const bytes = data.subarray(entry.data_offsets[0], entry.data_offsets[1]);
      shardHeader[name] = { dtype: entry.dtype, shape: entry.shape, data_offsets: [offset, offset + bytes.length] };
      chunks.push(bytes);
      offset += bytes.length;
      weightMap[name] = shardName;
    }
    const shardData = new Uint8Array(offset);
    let at = 0;
    for (const c of chunks) {
      shardData.set(c, at);
      at += c.length;
    }
    await writeFile(join(outDir, shardName), joinSafetensors(shardHeader, shardData));
  }
  const index = { metadata: { total_size: data.length }, weight_map: weightMap };
  await writeFile(join(outDir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
  for (const extra of ['config.json', 'generation_config.json']) {
    await copyFile(join(dirname(path), extra), join(outDir, extra)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // bert and some others have no generation_config.json
    });
  }
}

/**
 * Split a GGUF file as llama.cpp's gguf-split does (tools/gguf-split): `n` complete GGUF v3 files, the tensors
 * divided in order between them; the first split keeps every metadata key of the original, and each split gets
 * `split.no` (u16), `split.count` (u16) and `split.tensors.count` (i32). Header walked by hand, not by weft's reader.
 */
export function splitGguf(bytes: Uint8Array, n: number): Array<Uint8Array<ArrayBuffer>> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  const nTensors = Number(view.getBigUint64(8, true));
  const nKv = Number(view.getBigUint64(16, true));
  let pos = 24;
  const u64 = () => ((pos += 8), Number(view.getBigUint64(pos - 8, true)));
  const u32 = () => ((pos += 4), view.getUint32(pos - 4, true));
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  let alignment = 32;
  // Never `pos += u64()`: the left `pos` would be read before u64() advances it.
  const skip = (bytes: number) => (pos += bytes);
  const skipValue = (type: number): void => {
    if (type === 8) skip(u64());
    else if (type === 9) {
      const inner = u32();
      const count = u64();
      for (let i = 0; i < count; i++) skipValue(inner);
    } else pos += SIZES[type];
  };
  for (let i = 0; i < nKv; i++) {
    const key = new TextDecoder().decode(bytes.subarray(pos + 8, pos + 8 + Number(view.getBigUint64(pos, true))));
    pos += 8 + key.length;
    const type = u32();
    if (key === 'general.alignment') alignment = view.getUint32(pos, true);
    skipValue(type);
  }
  const kv = bytes.subarray(24, pos);
  const infos: Array<{ info: Uint8Array; offset: number }> = [];
  for (let i = 0; i < nTensors; i++) {
    const start = pos;
    skip(u64()); // name
    skip(8 * u32()); // dims
    pos += 4; // type
    const offset = u64();
    infos.push({ info: bytes.subarray(start, pos - 8), offset });
  }
  const dataStart = Math.ceil(pos / alignment) * alignment;
  const sorted = [...infos].sort((a, b) => a.offset - b.offset);
  const blockOf = (t: (typeof infos)[number]) => {
    const next = sorted[sorted.indexOf(t) + 1];
    return bytes.subarray(dataStart + t.offset, next ? dataStart + next.offset : bytes.length);
  };
  const out: Array<Uint8Array<ArrayBuffer>> = [];
  const per = Math.ceil(nTensors / n);
  for (let s = 0; s < n; s++) {
    const mine = infos.slice(s * per, (s + 1) * per);
    const parts: Uint8Array[] = [];
    let length = 0;
    const push = (b: Uint8Array) => {
      parts.push(b);
      length += b.length;
    };
    const pad = () => push(new Uint8Array((alignment - (length % alignment)) % alignment));
    const le = (value: number, size: number) => {
      const b = new Uint8Array(size);
      const v = new DataView(b.buffer);
      if (size === 8) v.setBigUint64(0, BigInt(value), true);
      else if (size === 4) v.setUint32(0, value, true);
      else v.setUint16(0, value, true);
      return b;
    };
    const key = (k: string, type: number) => {
      push(le(k.length, 8));
      push(new TextEncoder().encode(k));
      push(le(type, 4));
    };
    push(bytes.subarray(0, 8)); // magic, version
    push(le(mine.length, 8));
    push(le((s === 0 ? nKv : 0) + 3, 8));
    if (s === 0) push(kv);
    key('split.no', 2);
    push(le(s, 2));
    key('split.count', 2);
    push(le(n, 2));
    key('split.tensors.count', 5);
    push(le(nTensors, 4));
    let offset = 0;
    const blocks: Uint8Array[] = [];
    for (const t of mine) {
      push(t.info);
      push(le(offset, 8));
      const block = blockOf(t);
      blocks.push(block);
      offset += Math.ceil(block.length / alignment) * alignment;
    }
    pad();
    for (const block of blocks) {
      push(block);
      pad();
    }
    const file = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      file.set(p, at);
      at += p.length;
    }
    out.push(file);
  }
  return out;
}
