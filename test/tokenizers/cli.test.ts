import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { dataPath, describeData } from '../helpers/data.js';

const ROOT = resolve(__dirname, '../..');

function weft(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npx', ['tsx', 'src/cli/main.ts', 'tokenize', ...args], { cwd: ROOT, input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeData('weft tokenize', () => {
  const gpt2 = dataPath('tokenizers/gpt2');
  // Expected ids: tokenizers/gpt2/expected.jsonl (HF Rust) has "Hello world" → [15496, 995].
  it('plain, --json, --jsonl, --no-special, --split-special', { timeout: 60_000 }, () => {
    expect(weft(['--tokenizer', gpt2, 'Hello world'])).toMatchObject({ status: 0, stdout: '15496 995\n' });
    expect(JSON.parse(weft(['--tokenizer', gpt2, '--json', 'Hello world']).stdout)).toEqual({ ids: [15496, 995], tokens: ['Hello', 'Ġworld'] });
    const lines = weft(['--tokenizer', gpt2, '--jsonl', '--split-special'], '"Hello world"\n"<|endoftext|>"\n').stdout.trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).ids)).toEqual([[15496, 995], [27, 91, 437, 1659, 5239, 91, 29]]);
    // llama2.c: BOS only without --no-special
    const tok512 = dataPath('llama2c-stories260k/tok512.bin');
    const withBos = weft(['--tokenizer', tok512, 'Once']).stdout.trim().split(' ').map(Number);
    const without = weft(['--tokenizer', tok512, '--no-special', 'Once']).stdout.trim().split(' ').map(Number);
    expect(withBos).toEqual([1, ...without]);
  });

  it('errors print "weft: <message>" and exit 1', { timeout: 60_000 }, () => {
    const r = weft(['--tokenizer', '/nonexistent/tokenizer.json', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^weft: cannot open tokenizer \/nonexistent\/tokenizer\.json/);
    expect(weft(['Hello']).stderr).toMatch(/^weft: --tokenizer is required/);
  });
});
