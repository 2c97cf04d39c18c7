/**
 * A bounded slice of the fuzz set (the full run is `npm run fuzz`): every case must end in a clean WeftError or a
 * correct result, within its time limit, with the same Runtime still giving stories260K's known ids afterwards.
 */
import { expect, it } from 'vitest';
import { describeData } from '../helpers/data.js';
import { BAD_OUTCOMES, runFuzz, summarize } from './driver.js';

/** 9 targets × 8: each target gets cases from its header fields, JSON nodes or requests (≈ 40 s on 2 cores). */
const SLICE = 72;

describeData('fuzz slice', () => {
  it(`${SLICE} hostile inputs: no hang, crash, internal error, wrong acceptance or broken Runtime`, async () => {
    const seed = Number(process.env.WEFT_FUZZ_SEED ?? 20261206);
    const results = await runFuzz({ seed, cases: SLICE, workers: 2 });
    const bad = results.filter((r) => BAD_OUTCOMES.includes(r.outcome)).map((r) => `#${r.index} ${r.outcome}: ${r.mutation} — ${r.detail}`);
    expect(results.length).toBe(SLICE);
    expect(bad, `seed ${seed}\n${summarize(results)}`).toEqual([]);
  }, 240_000);
});
