/**
 * `weft forward` and `weft generate` on encoder-decoder models, end to end as child processes: t5-a against its
 * float64 reference (logits 2e-5, greedy ids exact), and a T5-shaped random model (vocab 32128) driven by the
 * legal_t5_small_trans_fr_en tokenizer with beam search, the prompt ids checked against the tokenizer's reference
 * ids (expected.jsonl, from HF tokenizers).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { t5Spec, writeModel } from '../../bench/make-random-model.js';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { SPAWN_TIMEOUT, weft } from '../helpers/cli.js';
import { dataPath, describeData } from '../helpers/data.js';

describeData('weft forward / generate on encoder-decoder models', () => {
  const T5A = dataPath('ref-models/t5-a');
  const want = JSON.parse(readFileSync(join(T5A, 'expected_outputs.json'), 'utf8')) as {
    encoder_input_ids: number[];
    decoder_input_ids: number[];
    decoder_logits: number[][];
    greedy: { encoder_input_ids: number[]; generated_ids: number[] };
  };
  let tiny: string;
  beforeAll(async () => {
    tiny = mkdtempSync(join(tmpdir(), 'weft-t5-cli-'));
    await writeModel(tiny, t5Spec({ name: 't5-tiny', d: 16, layers: 1, heads: 2, dKv: 8, ff: 32, vocab: 32128 }), 7);
    copyFileSync(dataPath('tokenizers/legal_t5_small_trans_fr_en/tokenizer.json'), join(tiny, 'tokenizer.json'));
  });
  afterAll(() => rmSync(tiny, { recursive: true, force: true }));

  it('forward --ids ENC --decoder-ids DEC --positions all --json prints the decoder logits within 2e-5', async () => {
    const r = await weft(['forward', '--model', T5A, '--ids', want.encoder_input_ids.join(','), '--decoder-ids', want.decoder_input_ids.join(','), '--positions', 'all', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const logits = (JSON.parse(r.stdout) as { logits: Record<string, number[]> }).logits;
    expect(Object.keys(logits)).toEqual(want.decoder_input_ids.map((_, i) => String(i)));
    let worst = 0;
    want.decoder_logits.forEach((row, p) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(logits[String(p)][j] - v)))));
    expect(worst).toBeLessThan(2e-5);
  }, SPAWN_TIMEOUT);

  it('generate --ids ENC --temperature 0 --json: token_ids are the greedy reference, without the start token', async () => {
    const r = await weft(['generate', '--model', T5A, '--ids', want.greedy.encoder_input_ids.join(','), '--max-new-tokens', '20', '--temperature', '0', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { token_ids: number[]; prompt_token_ids: number[]; finish_reason: string };
    expect(out.token_ids).toEqual(want.greedy.generated_ids);
    expect(out.prompt_token_ids).toEqual(want.greedy.encoder_input_ids);
    expect(out.finish_reason).toBe('length');
  }, SPAWN_TIMEOUT);

  it('generate --prompt … --num-beams 4 on a T5-shaped model with the legal_t5 tokenizer', async () => {
    const line = readFileSync(dataPath('tokenizers/legal_t5_small_trans_fr_en/expected.jsonl'), 'utf8').split('\n')[1];
    const ref = JSON.parse(line) as { text: string; ids_with_special: number[] };
    const r = await weft(['generate', '--model', tiny, '--prompt', ref.text, '--num-beams', '4', '--num-return-sequences', '3', '--max-new-tokens', '6', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; token_ids: number[]; prompt_token_ids: number[]; sequences: Array<{ text: string; token_ids: number[]; score: number }> };
    expect(out.prompt_token_ids).toEqual(ref.ids_with_special); // the tokenizer appends </s>, as HF's T5 tokenizer does
    expect(out.sequences.length).toBe(3);
    expect(out.sequences[0].token_ids).toEqual(out.token_ids);
    expect(new Set(out.sequences.map((s) => s.token_ids.join(','))).size).toBe(3);
    for (let i = 1; i < 3; i++) expect(out.sequences[i].score).toBeLessThanOrEqual(out.sequences[i - 1].score);
    const tokenizer = await loadTokenizer(join(tiny, 'tokenizer.json'));
    expect(out.text).toBe(tokenizer.decode(out.token_ids, { skip_special_tokens: true }));
    expect(out.token_ids.length).toBeLessThanOrEqual(6);
  }, SPAWN_TIMEOUT);

  it('--num-beams 0 and --early-stopping sometimes are E_OPTION errors naming the flag', async () => {
    const a = await weft(['generate', '--model', T5A, '--ids', '5,6,1', '--num-beams', '0']);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain('--num-beams');
    const b = await weft(['generate', '--model', T5A, '--ids', '5,6,1', '--early-stopping', 'sometimes']);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('--early-stopping');
  }, SPAWN_TIMEOUT);
});
