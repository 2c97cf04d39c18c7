/**
 * `weft tokenize --tokenizer <tokenizer.json | model folder | .gguf | tokenizer.bin> [--no-special]
 *  [--split-special] [--json | --jsonl] TEXT`
 *
 * Plain output is the ids on one line, separated by spaces; --json prints {"ids": [...], "tokens": [...]};
 * --jsonl reads one JSON string per stdin line and writes one such object per line, in order.
 */
import { createInterface } from 'node:readline';
import { WeftError } from '../errors.js';
import { loadTokenizer } from '../tokenizers/index.js';

const USAGE = `usage: weft tokenize --tokenizer <tokenizer.json | model folder | .gguf | tokenizer.bin> [options] TEXT

options:
  --no-special      do not add BOS/EOS/template tokens (special tokens in the text are still recognised)
  --split-special   treat special tokens written in the text as plain text
  --json            print {"ids": [...], "tokens": [...]}
  --jsonl           read one JSON string per line on stdin, print one {"ids","tokens"} object per line`;

export async function run(argv: string[]): Promise<number> {
  let tokenizerPath: string | undefined;
  let addSpecial = true;
  let splitSpecial = false;
  let mode: 'plain' | 'json' | 'jsonl' = 'plain';
  const texts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      return 0;
    } else if (arg === '--tokenizer') {
      tokenizerPath = argv[++i];
      if (tokenizerPath === undefined) throw new WeftError('E_OPTION', `--tokenizer needs a path\n${USAGE}`);
    } else if (arg === '--no-special') addSpecial = false;
    else if (arg === '--split-special') splitSpecial = true;
    else if (arg === '--json') mode = 'json';
    else if (arg === '--jsonl') mode = 'jsonl';
    else if (arg === '--') {
      texts.push(...argv.slice(i + 1)); // everything after -- is text, even if it starts with --
      break;
    } else if (arg.startsWith('--')) throw new WeftError('E_OPTION', `unknown option ${arg}\n${USAGE}`);
    else texts.push(arg);
  }
  if (!tokenizerPath) throw new WeftError('E_OPTION', `--tokenizer is required\n${USAGE}`);
  if (mode !== 'jsonl' && texts.length !== 1) throw new WeftError('E_OPTION', `give exactly one TEXT argument (got ${texts.length}); quote it, or use --jsonl with stdin\n${USAGE}`);
  if (mode === 'jsonl' && texts.length > 0) throw new WeftError('E_OPTION', `--jsonl reads its texts from stdin, not from arguments\n${USAGE}`);

  const tokenizer = await loadTokenizer(tokenizerPath);
  const options = { add_special_tokens: addSpecial, split_special: splitSpecial };
  if (mode === 'plain') {
    process.stdout.write(tokenizer.encode(texts[0]!, options).join(' ') + '\n');
    return 0;
  }
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(tokenizer.encodeWithTokens(texts[0]!, options)) + '\n');
    return 0;
  }
  let lineNumber = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    lineNumber++;
    let text: unknown;
    try {
      text = JSON.parse(line);
    } catch (e) {
      throw new WeftError('E_OPTION', `stdin line ${lineNumber}: not JSON (${(e as Error).message})`);
    }
    if (typeof text !== 'string') throw new WeftError('E_OPTION', `stdin line ${lineNumber}: expected a JSON string, got ${typeof text}`);
    process.stdout.write(JSON.stringify(tokenizer.encodeWithTokens(text, options)) + '\n');
  }
  return 0;
}
