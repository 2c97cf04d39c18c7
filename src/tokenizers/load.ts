import { WeftError } from '../errors.js';
import { openGguf } from '../formats/gguf.js';
import { parseJsonBytes } from '../formats/json.js';
import { tokenizerFromGguf } from './from-gguf.js';
import { tokenizerFromJson } from './from-json.js';
import { tokenizerFromLlama2c } from './llama2c.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * Loads a tokenizer from disk (Node only): a tokenizer.json (with tokenizer_config.json beside it when present), a
 * model folder holding them, a .gguf file (its vocabulary metadata), or a llama2.c tokenizer.bin.
 * The kind of file is recognised by its content: "GGUF" magic, a JSON object, or else llama2.c's binary layout.
 * `vocabSize`: the model's, which a llama2.c tokenizer.bin is read to (it does not store its own).
 */
export async function loadTokenizer(path: string, options: { vocabSize?: number } = {}): Promise<Tokenizer> {
  const fs = await import('node:fs/promises');
  const { dirname, join } = await import('node:path');
  const stat = await fs.stat(path).catch((e: Error) => {
    throw new WeftError('E_MISSING', `cannot open tokenizer ${path}: ${e.message}`);
  });
  const readJson = async (file: string): Promise<object> =>
    parseJsonBytes(new Uint8Array(await fs.readFile(file)), file, 'E_TOKENIZER', { object: true }) as object;
  const readConfig = async (folder: string): Promise<object | undefined> => {
    const file = join(folder, 'tokenizer_config.json');
    return (await fs.stat(file).catch(() => null)) ? readJson(file) : undefined;
  };

  if (stat.isDirectory()) {
    const file = join(path, 'tokenizer.json');
    if (!(await fs.stat(file).catch(() => null))) throw new WeftError('E_MISSING', `${path}: the folder has no tokenizer.json`);
    return tokenizerFromJson(await readJson(file), await readConfig(path), file);
  }
  const head = new Uint8Array(4);
  const handle = await fs.open(path, 'r');
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (String.fromCharCode(...head) === 'GGUF') {
    const gguf = await openGguf(path);
    try {
      return await tokenizerFromGguf(gguf);
    } finally {
      await gguf.source.close();
    }
  }
  const firstChar = String.fromCharCode(head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) ?? 0);
  if (firstChar === '{' || path.endsWith('.json')) return tokenizerFromJson(await readJson(path), await readConfig(dirname(path)), path);
  return tokenizerFromLlama2c(new Uint8Array(await fs.readFile(path)), path, options.vocabSize);
}
