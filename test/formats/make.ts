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
