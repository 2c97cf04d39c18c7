import { readFile } from 'node:fs/promises';
import { beforeAll, expect, it } from 'vitest';
import { openGguf } from '../../src/files/local.js';
import { fileSource, openLlama2c } from '../../src/files/local.js';
import { readLlama2c } from '../../src/formats/llama2c.js';
import { bytesSource } from '../../src/formats/source.js';
import { readTensorInto, weightsFromGguf, weightsFromLlama2c, type WeightEntry } from '../../src/formats/weights.js';
import { dataPath, describeData } from '../helpers/data.js';
import { expectWeftError } from './expect-error.js';

async function tensorBytes(e: WeightEntry): Promise<Buffer> {
  const bytes = new Uint8Array(e.byteLength);
  await readTensorInto(e, bytes);
  return Buffer.from(bytes);
}

describeData('llama2.c checkpoints', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    good = new Uint8Array(await readFile(dataPath('llama2c-stories260k', 'stories260K.bin')));
  });
  const withHeader = (fields: number[]): Uint8Array => {
    const bytes = good.slice();
    const view = new DataView(bytes.buffer);
    fields.forEach((v, i) => view.setInt32(4 * i, v, true));
    return bytes;
  };

  it('reads the stories260K header as its README gives it', async () => {
    const source = await fileSource(dataPath('llama2c-stories260k', 'stories260K.bin'));
    const file = await readLlama2c(source);
    expect(file.config).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    // 1 embedding + 9 per layer + the final norm; no output.weight: the classifier is shared
    expect(file.tensors.length).toBe(1 + 9 * 5 + 1);
    expect(file.tensors.some((t) => t.name === 'output.weight')).toBe(false);
    await source.close();
  });

  it('every tensor equals the same-named tensor of stories260K.gguf, byte for byte and in shape', async () => {
    // The GGUF was converted from this .bin by a separate tool (the README's converter), with llama.cpp names.
    const bin = weightsFromLlama2c(await openLlama2c(dataPath('llama2c-stories260k', 'stories260K.bin')));
    const gguf = weightsFromGguf(await openGguf(dataPath('llama2c-stories260k', 'stories260K.gguf')));
    expect([...gguf.entries.keys()].filter((n) => !bin.has(n))).toEqual(['output.weight']);
    for (const e of bin.entries.values()) {
      const g = gguf.get(e.name);
      expect([e.dtype, e.shape], e.name).toEqual([g.dtype, g.shape]);
      expect((await tensorBytes(e)).equals(await tensorBytes(g)), e.name).toBe(true);
    }
    // the converter wrote the shared classifier out as a copy of the embedding table
    expect((await tensorBytes(gguf.get('output.weight'))).equals(await tensorBytes(bin.get('token_embd.weight')))).toBe(true);
    await bin.close();
    await gguf.close();
  });

  it('a negative vocab_size means an unshared classifier after the freq_cis tables', async () => {
    const wcls = new Uint8Array(512 * 64 * 4).map((_, i) => i % 251);
    const bytes = new Uint8Array(good.length + wcls.length);
    bytes.set(good);
    bytes.set(wcls, good.length);
    new DataView(bytes.buffer).setInt32(20, -512, true);
    const file = await readLlama2c(bytesSource(bytes, 'unshared.bin'));
    expect(file.config.sharedClassifier).toBe(false);
    const set = weightsFromLlama2c(file);
    const output = set.get('output.weight');
    expect(output.shape).toEqual([512, 64]);
    expect(output.offset).toBe(good.length);
    expect((await tensorBytes(output)).equals(Buffer.from(wcls))).toBe(true);
  });

  it('truncated or padded files, and invalid headers, are E_FORMAT naming the file and what is wrong', async () => {
    for (const cut of [0, 27]) {
      await expectWeftError(readLlama2c(bytesSource(good.subarray(0, cut), 'cut.bin')), 'E_FORMAT', /^cut\.bin: truncated llama2\.c checkpoint/);
    }
    const embeddingEnd = 28 + 512 * 64 * 4;
    await expectWeftError(readLlama2c(bytesSource(good.subarray(0, 1000), 'cut.bin')), 'E_FORMAT', /token_embd\.weight \(1 × \[512, 64\] f32\) runs past the end/, /byte offset 28\)/);
    await expectWeftError(readLlama2c(bytesSource(good.subarray(0, embeddingEnd + 100), 'cut.bin')), 'E_FORMAT', /attn_norm\.weight \(5 × \[64\] f32\) runs past the end/);
    // the freq_cis tables are the last 2 × 512 × 4 floats
    await expectWeftError(readLlama2c(bytesSource(good.subarray(0, good.length - 8), 'cut.bin')), 'E_FORMAT', /freq_cis_real\/imag .* runs past the end/);
    const padded = new Uint8Array(good.length + 4);
    padded.set(good);
    await expectWeftError(readLlama2c(bytesSource(padded, 'padded.bin')), 'E_FORMAT', /should be 1056540 bytes but the file has 4 more/);
    await expectWeftError(readLlama2c(bytesSource(withHeader([64, 172, 5, 0, 4, 512, 512]), 'h.bin')), 'E_FORMAT', /not a valid llama2\.c header \(dim 64, .*n_heads 0/);
    await expectWeftError(readLlama2c(bytesSource(withHeader([64, 172, 5, 8, 3, 512, 512]), 'h.bin')), 'E_FORMAT', /not a valid llama2\.c header/);
    // a corrupt header that claims 2³¹−1 layers must fail fast, without listing them
    await expectWeftError(readLlama2c(bytesSource(withHeader([64, 172, 0x7fffffff, 8, 4, 512, 512]), 'h.bin')), 'E_FORMAT', /runs past the end/);
    await expectWeftError(readLlama2c(bytesSource(withHeader([0x616b3432]), 'v1.bin')), 'E_UNSUPPORTED', /newer export format/);
  });
});
