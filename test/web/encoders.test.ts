/**
 * Encoders and T5 from the script-tag build (dist/weft.iife.js, global `weft`) in headless Chromium: the same
 * loading code as Node (a folder URL in the Hugging Face layout), served from 127.0.0.1 with
 * ../shared/data/ref-models beside the page. Expected values come from the float64 references in
 * each ref-models folder's expected_outputs.json, read here in Node and compared here; the page only runs weft.
 *   - bert-a: weft.embed of the reference ids (padding removed, token types kept), mean-pooled and L2-normalised,
 *     within 1e-5 of `mean_pooled_l2_normalized` (the tolerance of test/models/encoder.test.ts);
 *   - bert-b: weft.classify's softmax scores within 2e-5 of the softmax of `classifier_logits`, best label first;
 *   - t5-a: weft.generate from the greedy case's encoder ids at temperature 0 gives its 20 ids exactly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeBrowser, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dataPath, describeData } from '../helpers/data.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';
import { readJson } from '../models/helpers.js';

const ROOT = resolve(__dirname, '../..');

interface BertExpected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  mean_pooled_l2_normalized: number[][];
  classifier_logits?: number[][];
}

interface T5Expected {
  greedy: { encoder_input_ids: number[]; max_new_tokens: number; generated_ids: number[] };
}

/** The reference batch without its padding: embed and classify take ragged token ids and pad them themselves. */
function unpadded(b: BertExpected): { ids: number[][]; tokenTypes: number[][] } {
  const keep = (rows: number[][]) => rows.map((row, k) => row.filter((_, t) => b.attention_mask[k][t] === 1));
  return { ids: keep(b.input_ids), tokenTypes: keep(b.token_type_ids) };
}

function maxDiff(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  return Math.max(...expected.map((e, i) => Math.abs(actual[i] - e)));
}

describeData('encoders and T5 in Chromium (script-tag build)', () => {
  describeBrowser('', () => {
    let tmp: string;
    let server: StaticServer;
    let browser: TestBrowser;
    let page: Page;
    const folder = (name: string) => `${server.url}/ref/${name}/`;

    beforeAll(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'weft-encoders-'));
      await writeFile(join(tmp, 'index.html'), '<!doctype html><meta charset="utf-8"><script src="/dist/weft.iife.js"></script>\n');
      server = await startStaticServer({ mounts: { '/': tmp, '/dist/': join(ROOT, 'dist'), '/ref/': dataPath('ref-models') } });
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(`${server.url}/`);
      expect(await page.evaluate(() => typeof weft), browser.log.join('\n')).toBe('object');
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it('bert-a: weft.embed (mean, normalize) of the reference ids matches mean_pooled_l2_normalized within 1e-5', async () => {
      const b = readJson<BertExpected>(dataPath('ref-models/bert-a/expected_outputs.json'));
      const vectors = await page.evaluate(
        async ({ url, input }) => {
          const lm = await weft.loadEncoder(url);
          try {
            return (await weft.embed(lm, input, { pooling: 'mean', normalize: true })).map((v) => Array.from(v));
          } finally {
            lm.model.dispose();
          }
        },
        { url: folder('bert-a'), input: unpadded(b) },
      );
      expect(vectors).toHaveLength(b.mean_pooled_l2_normalized.length);
      const worst = Math.max(...vectors.map((v, k) => maxDiff(v, b.mean_pooled_l2_normalized[k])));
      console.log(`Chromium bert-a: mean_pooled_l2_normalized max |Δ| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-5);
    });

    it("bert-b: weft.classify's scores are the softmax of classifier_logits within 2e-5, best label first", async () => {
      const b = readJson<BertExpected>(dataPath('ref-models/bert-b/expected_outputs.json'));
      const results = await page.evaluate(
        async ({ url, input }) => {
          const lm = await weft.loadEncoder(url);
          try {
            return (await weft.classify(lm, input)) as { label: string; scores: { label: string; score: number }[] }[];
          } finally {
            lm.model.dispose();
          }
        },
        { url: folder('bert-b'), input: unpadded(b) },
      );
      expect(results).toHaveLength(b.classifier_logits!.length);
      let worst = 0;
      results.forEach((r, k) => {
        const logits = b.classifier_logits![k];
        const top = Math.max(...logits);
        const exp = logits.map((l) => Math.exp(l - top));
        const softmax = exp.map((e) => e / exp.reduce((s, x) => s + x, 0));
        const score = (label: string) => r.scores.find((s) => s.label === label)!.score;
        worst = Math.max(worst, maxDiff([score('LABEL_0'), score('LABEL_1')], softmax));
        expect(r.label).toBe(softmax[1] > softmax[0] ? 'LABEL_1' : 'LABEL_0');
      });
      console.log(`Chromium bert-b: classifier softmax max |Δ| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-5);
    });

    it('t5-a: weft.loadSeq2Seq + weft.generate at temperature 0 gives the greedy ids exactly', async () => {
      const { greedy } = readJson<T5Expected>(dataPath('ref-models/t5-a/expected_outputs.json'));
      const ids = await page.evaluate(
        async ({ url, input, max }) => {
          const lm = await weft.loadSeq2Seq(url);
          try {
            return (await weft.generate(lm, input, { temperature: 0, max_new_tokens: max, eos_token_id: [] })).ids;
          } finally {
            lm.model.dispose();
          }
        },
        { url: folder('t5-a'), input: greedy.encoder_input_ids, max: greedy.max_new_tokens },
      );
      expect(ids).toEqual(greedy.generated_ids);
    });

    // Nothing but the script, its kernel build and the three reference folders was fetched.
    it('fetched only the page, the script, its wasm and files of the three model folders', () => {
      const paths = new Set(server.requests.map((r) => r.path.split('?')[0]).filter((p) => p !== '/favicon.ico'));
      for (const p of paths) expect(p).toMatch(/^\/$|^\/dist\/weft(\.iife\.js|-[a-z-]+\.wasm)$|^\/ref\/(bert-a|bert-b|t5-a)\/[\w.]+$/);
      for (const name of ['bert-a', 'bert-b', 't5-a']) expect(paths).toContain(`/ref/${name}/model.safetensors`);
    });
  });
});

declare const weft: typeof import('../../src/index.js');
