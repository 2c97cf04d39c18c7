/**
 * `weft forward --threads 1 | 2 | 3` prints the same logits, bit for bit (the same text), for every decoder of
 * ref-models/ and every stories260K file of F32/F16/BF16 weights. WEFT_MIN_SPLIT_WORK=0 makes every kernel call
 * split over the threads, however small: these models' layers are below the default threshold.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { dataPath, describeData } from '../helpers/data.js';

const ROOT = resolve(__dirname, '../..');

function forward(args: string[], threads: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'forward', ...args, '--positions', 'all', '--threads', String(threads)], {
      cwd: ROOT,
      env: { ...process.env, WEFT_MIN_SPLIT_WORK: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
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
