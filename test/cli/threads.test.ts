/**
 * `weft forward --threads 1 | 2 | 3` prints the same logits, bit for bit (the same text), for every decoder of
 * ref-models/ and every stories260K file of F32/F16/BF16 weights. WEFT_MIN_SPLIT_WORK=0 makes every kernel call
 * split over the threads, however small: these models' layers are below the default threshold.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { dataPath, describeData } from '../helpers/data.js';
import { weft } from '../helpers/cli.js';

/** `weft forward … --positions all --threads N`, with every kernel call split. */
function forward(args: string[], threads: number) {
  return weft(['forward', ...args, '--positions', 'all', '--threads', String(threads)], undefined, { WEFT_MIN_SPLIT_WORK: '0' });
}

describeData('weft forward: the same logits for 1, 2 and 3 threads', () => {
  const refIds = (name: string) => (JSON.parse(readFileSync(dataPath('ref-models', name, 'expected_outputs.json'), 'utf8')).cases[1].input_ids as number[]).join(',');
  const stories = '1,403,407,142,510,260,111,298,13,1,45,300'; // the vocabulary has 512 tokens
  const models: Array<[string, string[]]> = [
    ...['gpt2-a', 'gpt2-a-f16', 'gpt2-a-bf16', 'gpt2-b', 'llama-a', 'llama-b', 'qwen2-a'].map((n): [string, string[]] => [n, ['--model', dataPath('ref-models', n), '--ids', refIds(n)]]),
    ['gpt2-a.gguf', ['--model', dataPath('ref-models', 'gpt2-a', 'gpt2-a.gguf'), '--ids', refIds('gpt2-a')]],
    ['stories260K.bin', ['--model', dataPath('llama2c-stories260k', 'stories260K.bin'), '--tokenizer', dataPath('llama2c-stories260k', 'tok512.bin'), '--ids', stories]],
    ['stories260K.gguf (F32)', ['--model', dataPath('llama2c-stories260k', 'stories260K.gguf'), '--ids', stories]],
    ['stories260K-F16.gguf', ['--model', dataPath('stories260k-gguf-quantized', 'stories260K-F16.gguf'), '--ids', stories]],
    ['stories260K-BF16.gguf', ['--model', dataPath('stories260k-gguf-quantized', 'stories260K-BF16.gguf'), '--ids', stories]],
  ];
  for (const [name, args] of models) {
    it(name, async () => {
      const [one, two, three] = await Promise.all([1, 2, 3].map((t) => forward(args, t)));
      for (const r of [one, two, three]) {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      expect(one.stdout.split('\n').length).toBeGreaterThan(5); // a line of logits per position
      expect(two.stdout).toBe(one.stdout);
      expect(three.stdout).toBe(one.stdout);
    }, 120_000);
  }
});
