/**
 * The CLI with remote sources, as a user runs it (child processes): `--model` as a hub id served by the test,
 * `generate --ids` on a model without a tokenizer (prints the ids and says why), no progress bar when stderr is
 * not a terminal, `weft cache ls|clear`, `weft --version`. Plus the Runtime's report of the build it runs.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCache } from '../../src/files/cache.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { DATA_DIR, dataPath, describeData } from '../helpers/data.js';
import { ROOT, weft } from '../helpers/cli.js';
import { startHub, type HubServer } from './hub-server.js';

const SPAWN_TIMEOUT = 90_000;

describe('weft --version', () => {
  it('prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await weft(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`weft ${version}`);
  }, SPAWN_TIMEOUT);
});

describeData('weft with a hub id', () => {
  let hub: HubServer;
  let xdg: string;
  beforeAll(async () => {
    hub = await startHub({ 'weft-test/llama-a': dataPath('ref-models/llama-a') }, { data: DATA_DIR });
    xdg = await mkdtemp(join(tmpdir(), 'weft-cli-xdg-'));
  });
  afterAll(async () => {
    await hub?.close();
    await rm(xdg, { recursive: true, force: true });
  });

  it('generate --ids on a model without a tokenizer prints the greedy ids, says why; cache ls and clear', async () => {
    const expected = JSON.parse(await readFile(dataPath('ref-models/llama-a/expected_outputs.json'), 'utf8')) as {
      greedy: { prompt_ids: number[]; max_new_tokens: number; generated_ids: number[] };
    };
    const env = { WEFT_HUB_URL: hub.url, XDG_CACHE_HOME: xdg };
    const { prompt_ids: prompt, max_new_tokens: n, generated_ids: want } = expected.greedy;
    const r = await weft(['generate', '--model', 'weft-test/llama-a', '--ids', prompt.join(','), '--max-new-tokens', String(n)], undefined, env);
    expect(r.stderr).toMatch(/has no tokenizer, so the output is token ids/);
    expect(r.stderr).not.toMatch(/%/); // stderr is a pipe here: no progress bar
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(want.join(','));

    const ls = await weft(['cache', 'ls'], undefined, env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/hub\/weft-test\/llama-a\/main\/model\.safetensors/);
    const clear = await weft(['cache', 'clear'], undefined, env);
    expect(clear.code).toBe(0);
    expect(await listCache({ cacheDir: join(xdg, 'weft') })).toEqual([]);
  }, 3 * SPAWN_TIMEOUT);
});

describe('Runtime.create({ wasm })', () => {
  it('reports the build it runs: the plain SIMD build given alone is not relaxed', async () => {
    const simd = await readFile(join(ROOT, 'build/weft-simd.wasm'));
    const rt = await Runtime.create({ wasm: simd });
    expect(rt.relaxedSimd).toBe(false);
    rt.dispose();
    const both = await Runtime.create({ wasm: { simd, relaxed: await readFile(join(ROOT, 'build/weft-relaxed.wasm')) }, relaxedSimd: false });
    expect(both.relaxedSimd).toBe(false);
    both.dispose();
  });
});
