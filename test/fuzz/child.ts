/**
 * One fuzz worker process: runs the cases the driver sends (by index), one at a time, on ONE Runtime, and reports
 * how each ended. The driver enforces the time limit from outside (it kills this process), so a hang or a crash
 * here is seen as one.
 *
 *   driver ──{seed, index}──▶ child: write the case's files, run it, check what came back,
 *                                    then check the same Runtime still gives stories260K's known greedy ids
 *          ◀──{index, outcome, detail}──
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeftError } from '../../src/errors.js';
import { generate } from '../../src/generation/generate.js';
import { loadModel } from '../../src/models/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { dataPath } from '../helpers/data.js';
import { makeCase, type FuzzCase } from './cases.js';

export type Outcome = 'clean error' | 'accepted' | 'internal error' | 'accepted and wrong' | 'runtime broken' | 'crash' | 'hang';
export interface CaseResult {
  index: number;
  target: string;
  mutation: string;
  outcome: Outcome;
  detail: string;
}

const KNOWN_IDS = (JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(dataPath('llama2c-stories260k/expected_greedy_bos_200.ids.json'), 'utf8'))) as { ids: number[] }).ids.slice(1, 9);

/** What a run gave back, checked against what any valid result must satisfy; null when it does. */
async function runCase(rt: Runtime, c: FuzzCase, dir: string): Promise<string | null> {
  if (c.run.kind === 'tokenize') {
    const tokenizer = await loadTokenizer(join(dir, c.run.tokenizer));
    for (const text of c.run.texts) {
      const ids = tokenizer.encode(text);
      const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
      if (bad !== undefined) return `encode gave id ${bad}, outside the vocabulary of ${tokenizer.vocabSize}`;
      if (typeof tokenizer.decode(ids) !== 'string') return 'decode did not return a string';
    }
    try {
      tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (e) {
      if (!(e instanceof WeftError && e.code === 'E_MISSING')) throw e; // no template at all is fine
    }
    return null;
  }
  const lm = await loadModel(join(dir, c.run.model), { runtime: rt });
  try {
    const vocab = lm.model.config.vocabSize;
    const out = await generate(lm, c.run.prompt as never, c.run.options as never);
    const bad = out.ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));
    if (bad !== undefined) return `generated id ${bad}, outside the vocabulary of ${vocab}`;
    if (typeof out.text !== 'string') return 'the text is not a string';
    if (lm.tokenizer && lm.tokenizer.vocabSize > vocab) return `the tokenizer has ${lm.tokenizer.vocabSize} ids, the model ${vocab}`;
    return null;
  } finally {
    lm.model.dispose();
  }
}

/** The same Runtime still loads the good model and gives llama2.c's greedy ids, and nothing leaked. */
async function runtimeStillGood(rt: Runtime, baseline: number): Promise<string | null> {
  const used = rt.heap.usedBytes - rt.scratch.heldBytes; // the scratch arena is kept on purpose
  if (used !== baseline) return `${used - baseline} bytes of wasm memory still allocated after the case`;
  const lm = await loadModel(dataPath('llama2c-stories260k/stories260K.bin'), { runtime: rt });
  try {
    const out = await generate(lm, [1], { max_new_tokens: 8, temperature: 0 });
    return out.ids.join() === KNOWN_IDS.join() ? null : `known-good ids ${out.ids.join()} ≠ ${KNOWN_IDS.join()}`;
  } finally {
    lm.model.dispose();
  }
}

async function main(): Promise<void> {
  const rt = await Runtime.create();
  const baseline = rt.heap.usedBytes - rt.scratch.heldBytes;
  process.on('message', async (msg: { seed: number; index: number }) => {
    const c = makeCase(msg.seed, msg.index);
    const dir = await mkdtemp(join(tmpdir(), 'weft-fuzz-'));
    let outcome: Outcome;
    let detail = '';
    try {
      for (const [name, bytes] of Object.entries(c.files)) await writeFile(join(dir, name), bytes);
      const wrong = await runCase(rt, c, dir);
      outcome = wrong ? 'accepted and wrong' : 'accepted';
      detail = wrong ?? '';
    } catch (e) {
      outcome = e instanceof WeftError ? 'clean error' : 'internal error';
      detail = e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    try {
      const broken = await runtimeStillGood(rt, baseline);
      if (broken) [outcome, detail] = ['runtime broken', broken];
    } catch (e) {
      [outcome, detail] = ['runtime broken', `the good model failed after the case: ${(e as Error).message}`];
    }
    const result: CaseResult = { index: c.index, target: c.target, mutation: c.mutation, outcome, detail };
    process.send!(result);
  });
  process.send!({ ready: true });
}

void main();
