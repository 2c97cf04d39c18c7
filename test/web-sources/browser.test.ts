/**
 * The loading path in a real browser: headless Chromium (Debian's /usr/bin/chromium) opens a page served on
 * 127.0.0.1 that imports weft bundled by Vite for the browser (no node: module is reachable there) and, through
 * the browser's own fetch and Cache API: loads stories260K by hub id (greedy ids = llama2.c's expected ones),
 * loads it again from the cache with no request, gets a clear E_NETWORK and no cache entry from a server that
 * always drops the connection, and clear errors for a path and a file: URL. The page posts its results back as a
 * request path; the test then stops Chromium.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../helpers/data.js';
import { ROOT } from '../helpers/cli.js';
import { startHub, type HubServer } from './hub-server.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import * as weft from './weft.js';
const out = {};
const settle = (p) => p.then(() => 'loaded', (e) => ({ code: e.code, message: e.message }));
try {
  const rt = await weft.Runtime.create({ wasm: await (await fetch('./weft-simd.wasm')).arrayBuffer() });
  const events = [];
  const lm = await weft.loadModel('karpathy/tinyllamas/stories260K.gguf', { runtime: rt, hubUrl: location.origin, onProgress: (p) => events.push(p) });
  out.first = (await weft.generate(lm, [1], { max_new_tokens: 20, temperature: 0 })).ids;
  out.lastEvent = events.at(-1);
  out.totals = [...new Set(events.map((e) => e.total))];
  lm.model.dispose();
  await fetch('/mark/second-load');
  const again = await weft.loadModel('karpathy/tinyllamas/stories260K.gguf', { runtime: rt, hubUrl: location.origin });
  out.second = (await weft.generate(again, [1], { max_new_tokens: 20, temperature: 0 })).ids;
  again.model.dispose();
  await fetch('/mark/dropping');
  out.dropping = await settle(weft.loadModel('weft-test/dropping/stories260K.gguf', { runtime: rt, hubUrl: location.origin, retries: 1 }));
  out.cached = (await weft.listCache()).map((e) => e.key + ' ' + e.bytes);
  out.path = await settle(weft.loadModel('/no/such/model.gguf', { runtime: rt }));
  out.fileUrl = await settle(weft.loadModel(new URL('file:///model.gguf'), { runtime: rt }));
} catch (e) {
  out.error = String((e && e.stack) || e);
}
await fetch('/result/' + encodeURIComponent(JSON.stringify(out)));
</script>`;

interface PageResult {
  first: number[];
  second: number[];
  lastEvent: { loaded: number; total: number };
  totals: number[];
  dropping: { code: string; message: string };
  cached: string[];
  path: { code: string; message: string };
  fileUrl: { code: string; message: string };
  error?: string;
}

function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) describeData(name, fn);
  else if (process.env.CI) describe(name, () => it('needs Chromium', () => expect.fail(`${CHROMIUM} is missing (apt-get install chromium)`)));
  else describe.skip(`${name} (skipped: ${CHROMIUM} not found)`, fn);
}

describeBrowser('loadModel in headless Chromium', () => {
  let hub: HubServer;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-browser-'));
    const { build } = await import('vite');
    await build({
      root: ROOT,
      logLevel: 'silent',
      configFile: false,
      build: { outDir: dir, emptyOutDir: false, minify: false, lib: { entry: join(ROOT, 'src/index.ts'), formats: ['es'], fileName: () => 'weft.js' } },
    });
    await copyFile(join(ROOT, 'build/weft-simd.wasm'), join(dir, 'weft-simd.wasm'));
    await writeFile(join(dir, 'index.html'), PAGE);
    const stories = dataPath('llama2c-stories260k');
    hub = await startHub({ 'karpathy/tinyllamas': stories, 'weft-test/dropping': stories }, { page: dir });
    hub.faults.push({ file: 'dropping/resolve/main/stories260K.gguf', dropAfter: 100_000 });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hub id → Cache API → no request the second time; a dropping server caches nothing; clear errors', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'weft-chromium-'));
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
    // Its own process group, so that stopping it stops its renderer and helper processes too.
    const chromium = spawn(CHROMIUM, [...flags, `--user-data-dir=${profile}`, `${hub.url}/page/index.html`], { stdio: 'ignore', detached: true });
    const exited = new Promise((r) => chromium.once('exit', r));
    let posted: string | undefined;
    try {
      for (const start = Date.now(); Date.now() - start < 90_000 && !posted; await new Promise((r) => setTimeout(r, 100))) {
        posted = hub.requests.find((r) => r.path.startsWith('/result/'))?.path;
      }
    } finally {
      process.kill(-chromium.pid!, 'SIGTERM');
      await exited;
      // Helpers may still be flushing the profile for a moment after the main process exits.
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    }
    expect(posted, 'the page never reported').toBeDefined();
    const out = JSON.parse(decodeURIComponent(posted!.slice('/result/'.length))) as PageResult;
    expect(out.error).toBeUndefined();

    const expected = JSON.parse(await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.ids.json'), 'utf8')) as { ids: number[] };
    expect(out.first).toEqual(expected.ids.slice(1, 21)); // ids[0] is the BOS prompt
    expect(out.second).toEqual(out.first);
    const size = (await readFile(dataPath('llama2c-stories260k/stories260K.gguf'))).length;
    expect(out.totals).toEqual([size]);
    expect(out.lastEvent.loaded).toBe(size);

    const paths = hub.requests.map((r) => r.path);
    const second = paths.indexOf('/mark/second-load');
    const dropping = paths.indexOf('/mark/dropping');
    expect(paths.slice(second + 1, dropping)).toEqual([]); // the second load came from the Cache API
    expect(out.dropping.code).toBe('E_NETWORK');
    expect(out.cached).toEqual([`hub/karpathy/tinyllamas/main/stories260K.gguf ${size}`]); // nothing of the dropping repo
    expect(out.path.code).toBe('E_MISSING'); // a page-relative URL here: the server's 404
    expect(out.fileUrl).toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/file: URL needs a file system/) });
  }, 120_000);
});
