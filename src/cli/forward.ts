/**
 * `weft forward`: the raw logits of token ids, for checking a model's exactness against a reference.
 * --json prints {"logits": {"<pos>": [...]}}; plain mode prints one line per position: `<pos>: v0 v1 …`.
 * An encoder-decoder model encodes --ids and prints the decoder's logits at the positions of --decoder-ids
 * (default: the decoder_start_token_id alone, whose logits begin the greedy continuation).
 */
import { WeftError } from '../errors.js';
import { loadLanguageModelFromOptions, MODEL_OPTIONS, MODEL_USAGE, parseIdList, parseOptions } from './common.js';

const USAGE = `usage: weft forward --model PATH --ids 1,2,3 [--decoder-ids 0,5] [--positions last|all|0,5] [--json]

${MODEL_USAGE}
  --ids 1,2,3              the token ids, run from position 0 (nothing is added); an encoder-decoder's input
  --decoder-ids 0,5        encoder-decoder only: the decoder's ids (default: decoder_start_token_id); the
                           positions and logits are the decoder's
  --positions P            which positions' logits to print: last (default), all, or a list like 0,5
  --json                   print {"logits": {"<pos>": [...]}}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, { ...MODEL_OPTIONS, ids: { type: 'string' }, 'decoder-ids': { type: 'string' }, positions: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.ids === undefined) throw new WeftError('E_OPTION', `option --ids is required\n${USAGE}`);
  const inputIds = parseIdList(values.ids, '--ids');
  const decoderIds = values['decoder-ids'] === undefined ? null : parseIdList(values['decoder-ids'], '--decoder-ids');

  const lm = await loadLanguageModelFromOptions(values, false);
  try {
    let ids = inputIds;
    if (lm.model.kind === 'encoder-decoder') {
      lm.model.encode(inputIds);
      ids = decoderIds ?? [lm.model.config.decoderStartTokenId];
    } else if (decoderIds) {
      throw new WeftError('E_OPTION', `option --decoder-ids is for encoder-decoder models; ${lm.model.config.modelType} is decoder-only`);
    }
    const positions = parsePositions(values.positions ?? 'last', ids.length);
    const vocab = lm.model.config.vocabSize;
    const allRows = positions.length !== 1 || positions[0] !== ids.length - 1;
    const logits = lm.model.forward(ids, { all: allRows });
    const row = (pos: number) => Array.from(allRows ? logits.subarray(pos * vocab, (pos + 1) * vocab) : logits);
    if (values.json) {
      const out: Record<string, number[]> = {};
      for (const pos of positions) out[String(pos)] = row(pos);
      console.log(JSON.stringify({ logits: out }));
    } else {
      for (const pos of positions) console.log(`${pos}: ${row(pos).join(' ')}`);
    }
  } finally {
    lm.model.dispose();
  }
  return 0;
}

function parsePositions(text: string, n: number): number[] {
  if (text === 'last') return [n - 1];
  if (text === 'all') return Array.from({ length: n }, (_, i) => i);
  const list = parseIdList(text, '--positions');
  const bad = list.find((p) => p >= n);
  if (bad !== undefined) throw new WeftError('E_OPTION', `option --positions: position ${bad} is past the last of the ${n} ids (0..${n - 1})`);
  return list;
}
