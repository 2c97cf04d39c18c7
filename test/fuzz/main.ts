/**
 * `npm run fuzz [-- --seed N --cases N --first N --workers N --json]`: the full fuzz run, a table of outcomes per
 * target, then every case that was not a clean error or a correct acceptance (with its index, to rerun alone with
 * --first INDEX --cases 1). Exits 1 when any case hung, crashed, failed internally, was wrong or broke the Runtime.
 */
import { BAD_OUTCOMES, runFuzz, summarize } from './driver.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seed = arg('seed', 1);
const cases = arg('cases', 3000);
const started = performance.now();
let done = 0;
const results = await runFuzz({
  seed,
  first: arg('first', 0),
  cases,
  workers: arg('workers', 2),
  onResult: () => {
    if (++done % 100 === 0) process.stderr.write(`${done}/${cases} cases\n`);
  },
});
const bad = results.filter((r) => BAD_OUTCOMES.includes(r.outcome));
if (args.includes('--json')) console.log(JSON.stringify({ seed, cases, results }, null, 1));
else {
  console.log(`seed ${seed}, ${results.length} cases in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  console.log(summarize(results));
  for (const r of bad) console.log(`\n#${r.index} ${r.outcome}: ${r.mutation}\n  ${r.detail}`);
}
process.exit(bad.length > 0 ? 1 : 0);
