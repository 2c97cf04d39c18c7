/**
 * Bad input to loadModel and forward: each a WeftError that names the problem, with every allocation of a failed
 * load given back, so the same Runtime loads the next model.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectWeftError } from '../formats/expect-error.js';
import { joinSafetensors, splitSafetensors } from '../formats/make.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readJson } from './helpers.js';

describeData('loadModel and forward on bad input', () => {
  let rt: Runtime;
  let tmp: string;
  beforeAll(async () => {
    rt = await Runtime.create();
    tmp = await mkdtemp(join(tmpdir(), 'weft-models-'));
  });
  afterAll(async () => {
    rt.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  /** A copy of a reference model folder, with its config and its safetensors optionally edited. */
  async function modelCopy(
    name: string,
    from: string,
    edit: { config?: (c: Record<string, unknown>) => void; tensors?: (header: Record<string, unknown>, data: Uint8Array) => void } = {},
  ): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const config = readJson<Record<string, unknown>>(dataPath(from, 'config.json'));
    edit.config?.(config);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await copyFile(dataPath(from, 'generation_config.json'), join(dir, 'generation_config.json'));
    const { header, data } = splitSafetensors(await readFile(dataPath(from, 'model.safetensors')));
    const dataCopy = data.slice();
    edit.tensors?.(header, dataCopy);
    await writeFile(join(dir, 'model.safetensors'), joinSafetensors(header, dataCopy));
    return dir;
  }

  /** The load fails as described, gives back all it allocated, and the Runtime then loads gpt2-a. */
  async function expectFailedLoad(path: string, code: Parameters<typeof expectWeftError>[1], ...patterns: RegExp[]): Promise<void> {
    const before = rt.heap.usedBytes;
    await expectWeftError(loadModel(path, { runtime: rt }), code, ...patterns);
    expect(rt.heap.usedBytes).toBe(before);
    const { model } = await loadModel(dataPath('ref-models/gpt2-a'), { runtime: rt });
    expect(model.forward([1, 2, 3]).length).toBe(512);
    model.dispose();
  }

  it('a missing tensor names the tensor and the file', async () => {
    const dir = await modelCopy('missing-tensor', 'ref-models/llama-a', {
      // renamed rather than deleted: the file stays valid (its data section still covered exactly)
      tensors: (header) => {
        header['unused.weight'] = header['model.layers.1.mlp.up_proj.weight'];
        delete header['model.layers.1.mlp.up_proj.weight'];
      },
    });
    await expectFailedLoad(dir, 'E_MISSING', /model\.layers\.1\.mlp\.up_proj\.weight/, /missing-tensor/);
  });

  it('an unknown model_type names it and lists the known ones', async () => {
    const dir = await modelCopy('unknown-type', 'ref-models/gpt2-a', { config: (c) => (c.model_type = 'mamba') });
    await expectFailedLoad(dir, 'E_UNSUPPORTED', /"mamba"/, /gpt2/, /llama/, /qwen2/);
  });

  it('a tensor whose shape disagrees with the config names the tensor and both shapes', async () => {
    const dir = await modelCopy('bad-shape', 'ref-models/llama-a', { config: (c) => (c.intermediate_size = 100) });
    await expectFailedLoad(dir, 'E_FORMAT', /gate_proj\.weight/, /\[172, 64\]/, /\[100, 64\]/);
  });

  it('a folder without config.json is E_MISSING naming config.json', async () => {
    const dir = join(tmp, 'no-config');
    await mkdir(dir, { recursive: true });
    await copyFile(dataPath('ref-models/gpt2-a/model.safetensors'), join(dir, 'model.safetensors'));
    await expectFailedLoad(dir, 'E_MISSING', /config\.json/);
  });

  it('a path that does not exist, and a file of no known format', async () => {
    await expectFailedLoad(join(tmp, 'nowhere'), 'E_MISSING', /nowhere/);
    const odd = join(tmp, 'weights.txt');
    await writeFile(odd, 'hello');
    await expectFailedLoad(odd, 'E_UNSUPPORTED', /weights\.txt/);
  });

  it('a truncated safetensors file fails cleanly', async () => {
    const dir = join(tmp, 'truncated');
    await mkdir(dir, { recursive: true });
    await copyFile(dataPath('ref-models/gpt2-a/config.json'), join(dir, 'config.json'));
    const bytes = await readFile(dataPath('ref-models/gpt2-a/model.safetensors'));
    await writeFile(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 1000));
    await expectFailedLoad(dir, 'E_FORMAT', /model\.safetensors/);
  });

  it('a truncated GGUF and a truncated llama2.c checkpoint fail cleanly', async () => {
    const gguf = await readFile(dataPath('llama2c-stories260k/stories260K.gguf'));
    await writeFile(join(tmp, 'truncated.gguf'), gguf.subarray(0, gguf.length - 4096));
    await expectFailedLoad(join(tmp, 'truncated.gguf'), 'E_FORMAT', /truncated\.gguf/);
    const bin = await readFile(dataPath('llama2c-stories260k/stories260K.bin'));
    await writeFile(join(tmp, 'truncated.bin'), bin.subarray(0, bin.length - 4096));
    await expectFailedLoad(join(tmp, 'truncated.bin'), 'E_FORMAT', /truncated\.bin/);
  });

  it('NaN and Inf weights load, and are counted', async () => {
    const dir = await modelCopy('non-finite', 'ref-models/gpt2-a', {
      tensors: (header, data) => {
        const at = (header['transformer.h.0.mlp.c_fc.weight'] as { data_offsets: number[] }).data_offsets[0];
        const view = new DataView(data.buffer, data.byteOffset);
        view.setFloat32(at, NaN, true);
        view.setFloat32(at + 4, Infinity, true);
      },
    });
    const loaded = await loadModel(dir, { runtime: rt });
    expect(loaded.nonFinite).toBe(2);
    loaded.model.dispose();
  });

  it('a prompt past the context is E_CONTEXT naming both numbers; the model stays usable', async () => {
    const { model } = await loadModel(dataPath('ref-models/gpt2-a'), { runtime: rt, contextLength: 16 });
    expect(model.config.contextLength).toBe(16);
    await expectWeftError((async () => model.forward(Array.from({ length: 17 }, (_, i) => i)))(), 'E_CONTEXT', /17/, /16/);
    expect(model.cacheLength).toBe(0);
    model.forward(Array.from({ length: 10 }, (_, i) => i));
    await expectWeftError((async () => model.forward([1, 2, 3, 4, 5, 6, 7]))(), 'E_CONTEXT', /17/, /16/);
    expect(model.cacheLength).toBe(10);
    expect(model.forward([1, 2, 3, 4, 5, 6]).length).toBe(512); // exactly full
    expect(model.cacheLength).toBe(16);
    model.dispose();
  });

  it('token ids outside the vocabulary are E_OPTION naming the id', async () => {
    const { model } = await loadModel(dataPath('ref-models/gpt2-a'), { runtime: rt });
    await expectWeftError((async () => model.forward([3, 512]))(), 'E_OPTION', /512/, /index 1/);
    await expectWeftError((async () => model.forward([]))(), 'E_OPTION', /no token ids/);
    expect(model.cacheLength).toBe(0);
    model.dispose();
  });

  it('dispose gives back the weights, the KV cache and the RoPE table', async () => {
    const before = rt.heap.usedBytes;
    const { model, weightBytes } = await loadModel(dataPath('ref-models/llama-a'), { runtime: rt });
    expect(rt.heap.usedBytes - before).toBeGreaterThanOrEqual(weightBytes);
    model.dispose();
    expect(rt.heap.usedBytes).toBe(before);
    await expectWeftError((async () => model.forward([1]))(), 'E_OPTION', /disposed/);
  });
});
