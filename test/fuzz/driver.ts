/**
 * The fuzz driver: hands cases to worker processes (child.ts) one at a time and enforces each case's time limit
 * from outside: a case that does not answer in time is a hang (the worker is killed and replaced), a worker that
 * dies is a crash. Returns every case's result; `summarize` makes the table.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CaseResult, Outcome } from './child.js';
import { TARGETS } from './cases.js';

export const BAD_OUTCOMES: Outcome[] = ['internal error', 'accepted and wrong', 'runtime broken', 'crash', 'hang'];

export interface FuzzOptions {
  seed: number;
  /** Case indices [first, first + cases). */
  first?: number;
  cases: number;
  /** Worker processes (the machine's cores). */
  workers?: number;
  /** Per-case limit (default 30 s): a large tokenizer.json takes ~0.5 s to load on a quiet machine, 10× that on a loaded one. */
  timeoutMs?: number;
  onResult?: (r: CaseResult) => void;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export async function runFuzz(o: FuzzOptions): Promise<CaseResult[]> {
  const first = o.first ?? 0;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const results: CaseResult[] = [];
  let next = first;
  const end = first + o.cases;

  const work = async (): Promise<void> => {
    let child: ChildProcess | null = null;
    const start = (): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const c = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
        c.stderr?.resume();
        c.once('message', () => resolve(c));
        c.once('exit', (code) => reject(new Error(`fuzz worker exited with ${code} before it was ready`)));
      });
    try {
      while (next < end) {
        const index = next++;
        child ??= await start();
        const c = child;
        const result = await new Promise<CaseResult | Outcome>((resolve) => {
          const timer = setTimeout(() => resolve('hang'), timeoutMs);
          const onExit = (): void => resolve('crash');
          c.once('exit', onExit);
          c.once('message', (m: CaseResult) => {
            clearTimeout(timer);
            c.off('exit', onExit);
            resolve(m);
          });
          c.send({ seed: o.seed, index });
        });
        if (typeof result === 'string') {
          c.removeAllListeners();
          c.kill('SIGKILL');
          child = null;
          const { makeCase } = await import('./cases.js');
          const fc = makeCase(o.seed, index);
          results.push({ index, target: fc.target, mutation: fc.mutation, outcome: result, detail: result === 'hang' ? `no answer in ${timeoutMs} ms` : 'the worker process died' });
        } else results.push(result);
        o.onResult?.(results[results.length - 1]!);
      }
    } finally {
      child?.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: o.workers ?? 2 }, work));
  return results.sort((a, b) => a.index - b.index);
}

const OUTCOMES: Outcome[] = ['clean error', 'accepted', ...BAD_OUTCOMES];

/** Cases per target × outcome, as a text table. */
export function summarize(results: CaseResult[]): string {
  const rows = [['target', ...OUTCOMES, 'total']];
  for (const target of [...TARGETS, 'all']) {
    const mine = results.filter((r) => target === 'all' || r.target === target);
    rows.push([target, ...OUTCOMES.map((o) => String(mine.filter((r) => r.outcome === o).length)), String(mine.length)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}
