/**
 * `weft generate`: text from a prompt (or token ids), printed as it is produced, or one JSON object with --json.
 * With no --model it runs the embedded stories260K.
 */
import { WeftError } from '../errors.js';
import { stream, type GenerateResult } from '../generation/generate.js';
import {
  loadModelFromOptions,
  MODEL_OPTIONS,
  MODEL_USAGE,
  parseIdList,
  parseOptions,
  peakMemoryBytes,
  SAMPLING_OPTIONS,
  SAMPLING_USAGE,
  samplingFromOptions,
  withInterrupt,
} from './common.js';

const USAGE = `usage: weft generate [--model PATH] [--prompt TEXT | --ids 1,2,3] [options] [--json]

Without --model, runs the embedded stories260K (llama2.c) model.
${MODEL_USAGE}
  --prompt TEXT            the prompt (BOS is added as the model's tokenizer config says; default: empty)
  --ids 1,2,3              the prompt as token ids, used as given
${SAMPLING_USAGE}
  --json                   print one JSON object: text, token_ids, prompt_token_ids, finish_reason, timings,
                           peak_memory_bytes`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(
    argv,
    { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS, prompt: { type: 'string' }, ids: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.prompt !== undefined && values.ids !== undefined) throw new WeftError('E_OPTION', 'options --prompt and --ids exclude each other');
  const prompt = values.ids !== undefined ? parseIdList(values.ids, '--ids') : (values.prompt ?? '');
  const options = samplingFromOptions(values);

  const lm = await loadModelFromOptions(values, true);
  try {
    const result = await withInterrupt(async (signal) => {
      const pieces = stream(lm, prompt, { ...options, signal });
      for (;;) {
        const step = await pieces.next();
        if (step.done) return step.value;
        if (!values.json) process.stdout.write(step.value);
      }
    });
    if (values.json) console.log(JSON.stringify(jsonResult(result, lm.loadMs)));
    else if (lm.tokenizer) process.stdout.write('\n'); // as run.c ends its output
    else {
      // No tokenizer, so no text: the generated ids are the output, and stderr says why.
      console.error(`weft: ${lm.source} has no tokenizer, so the output is token ids (give --tokenizer to see text)`);
      console.log(result.ids.join(','));
    }
  } finally {
    lm.model.dispose();
  }
  return 0;
}

/** The --json shape of issue 4. */
function jsonResult(r: GenerateResult, loadMs: number) {
  return {
    text: r.text,
    token_ids: r.ids,
    prompt_token_ids: r.promptIds,
    finish_reason: r.finishReason,
    timings: { load_ms: loadMs, prefill_tokens_per_s: r.timings.prefillTokensPerS, decode_tokens_per_s: r.timings.decodeTokensPerS },
    peak_memory_bytes: peakMemoryBytes(),
  };
}
