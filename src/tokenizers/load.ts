import { WeftError } from '../errors.js';
import { readGguf } from '../formats/gguf.js';
import { parseWith } from '../formats/source.js';
import type { FileOpener } from '../formats/weights.js';
import { tokenizerFromGguf } from './from-gguf.js';
import { tokenizerFromJson } from './from-json.js';
import { tokenizerFromLlama2c } from './llama2c.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * A tokenizer from `file` among `files`, wherever they live (disk, URL, Blob): a tokenizer.json (with the
 * tokenizer_config.json beside it when present), a .gguf file (its vocabulary metadata) or a llama2.c
 * tokenizer.bin; `file` null means the folder's tokenizer.json. The kind of file is recognised by its content:
 * "GGUF" magic, a JSON object, or else llama2.c's binary layout.
 */
export async function tokenizerFromFiles(files: FileOpener, file: string | null): Promise<Tokenizer> {
  const name = file ?? 'tokenizer.json';
  const source = await files.open(name);
  if (!source) {
    throw new WeftError('E_MISSING', file === null ? `${files.where('')}: the folder has no tokenizer.json` : `cannot open tokenizer ${files.where(name)}: no such file`);
  }
  const where = files.where(name);
  try {
    const head = await source.read(0, Math.min(4, source.size));
    if (String.fromCharCode(...head) === 'GGUF') return await tokenizerFromGguf(await parseWith(source, readGguf));
    const bytes = await source.read(0, source.size);
    const firstChar = String.fromCharCode(head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) ?? 0);
    if (firstChar !== '{' && !name.endsWith('.json')) return tokenizerFromLlama2c(bytes, where);
    const folder = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
    const configSource = await files.open(`${folder}tokenizer_config.json`);
    let config: object | undefined;
    if (configSource) {
      try {
        config = readJson(await configSource.read(0, configSource.size), files.where(`${folder}tokenizer_config.json`));
      } finally {
        await configSource.close();
      }
    }
    return tokenizerFromJson(readJson(bytes, where), config, where);
  } finally {
    await source.close();
  }
}

function readJson(bytes: Uint8Array, where: string): object {
  try {
    return JSON.parse(new TextDecoder('utf-8').decode(bytes)) as object;
  } catch (e) {
    throw new WeftError('E_TOKENIZER', `${where}: not valid JSON (${(e as Error).message})`);
  }
}

/** A tokenizer file or a folder holding tokenizer.json, on disk (Node). */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const { localFiles } = await import('../files/local.js');
  const local = await localFiles(path);
  if (!local) throw new WeftError('E_MISSING', `cannot open tokenizer ${path}: no such file or folder`);
  return tokenizerFromFiles(local.files, local.main);
}
