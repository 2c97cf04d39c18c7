/**
 * The two browser uses in headless Chromium, served from 127.0.0.1 with stories260K.gguf beside them:
 *   - examples/script-tag: one classic <script src> of the IIFE build (built once here, from the sources, into a
 *     temporary folder) loads the model by URL and streams llama2.c's greedy story (BOS, 200 steps, temperature 0)
 *     into the page, byte for byte; the global `weft.generate` returns the same text; the wasm is fetched from
 *     beside the script, and nothing else is fetched; the chat-template engine (@huggingface/jinja) is inside the
 *     script: Qwen3's template renders as Python jinja2 rendered it (tokenizers/qwen3/chat_template_expected.json);
 *   - examples/chat, built with `vite build`: the model picker loads by URL (progress bar filled, inference in the
 *     Web Worker), the reply is the same story; a local file chosen with the file input (setInputFiles) gives the
 *     same story; a folder chosen with the folder input (webkitdirectory; the GGUF and a README) too; Stop
 *     aborts a generation.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeBrowser, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dataPath, describeData } from '../helpers/data.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const STORIES = 'llama2c-stories260k';

describeData('browser examples in Chromium', () => {
  describeBrowser('', () => {
    let tmp: string;
    let server: StaticServer;
    let browser: TestBrowser;
    let expected: string;

    beforeAll(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'weft-browser-'));
      expected = await readFile(dataPath(STORIES, 'expected_greedy_bos_200.txt'), 'utf8');
      // both builds once for the whole file: the IIFE from the sources, the demo with vite build
      await run(process.execPath, [join(ROOT, 'scripts/build-iife.mjs'), '--outdir', join(tmp, 'dist')]);
      await build({ root: join(ROOT, 'examples/chat'), logLevel: 'error', build: { outDir: join(tmp, 'chat'), emptyOutDir: true } });
      // a folder as a user would pick it: the model among other files
      await mkdir(join(tmp, 'folder'));
      await copyFile(dataPath(STORIES, 'stories260K.gguf'), join(tmp, 'folder', 'stories260K.gguf'));
      await writeFile(join(tmp, 'folder', 'README.md'), '# stories260K\n');
      server = await startStaticServer({
        mounts: {
          '/examples/': join(ROOT, 'examples'),
          '/dist/': join(tmp, 'dist'),
          '/chat/': join(tmp, 'chat'),
          '/models/': dataPath(STORIES),
          '/tokenizers/': dataPath('tokenizers'),
        },
      });
      browser = await launchBrowser();
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    const requested = () => server.requests.map((r) => r.path.split('?')[0]);

    describe('script tag', () => {
      it("loads stories260K by URL and streams llama2.c's greedy story into the page", async () => {
        server.requests.length = 0;
        const page = await browser.newPage();
        await page.goto(`${server.url}/examples/script-tag/?model=/models/stories260K.gguf&prompt=&max_new_tokens=200`);
        await page.waitForSelector('#out[data-state]', { timeout: 30_000 });
        expect(await page.getAttribute('#out', 'data-state'), browser.log.join('\n')).toBe('done');
        expect(await page.textContent('#out')).toBe(expected);
        // the same through the global's generate()
        const text = await page.evaluate(async (url) => {
          const lm = await weft.loadModel(url);
          return (await weft.generate(lm, '', { max_new_tokens: 200, temperature: 0 })).text;
        }, `${server.url}/models/stories260K.gguf`);
        expect(text).toBe(expected);
        // one script, one kernel build from beside it, the model: nothing else
        const files = new Set(requested());
        files.delete('/models/stories260K.gguf');
        files.delete('/favicon.ico'); // Chromium asks for it on its own
        expect([...files].sort()).toEqual(['/dist/weft-relaxed.wasm', '/dist/weft.iife.js', '/examples/script-tag/']);
        await page.close();
      });

      it('renders a chat template with no bundler and no import map (jinja is inside the script)', async () => {
        const page = await browser.newPage();
        await page.goto(`${server.url}/examples/script-tag/?model=/models/stories260K.gguf&max_new_tokens=1`);
        await page.waitForSelector('#out[data-state]', { timeout: 30_000 });
        const { template, cases } = JSON.parse(await readFile(dataPath('tokenizers/qwen3/chat_template_expected.json'), 'utf8')) as {
          template: string;
          cases: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; extra: object; rendered: string }[];
        };
        const first = cases[0];
        const rendered = await page.evaluate(
          async ({ template, c }) => {
            const json = await (await fetch('/tokenizers/gpt2/tokenizer.json')).json();
            const tokenizer = weft.tokenizerFromJson(json, { chat_template: template });
            return tokenizer.applyChatTemplate(c.messages, { add_generation_prompt: c.add_generation_prompt, ...c.extra });
          },
          { template, c: first },
        );
        expect(rendered).toBe(first.rendered);
        await page.close();
      });
    });

    describe('chat demo (vite build)', () => {
      let page: Page;
      beforeAll(async () => {
        page = await browser.newPage();
        await page.goto(`${server.url}/chat/`);
      });
      afterAll(() => page?.close());

      async function waitReady() {
        await page.waitForSelector('body[data-state=ready], body[data-state=idle]', { timeout: 30_000 });
        expect(await page.getAttribute('body', 'data-state'), `${await page.textContent('#load-status')}\n${browser.log.join('\n')}`).toBe('ready');
      }
      async function sendEmptyPrompt(maxTokens: number): Promise<{ text: string; finish: string | null }> {
        await page.fill('#prompt', '');
        await page.fill('#max-tokens', String(maxTokens));
        await page.fill('#temperature', '0');
        await page.click('#clear');
        await page.click('#send');
        await page.waitForSelector('body[data-state=ready]', { timeout: 30_000 });
        return { text: (await page.locator('#history .assistant').last().textContent()) ?? '', finish: await page.getAttribute('#gen-status', 'data-finish') };
      }

      it('loads by URL in its Web Worker with a filled progress bar, and streams the greedy story', async () => {
        await page.fill('#model-url', '/models/stories260K.gguf');
        await page.click('#load-url');
        await waitReady();
        expect(page.workers()).toHaveLength(1);
        const bar = await page.$eval('#progress', (p) => ({ value: (p as HTMLProgressElement).value, max: (p as HTMLProgressElement).max }));
        const size = (await readFile(dataPath(STORIES, 'stories260K.gguf'))).length;
        expect(bar).toEqual({ value: size, max: size });
        const reply = await sendEmptyPrompt(200);
        expect(reply, await page.textContent('#gen-status') ?? '').toEqual({ text: expected, finish: 'length' });
        expect(await page.textContent('#gen-status')).toMatch(/^200 tokens, [\d.]+ tokens\/s/);
      });

      it('loads a local .gguf chosen with the file input', async () => {
        await page.setInputFiles('#model-file', dataPath(STORIES, 'stories260K.gguf'));
        await waitReady();
        expect(await page.textContent('#load-status')).toMatch(/^stories260K\.gguf: /);
        expect(await sendEmptyPrompt(200)).toEqual({ text: expected, finish: 'length' });
      });

      it('loads a folder chosen with the folder input', async () => {
        await page.setInputFiles('#model-folder', join(tmp, 'folder'));
        await waitReady();
        expect(await page.textContent('#load-status')).toMatch(/^2 files: /);
        expect(await sendEmptyPrompt(200)).toEqual({ text: expected, finish: 'length' });
      });

      it('Stop aborts a generation', async () => {
        await page.fill('#prompt', '');
        await page.fill('#max-tokens', '4096');
        await page.click('#clear');
        // Stop is sent as soon as the first token is shown, well before the 512-position context is full.
        await page.evaluate(() => {
          const history = document.getElementById('history')!;
          new MutationObserver((_, obs) => {
            if (history.querySelector('.assistant')?.textContent) {
              obs.disconnect();
              document.getElementById('stop')!.click();
            }
          }).observe(history, { subtree: true, childList: true, characterData: true });
        });
        await page.click('#send');
        await page.waitForSelector('#gen-status[data-finish=abort], body[data-state=ready]', { timeout: 30_000 });
        await page.waitForSelector('body[data-state=ready]');
        expect(await page.getAttribute('#gen-status', 'data-finish')).toBe('abort');
      });
    });
  });
});

declare const weft: typeof import('../../src/index.js');
