/**
 * `weft embed`: one vector per text (or per token id list) from an encoder model.
 * --json prints {"embeddings": [[…], …]}; with --pooling none each entry is that text's hidden states
 * [positions][hidden] (its own positions, no padding rows). Plain mode prints one line per vector.
 */
import { WeftError } from '../errors.js';
import type { Pooling } from '../models/model.js';
import { embed, type TokenInput } from '../tasks/embed.js';
import { loadEncoderFromOptions, MODEL_OPTIONS, parseIdList, parseOptions } from './common.js';

const USAGE = `usage: weft embed --model PATH [options] TEXT…
       weft embed --model PATH --ids "2,12,3;2,62,80,3" [--token-type-ids "0,0,0;0,0,1,1"] [options]

  --model PATH             an encoder: a folder (config.json + safetensors [+ tokenizer.json, sentence-transformers
                           modules.json]) or a GGUF bert file
  --tokenizer PATH         a tokenizer file, when the model folder has none
  --pooling P              mean | cls | max | pooler | none (default: the folder's sentence-transformers pooling, else mean)
  --normalize              L2-normalise each vector (default: on when the folder has a Normalize module)
  --no-truncation          a text past the model's positions is an error instead of being cut
  --ids LISTS              token ids per text, texts separated by ';', used as given (no special tokens added)
  --token-type-ids LISTS   token types, in the shape of --ids (default all 0)
  --json                   print {"embeddings": [...]}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    argv,
    { ...MODEL_OPTIONS, pooling: { type: 'string' }, normalize: { type: 'boolean' }, 'no-truncation': { type: 'boolean' }, ids: { type: 'string' }, 'token-type-ids': { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    true,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const pooling = values.pooling as Pooling | undefined;
  if (pooling !== undefined && !['mean', 'cls', 'max', 'pooler', 'none'].includes(pooling)) throw new WeftError('E_OPTION', `option --pooling must be mean, cls, max, pooler or none, got '${pooling}'`);
  const input = inputFrom(values.ids, values['token-type-ids'], positionals);
  const lm = await loadEncoderFromOptions(values);
  try {
    const vectors = await embed(lm, input, {
      pooling,
      normalize: values.normalize,
      truncation: !values['no-truncation'],
      onTruncate: ({ index, tokens, kept }) => console.error(`weft: warning: text ${index} has ${tokens} tokens; cut to the model's ${kept}`),
    });
    const hidden = lm.model.config.hiddenSize;
    const rows = (v: Float32Array) => Array.from({ length: v.length / hidden }, (_, r) => Array.from(v.subarray(r * hidden, (r + 1) * hidden)));
    const none = (pooling ?? lm.model.poolingDefaults?.pooling) === 'none';
    if (values.json) console.log(JSON.stringify({ embeddings: vectors.map((v) => (none ? rows(v) : Array.from(v))) }));
    else for (const v of vectors) for (const row of none ? rows(v) : [Array.from(v)]) console.log(row.join(' '));
  } finally {
    lm.model.dispose();
  }
  return 0;
}

/** Texts, or --ids "a,b;c,d" with optional --token-type-ids of the same shape. */
export function inputFrom(ids: string | undefined, types: string | undefined, texts: string[]): string[] | TokenInput {
  if (ids === undefined) {
    if (types !== undefined) throw new WeftError('E_OPTION', 'option --token-type-ids goes with --ids');
    if (texts.length === 0) throw new WeftError('E_OPTION', `give at least one TEXT, or --ids\n${USAGE}`);
    return texts;
  }
  if (texts.length > 0) throw new WeftError('E_OPTION', 'give either TEXT arguments or --ids, not both');
  const lists = (text: string, option: string) => text.split(';').map((part) => parseIdList(part, option));
  const input: TokenInput = { ids: lists(ids, '--ids') };
  if (types !== undefined) {
    input.tokenTypes = lists(types, '--token-type-ids');
    if (input.tokenTypes.length !== input.ids.length || input.tokenTypes.some((t, i) => t.length !== input.ids[i].length)) {
      throw new WeftError('E_OPTION', 'option --token-type-ids must have the shape of --ids (one type per id, texts separated by ;)');
    }
  }
  return input;
}
