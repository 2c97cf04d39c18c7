/**
 * `weft classify`: labels and scores from an encoder with a classification head.
 * Sequence heads: plain mode prints `label<TAB>score` per text; --json prints {"results": [{label, score, scores}]}.
 * Token heads: plain mode prints `entity<TAB>start<TAB>end<TAB>score<TAB>text` per entity, a blank line after
 * each text; --json prints {"results": [[{entity, score, start, end, text}], …]}.
 */
import { WeftError } from '../errors.js';
import { classify, type Classification, type Entity } from '../tasks/classify.js';
import { loadEncoderFromOptions, MODEL_OPTIONS, parseOptions } from './common.js';

const USAGE = `usage: weft classify --model PATH [options] TEXT…

  --model PATH             a …ForSequenceClassification or …ForTokenClassification folder (config.json with
                           id2label + safetensors + tokenizer.json)
  --tokenizer PATH         a tokenizer file, when the model folder has none
  --no-truncation          a text past the model's positions is an error instead of being cut
  --json                   print {"results": [...]}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { ...MODEL_OPTIONS, 'no-truncation': { type: 'boolean' }, json: { type: 'boolean' } }, USAGE, true);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new WeftError('E_OPTION', `give at least one TEXT\n${USAGE}`);
  const lm = await loadEncoderFromOptions(values);
  try {
    const results = await classify(lm, positionals, {
      truncation: !values['no-truncation'],
      onTruncate: ({ index, tokens, kept }) => console.error(`weft: warning: text ${index} has ${tokens} tokens; cut to the model's ${kept}`),
    });
    if (values.json) console.log(JSON.stringify({ results }));
    else if (lm.model.head?.kind === 'token') {
      for (const entities of results as Entity[][]) {
        for (const e of entities) console.log(`${e.entity}\t${e.start}\t${e.end}\t${e.score.toFixed(4)}\t${e.text}`);
        console.log('');
      }
    } else for (const r of results as Classification[]) console.log(`${r.label}\t${r.score.toFixed(4)}`);
  } finally {
    lm.model.dispose();
  }
  return 0;
}
