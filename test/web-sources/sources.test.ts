/**
 * loadModel from every kind of source, against a hub served on 127.0.0.1 by the test (hub-server.ts): hub ids,
 * URLs, the download cache, faults (dropped connections, 404, a lying Content-Length, a wrong sha256), progress,
 * abort, Blob/bytes/map/File-list sources, file: URLs, split GGUF. Every model loaded from a non-path source must
 * give the same logits as the same files loaded by path: the bytes in wasm memory are the same, so the logits are
 * compared bit for bit (toEqual on Float32Array), not within a tolerance.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearCache, listCache } from '../../src/files/cache.js';
import type { LoadProgress } from '../../src/files/model-files.js';
import { JsSha256 } from '../../src/files/sha256.js';
import { loadModel, type LoadModelOptions } from '../../src/models/load.js';
import type { LoadedModel } from '../../src/models/model.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectWeftError } from '../formats/expect-error.js';
import { splitGguf } from '../formats/make.js';
import { DATA_DIR, dataPath, describeData } from '../helpers/data.js';
import { startHub, type HubServer } from './hub-server.js';

const IDS = [1, 5, 9, 2, 7, 3];
const REF_MODELS = ['gpt2-a', 'gpt2-a-f16', 'gpt2-a-bf16', 'gpt2-b', 'llama-a', 'llama-b', 'qwen2-a'];
const STORIES = 'llama2c-stories260k';

describeData('model sources', () => {
  let hub: HubServer;
  let rt: Runtime;
  let tmp: string;
  let cacheDir: string;
  const pathLogits = new Map<string, Float32Array>();

  /** Logits of every position of IDS (the model is disposed). */
  const logitsOf = (lm: LoadedModel): Float32Array => {
    try {
      return lm.model.forward(IDS, { all: true });
    } finally {
      lm.model.dispose();
    }
  };
  const load = (source: Parameters<typeof loadModel>[0], options: LoadModelOptions = {}) => loadModel(source, { runtime: rt, hubUrl: hub.url, ...options });
  const pathLoad = async (rel: string) => {
    let l = pathLogits.get(rel);
    if (!l) pathLogits.set(rel, (l = logitsOf(await load(dataPath(rel)))));
    return l;
  };
  const requestsSince = (n: number) => hub.requests.slice(n);

  beforeAll(async () => {
    const repos: Record<string, string> = { 'karpathy/tinyllamas': dataPath(STORIES) };
    for (const m of REF_MODELS) repos[`weft-test/${m}`] = dataPath('ref-models', m);
    hub = await startHub(repos, DATA_DIR);
    rt = await Runtime.create();
    tmp = await mkdtemp(join(tmpdir(), 'weft-sources-'));
  });
  afterAll(async () => {
    await hub?.close();
    rt?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // A fresh cache home per test, the way a user's would be: $XDG_CACHE_HOME/weft.
    process.env.XDG_CACHE_HOME = await mkdtemp(join(tmp, 'xdg-'));
    cacheDir = join(process.env.XDG_CACHE_HOME, 'weft');
    hub.faults.length = 0;
  });

  it('hub ids of safetensors models (gpt2-a, llama-a) give the path load logits; the second load makes no request', async () => {
    for (const m of ['gpt2-a', 'llama-a']) {
      const size = (await readFile(dataPath('ref-models', m, 'model.safetensors'))).length;
      const before = hub.requests.length;
      expect(logitsOf(await load(`weft-test/${m}`))).toEqual(await pathLoad(`ref-models/${m}`));
      const first = requestsSince(before);
      expect(first.some((r) => r.path === `/weft-test/${m}/resolve/main/model.safetensors`)).toBe(true);
      // Downloaded once (the format is told by a few bytes first), then read from the cache.
      expect(first.filter((r) => r.method === 'GET' && r.path.endsWith('model.safetensors') && r.range === `bytes=0-${size - 1}`)).toHaveLength(1);

      const again = hub.requests.length;
      expect(logitsOf(await load(`weft-test/${m}`))).toEqual(await pathLoad(`ref-models/${m}`));
      expect(requestsSince(again)).toEqual([]);
    }
    const keys = (await listCache({ cacheDir })).map((e) => e.key);
    expect(keys).toContain('hub/weft-test/gpt2-a/main/model.safetensors');
    expect(keys).toContain('hub/weft-test/llama-a/main/config.json');
  });

  it('a hub id naming one GGUF file (org/name/file.gguf) and a revision (org/name@rev) load with the GGUF vocabulary', async () => {
    const lm = await load(`karpathy/tinyllamas/stories260K.gguf`);
    expect(lm.tokenizer?.vocabSize).toBe(512);
    expect(logitsOf(lm)).toEqual(await pathLoad(`${STORIES}/stories260K.gguf`));
    const before = hub.requests.length;
    logitsOf(await load(`karpathy/tinyllamas@v1/stories260K.gguf`));
    expect(requestsSince(before).map((r) => r.path)).toContain('/karpathy/tinyllamas/resolve/v1/stories260K.gguf');
  });

  it('WEFT_HUB_URL and HF_TOKEN from the environment: the token goes out as a bearer token and into no message', async () => {
    process.env.WEFT_HUB_URL = hub.url;
    process.env.HF_TOKEN = 'hf_secret_token';
    try {
      const before = hub.requests.length;
      logitsOf(await loadModel('weft-test/gpt2-a', { runtime: rt, cache: false }));
      const sent = requestsSince(before);
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((r) => r.authorization === 'Bearer hf_secret_token')).toBe(true);
      const message = await expectWeftError(loadModel('weft-test/no-such-repo', { runtime: rt, cache: false }), 'E_MISSING');
      expect(message).not.toContain('hf_secret_token');
    } finally {
      delete process.env.WEFT_HUB_URL;
      delete process.env.HF_TOKEN;
    }
  });

  it('every ref model (and gpt2-a.gguf) loaded by URL without the cache gives the path load logits', async () => {
    for (const m of REF_MODELS) {
      expect(logitsOf(await load(`${hub.url}/data/ref-models/${m}/`, { cache: false })), m).toEqual(await pathLoad(`ref-models/${m}`));
    }
    const gguf = `ref-models/gpt2-a/gpt2-a.gguf`;
    const before = hub.requests.length;
    expect(logitsOf(await load(`${hub.url}/data/${gguf}`, { cache: false }))).toEqual(await pathLoad(gguf));
    // Range requests only, never the whole file in one response.
    expect(requestsSince(before).filter((r) => r.method === 'GET').every((r) => r.range !== null)).toBe(true);
    expect(await listCache({ cacheDir })).toEqual([]);
  });

  it('a URL of a folder and of a .safetensors file, cached under url/<host>/<path>', async () => {
    expect(logitsOf(await load(`${hub.url}/data/ref-models/llama-a`))).toEqual(await pathLoad('ref-models/llama-a'));
    expect(logitsOf(await load(`${hub.url}/data/ref-models/llama-a/model.safetensors`))).toEqual(await pathLoad('ref-models/llama-a'));
    const keys = (await listCache({ cacheDir })).map((e) => e.key);
    expect(keys).toContain(`url/${new URL(hub.url).host.replace(':', '_')}/data/ref-models/llama-a/model.safetensors`);
  });

  it('progress: total is every file of the model from the first event, loaded only grows and ends at total', async () => {
    for (const cache of [true, false]) {
      const events: LoadProgress[] = [];
      logitsOf(await load('weft-test/gpt2-a', { cache, onProgress: (p) => events.push({ ...p }) }));
      const folder = dataPath('ref-models', 'gpt2-a');
      const sizes = await Promise.all(['config.json', 'generation_config.json', 'model.safetensors'].map(async (f) => (await readFile(join(folder, f))).length));
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(events.length).toBeGreaterThan(2);
      expect(events.every((e) => e.total === total)).toBe(true);
      for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
      expect(events.at(-1)!.loaded).toBe(total);
      for (const e of events) expect(e.fileLoaded).toBeLessThanOrEqual(e.fileTotal);
      const lastOfWeights = events.filter((e) => e.file.endsWith('/model.safetensors')).at(-1)!;
      expect(lastOfWeights.fileLoaded).toBe(sizes[2]);
    }
  });

  it('a connection dropped half-way is resumed with a Range request and the model is right', async () => {
    const size = (await readFile(dataPath('ref-models/llama-a/model.safetensors'))).length;
    hub.faults.push({ file: '/weft-test/llama-a/resolve/main/model.safetensors', dropAfter: Math.floor(size / 2), times: 1 });
    const before = hub.requests.length;
    expect(logitsOf(await load('weft-test/llama-a'))).toEqual(await pathLoad('ref-models/llama-a'));
    // The downloads: every GET of model.safetensors up to its last byte (not the few bytes read to tell the format).
    const gets = requestsSince(before).filter((r) => r.method === 'GET' && r.path.endsWith('model.safetensors') && r.range?.endsWith(`-${size - 1}`));
    expect(gets).toHaveLength(2);
    expect(gets[0].range).toBe(`bytes=0-${size - 1}`);
    expect(gets[1].range).toMatch(new RegExp(`^bytes=${Math.floor(size / 2)}-`));
    expect((await listCache({ cacheDir })).find((e) => e.key.endsWith('llama-a/main/model.safetensors'))?.bytes).toBe(size);
  });

  it('a connection that always drops is a clear E_NETWORK after the retries, leaves no cache entry, and the runtime stays usable', async () => {
    const used = rt.heap.usedBytes;
    hub.faults.push({ file: 'llama-a/resolve/main/model.safetensors', dropAfter: 1000 });
    await expectWeftError(load('weft-test/llama-a', { retries: 2 }), 'E_NETWORK', /model\.safetensors/, /failed 3 times/);
    expect((await listCache({ cacheDir })).some((e) => e.key.endsWith('model.safetensors'))).toBe(false);
    const left = await readdir(join(cacheDir, 'hub/weft-test/llama-a/main'));
    expect(left.filter((f) => f === 'model.safetensors' || f.includes('weft-partial'))).toEqual([]); // no partial file either
    expect(rt.heap.usedBytes).toBe(used);
    hub.faults.length = 0;
    expect(logitsOf(await load('weft-test/llama-a'))).toEqual(await pathLoad('ref-models/llama-a'));
  });

  it('a 404 names the file and its URL', async () => {
    const message = await expectWeftError(load('karpathy/tinyllamas/missing.gguf'), 'E_MISSING', /missing\.gguf/);
    expect(message).toContain(`${hub.url}/karpathy/tinyllamas/resolve/main/missing.gguf`);
    await expectWeftError(load('weft-test/nothing-here'), 'E_MISSING', new RegExp(`${hub.url}/weft-test/nothing-here/resolve/main/config.json`));
  });

  it('a server announcing more bytes than it sends (Content-Length): the download is E_NETWORK and caches nothing', async () => {
    hub.faults.push({ file: 'stories260K.gguf', extraLength: 4096 });
    await expectWeftError(load('karpathy/tinyllamas/stories260K.gguf', { retries: 1 }), 'E_NETWORK', /stories260K\.gguf/, /giving up/);
    expect(await listCache({ cacheDir })).toEqual([]);
    // Without the cache only the bytes the model needs are asked for, each range checked against its
    // Content-Range: all of them exist, so the model loads, and right.
    expect(logitsOf(await load('karpathy/tinyllamas/stories260K.gguf', { cache: false, retries: 1 }))).toEqual(await pathLoad(`${STORIES}/stories260K.gguf`));
  });

  it('a sha256 that does not match the bytes is E_NETWORK and caches nothing', async () => {
    hub.faults.push({ file: 'stories260K.gguf', sha256: 'ab'.repeat(32) });
    await expectWeftError(load('karpathy/tinyllamas/stories260K.gguf'), 'E_NETWORK', /sha256/);
    expect(await listCache({ cacheDir })).toEqual([]);
  });

  it('abort mid-load: E_ABORT, every allocation freed, the next load works', async () => {
    for (const cache of [false, true]) {
      const used = rt.heap.usedBytes;
      const controller = new AbortController();
      const seen: LoadProgress[] = [];
      const onProgress = (p: LoadProgress) => {
        seen.push(p);
        if (p.file.endsWith('model.safetensors') && p.fileLoaded > p.fileTotal / 2) controller.abort();
      };
      await expectWeftError(load('weft-test/gpt2-b', { cache, onProgress, signal: controller.signal }), 'E_ABORT');
      expect(seen.length).toBeGreaterThan(0);
      expect(rt.heap.usedBytes).toBe(used);
      expect((await listCache({ cacheDir })).some((e) => e.key.endsWith('model.safetensors'))).toBe(false);
      expect(logitsOf(await load('weft-test/gpt2-b', { cache }))).toEqual(await pathLoad('ref-models/gpt2-b'));
    }
    const aborted = AbortSignal.abort();
    await expectWeftError(load('weft-test/gpt2-b', { signal: aborted }), 'E_ABORT');
  });

  it('Blob, File, ArrayBuffer, Uint8Array, a map and a picked folder (File list with webkitRelativePath)', async () => {
    const gguf = await readFile(dataPath(STORIES, 'stories260K.gguf'));
    const want = await pathLoad(`${STORIES}/stories260K.gguf`);
    expect(logitsOf(await load(new Blob([gguf])))).toEqual(want);
    expect(logitsOf(await load(new File([gguf], 'stories260K.gguf')))).toEqual(want);
    expect(logitsOf(await load(new Uint8Array(gguf)))).toEqual(want);
    expect(logitsOf(await load(gguf.buffer.slice(gguf.byteOffset, gguf.byteOffset + gguf.length)))).toEqual(want);

    const folder = dataPath('ref-models', 'qwen2-a');
    const [config, weights] = await Promise.all([readFile(join(folder, 'config.json')), readFile(join(folder, 'model.safetensors'))]);
    const wantQwen = await pathLoad('ref-models/qwen2-a');
    expect(logitsOf(await load({ 'config.json': config, 'model.safetensors': new Blob([weights]) }))).toEqual(wantQwen);
    expect(logitsOf(await load(new Map<string, string | Uint8Array>([['config.json', new Uint8Array(config)], ['model.safetensors', `${hub.url}/data/ref-models/qwen2-a/model.safetensors`]])))).toEqual(wantQwen);

    const picked = [new File([config], 'config.json'), new File([weights], 'model.safetensors')];
    for (const f of picked) Object.defineProperty(f, 'webkitRelativePath', { value: `qwen2-a/${f.name}` });
    expect(logitsOf(await load(picked))).toEqual(wantQwen);

    // llama2.c: the .bin and its tokenizer picked together (no config.json, no GGUF) must name the model file.
    const bin = await readFile(dataPath(STORIES, 'stories260K.bin'));
    await expectWeftError(load({ 'stories260K.bin': bin, 'tok512.bin': await readFile(dataPath(STORIES, 'tok512.bin')) }), 'E_MISSING', /name the model file/);
  });

  it('file: URLs (string and URL object) load like the path', async () => {
    const path = dataPath(STORIES, 'stories260K.bin');
    const want = await pathLoad(`${STORIES}/stories260K.bin`);
    const lm = await load(pathToFileURL(path));
    expect(lm.tokenizer?.vocabSize).toBe(512); // tok512.bin found beside it
    expect(logitsOf(lm)).toEqual(want);
    expect(logitsOf(await load(pathToFileURL(path).href))).toEqual(want);
    await expectWeftError(load(new URL('file:///no/such/model.gguf')), 'E_MISSING', /\/no\/such\/model\.gguf/);
  });

  it('anything else is a clear E_OPTION / E_UNSUPPORTED, never a TypeError', async () => {
    for (const bad of [42, null, undefined, { 'config.json': 42 }, [1, 2], new Date()]) {
      await expectWeftError(load(bad as never), 'E_OPTION');
    }
    await expectWeftError(load('ftp://example.com/model.gguf'), 'E_UNSUPPORTED', /ftp:/);
    await expectWeftError(load('no-such-folder'), 'E_MISSING', /no-such-folder/);
  });

  it('a GGUF split by gguf-split loads as one model: same logits as the unsplit file, by path and by URL', async () => {
    const parts = splitGguf(await readFile(dataPath(STORIES, 'stories260K.gguf')), 3);
    const dir = join(tmp, 'split');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const names = parts.map((_, i) => `stories-0000${i + 1}-of-00003.gguf`);
    await Promise.all(parts.map((p, i) => writeFile(join(dir, names[i]), p)));
    const want = await pathLoad(`${STORIES}/stories260K.gguf`);
    const lm = await load(join(dir, names[0]));
    expect(lm.tokenizer?.vocabSize).toBe(512);
    expect(logitsOf(lm)).toEqual(want);
    expect(logitsOf(await load(dir))).toEqual(want); // a folder holding only the parts
    expect(logitsOf(await load(new Map(names.map((n, i) => [n, new Blob([parts[i]])]))))).toEqual(want);
    // A missing part names it.
    await rm(join(dir, names[2]));
    await expectWeftError(load(join(dir, names[0])), 'E_MISSING', /stories-00003-of-00003\.gguf/);
  });

  it('a tokenizer whose ids do not fit the model is refused at load, naming both files', async () => {
    await expectWeftError(
      load(dataPath('ref-models/llama-a'), { tokenizer: dataPath('tokenizers/gpt2/tokenizer.json') }),
      'E_FORMAT',
      /tokenizers\/gpt2\/tokenizer\.json/,
      /ref-models\/llama-a/,
      /ids up to 50256/,
    );
  });

  it('clearCache empties the cache', async () => {
    logitsOf(await load('karpathy/tinyllamas/stories260K.gguf'));
    expect((await listCache({ cacheDir })).length).toBeGreaterThan(0);
    await clearCache({ cacheDir });
    expect(await listCache({ cacheDir })).toEqual([]);
  });
});

describe('sha256 for browsers', () => {
  it('the JS SHA-256 equals node:crypto on lengths around the 64-byte block and fed in pieces', () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 31 + 7) & 0xff);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000]) {
      const js = new JsSha256();
      js.update(data.subarray(0, n >> 1));
      js.update(data.subarray(n >> 1, n));
      expect(js.hex(), `${n} bytes`).toBe(createHash('sha256').update(data.subarray(0, n)).digest('hex'));
    }
  });
});
