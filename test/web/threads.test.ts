/**
 * Threads in headless Chromium, on the script-tag build: a cross-origin-isolated page (COOP/COEP headers) runs
 * stories260K on 2 threads, its main thread spinning on the barrier, and prints the text Node prints; the same page
 * without the headers runs on 1 thread, prints the same text, and logs exactly one warning naming both headers.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generate } from '../../src/generation/generate.js';
import { loadModel } from '../../src/models/load.js';
import { describeBrowser, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dataPath, HAVE_DATA } from '../helpers/data.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

const ROOT = resolve(__dirname, '../..');
const PROMPT = 'Once upon a time';
const MAX_NEW_TOKENS = 60;

describeBrowser('threads in Chromium (script-tag build, stories260K.gguf)', () => {
  let browser: TestBrowser;
  const servers: StaticServer[] = [];
  let nodeText: string;

  beforeAll(async () => {
    if (!HAVE_DATA && process.env.CI) throw new Error('reference data missing');
    execFileSync(process.execPath, ['scripts/build-iife.mjs'], { cwd: ROOT, stdio: 'ignore' }); // dist/weft.iife.js + the four wasm builds
    const mounts = { '/': ROOT, '/model/': dataPath('llama2c-stories260k') };
    servers.push(await startStaticServer({ mounts, crossOriginIsolated: true }), await startStaticServer({ mounts }));
    browser = await launchBrowser();
    const lm = await loadModel(dataPath('llama2c-stories260k', 'stories260K.gguf'), { threads: 1 });
    nodeText = (await generate(lm, PROMPT, { max_new_tokens: MAX_NEW_TOKENS, temperature: 0 })).text;
    lm.model.dispose();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
  });

  async function runPage(server: StaticServer): Promise<{ text: string; threads: number; isolated: boolean; error?: string }> {
    const page = await browser.newPage();
    const query = new URLSearchParams({ threads: '2', model: '/model/stories260K.gguf', prompt: PROMPT, max_new_tokens: String(MAX_NEW_TOKENS) });
    await page.goto(`${server.url}/test/web/pages/threads.html?${query}`);
    await page.waitForFunction(() => document.getElementById('out')!.textContent !== '', null, { timeout: 120_000 });
    const result = JSON.parse((await page.textContent('#out'))!);
    await page.close();
    return result;
  }

  const warnings = () => browser.log.filter((l) => l.includes('weft: running on 1 thread'));

  it('with COOP/COEP: 2 threads, the text Node prints, no warning', async () => {
    const r = await runPage(servers[0]);
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(true);
    expect(r.threads).toBe(2);
    expect(r.text).toBe(nodeText);
    expect(warnings()).toEqual([]);
  }, 180_000);

  it('without the headers: 1 thread, the same text, and one warning naming both headers', async () => {
    const r = await runPage(servers[1]);
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(false);
    expect(r.threads).toBe(1);
    expect(r.text).toBe(nodeText);
    const w = warnings();
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^\[console\.warning\] weft: running on 1 thread instead of 2: this page is not cross-origin isolated/);
    expect(w[0]).toContain('Cross-Origin-Opener-Policy: same-origin');
    expect(w[0]).toContain('Cross-Origin-Embedder-Policy: require-corp');
  }, 180_000);
});
