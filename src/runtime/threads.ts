/**
 * Threads: one shared WebAssembly.Memory, a pool of workers that each run the same kernel module on it, and the
 * dispatcher through which the caller's thread shares each kernel call with them.
 *
 *   caller (thread 0)                                     worker t (1 … n-1, src/runtime/worker.ts)
 *   ─────────────────                                     ───────────────────────────────────────────
 *   write kernel id, args, range; CLAIM = (epoch+1, 0)    spin on CLAIM, then Atomics.wait
 *   notify if a worker sleeps                  ───────▶   claim chunk k: CAS CLAIM (e, k) → (e, k+1)
 *   claim and run chunks the same way                     run kernel(args…, chunk k's range)
 *   wait until COMPLETED = CHUNKS  ◀──────────────────    Atomics.add(COMPLETED)
 *
 * A call's range is cut into CHUNKS pieces of whole units (packed blocks of 4 rows, whole rows, whole heads) that
 * threads claim one at a time. Claiming rather than fixed shares is what keeps a busy machine from stalling: a
 * worker the OS has not scheduled simply claims nothing, and the caller runs its chunks, instead of every call
 * waiting a whole time slice for it (measured: with fixed halves and ~15 runnable processes on 2 cores, decode ran
 * 7× slower on 2 threads than on 1). Every output element is still computed whole by one thread, in the order one
 * thread uses (the kernels add in the same order for any range), so every thread count gives the same bits.
 *
 * The CAS on CLAIM both claims a chunk and proves that the call's fields the worker read belong to epoch e: the
 * caller rewrites them only after every chunk of e was claimed and completed. No message is posted per call.
 *
 * The caller waits by spinning, then Atomics.wait where the thread may block. A browser's main thread may not
 * (Atomics.wait throws there): it spins until the chunks in flight are done. That keeps `forward` synchronous on
 * every platform; the caller runs chunks itself meanwhile, so it rarely spins for long.
 */
import { WeftError } from '../errors.js';
import type { Kernels } from './kernels.js';
import { workerMain, type WorkerInit } from './worker.js';

/** `threads` option: 'auto' (what the platform offers, capped at AUTO_MAX) or a count ≥ 1. */
export type ThreadsOption = 'auto' | number;

/**
 * The most threads 'auto' picks. Only 1 and 2 threads were measured (2-core machines): decode is bound by memory
 * bandwidth, which a few cores saturate on desktop machines, and each extra thread adds a barrier per kernel call.
 */
export const AUTO_MAX_THREADS = 8;
/** Threads a pool can have (the control block holds this many ranges). */
export const MAX_THREADS = 32;

/**
 * A kernel call split over the pool: the kernel's last two parameters are the half-open range [start, end) of the
 * dimension threads divide; `args` are all the others, in order.
 */
export interface ParallelCall {
  kernel: keyof Kernels;
  args: number[];
  start: number;
  end: number;
  /** Shares are whole multiples of this (4 for packed linear blocks, 1 for heads or rows). */
  unit: number;
  /**
   * The call's cost in multiply-adds (or elements touched): a call below PARALLEL_MIN_WORK runs on the caller
   * alone, where a barrier would cost more than the shares save.
   */
  work: number;
  /** args[arg] is a per-thread buffer: thread t is given args[arg] + t·bytes (the caller allocates threads·bytes). */
  scratch?: { arg: number; bytes: number };
}

/**
 * Below this much work (multiply-adds), a call runs on one thread. Splitting in two saves up to half the call's time
 * and costs the pool's protocol (0.5 µs per call, `npm run bench:threads`) plus waiting for a worker's last chunk:
 * ~15 µs measured for a 2-chunk call with the 2-core machine at load ~15. It pays above ~2 × that wait × rate: at
 * ~7 G multiply-adds/s, 64K is about where it starts paying. SmolLM2-135M's layers (330K–885K per decoded token) split;
 * stories260K's (4K–33K) do not. Norms, RoPE, residual adds and activations never split: in decode they take well
 * under a round trip (rmsNorm of 576: ~0.3 µs), in prefill they are ~1% of the time next to the linear layers.
 */
export const PARALLEL_MIN_WORK = 1 << 16;

/** Word indices of the control block (Int32), and byte offsets of its f64 arguments and error text. */
const CONTROL = {
  CLAIM: 0, // (epoch << 8) | next unclaimed chunk
  COMPLETED: 1, // chunks of the current call finished
  KERNEL: 2, // index into the kernel name list
  NARGS: 3,
  ERROR: 4, // 0, or 1 + the thread whose kernel threw
  STOP: 5, // set once, to end the workers' loops
  SLEEPERS: 6, // workers inside Atomics.wait on CLAIM
  CALLER_SLEEPS: 7, // 1 while the caller is inside Atomics.wait on COMPLETED
  CHUNKS: 8, // chunks per call (fixed for the pool's life)
  SCRATCH_ARG: 9, // -1, or the argument that is a per-thread buffer
  SCRATCH_BYTES: 10,
  RANGES: 16, // [from, to) of each chunk: 2 × CHUNKS_PER_THREAD × MAX_THREADS words
  ARGS_BYTE: 1152, // f64 × MAX_ARGS
  MAX_ARGS: 32,
  MESSAGE_BYTE: 1536, // UTF-8 error text of the failing thread
  MESSAGE_BYTES: 512,
} as const;
/** Chunks per thread in a call: enough that a late worker holds back little, few enough to keep chunks long. */
const CHUNKS_PER_THREAD = 4;
/** Bytes of the control block. */
export const CONTROL_BYTES = CONTROL.MESSAGE_BYTE + CONTROL.MESSAGE_BYTES;

/**
 * Checks of the claim word (worker) or the completed count (caller) before sleeping in Atomics.wait: 2^16 atomic
 * loads, ~0.1 ms at 1–2 ns each on an idle core (4 ms measured at load ~15 on 2 cores): longer than the gaps
 * between kernel calls in a forward (norms, RoPE, residual adds on the caller), so workers stay awake through a
 * token, and short enough that no core stays busy after the last one.
 */
const SPIN_LIMIT = 1 << 16;

/**
 * Why threads cannot run here, or null when they can: SharedArrayBuffer and a shared WebAssembly.Memory are needed,
 * and in browsers a cross-origin-isolated page (the COOP/COEP headers) and the Worker constructor.
 */
export function sharedMemoryProblem(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; process?: { versions?: { node?: string } } };
  const isNode = typeof g.process?.versions?.node === 'string';
  if (!isNode && g.crossOriginIsolated === false) {
    return 'this page is not cross-origin isolated: serve it with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp"';
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is unavailable here (browsers need the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp")';
  }
  if (!isNode && typeof g.Worker !== 'function') return 'this environment has no Worker constructor';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `this engine cannot create a shared WebAssembly.Memory (${(e as Error).message})`;
  }
  return null;
}

/** The thread count asked for: the option, else WEFT_THREADS (Node), else 'auto'; checked. */
export function requestedThreads(option: ThreadsOption | undefined): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WEFT_THREADS;
  let value: ThreadsOption | string | undefined = option;
  let name = 'threads';
  if (value === undefined && env !== undefined && env !== '') {
    value = env;
    name = 'WEFT_THREADS';
  }
  if (value === undefined || value === 'auto') return Math.min(AUTO_MAX_THREADS, availableCores());
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new WeftError('E_OPTION', `option ${name} must be 'auto' or an integer from 1 to ${MAX_THREADS}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Logical cores: navigator.hardwareConcurrency (browsers, Node ≥ 21), else os.availableParallelism() via a cached import. */
function availableCores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (typeof n === 'number' && n >= 1) return n;
  return nodeCores ?? 1;
}
let nodeCores: number | null = null;
/** Node 20 has no `navigator`: read the core count once, before the first `requestedThreads`. */
export async function detectCores(): Promise<void> {
  if (nodeCores !== null || (globalThis as { navigator?: unknown }).navigator !== undefined) return;
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof process?.versions?.node !== 'string') return;
  const os = await import('node:os');
  nodeCores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

let warned = false;
/** The one warning of a process (or page) that wanted threads but runs on one. */
export function warnSingleThreaded(wanted: number, why: string): void {
  if (warned) return;
  warned = true;
  console.warn(`weft: running on 1 thread instead of ${wanted}: ${why}`);
}

interface PoolWorker {
  post(message: unknown): void;
  terminate(): void;
}

/**
 * The workers and the control block. `run` is the dispatcher every kernel wrapper goes through (via
 * `Runtime.parallel`).
 */
export class ThreadPool {
  private readonly c: Int32Array;
  private readonly a: Float64Array;
  private readonly kernelIndex: Map<string, number>;
  private readonly chunks: number;
  private epoch = 0;
  private disposed = false;

  private constructor(
    readonly threads: number,
    private readonly memory: WebAssembly.Memory,
    private readonly control: number,
    private readonly kernels: Kernels,
    kernelNames: string[],
    private readonly workers: PoolWorker[],
    /** False on a browser's main thread, where Atomics.wait throws. */
    private readonly callerCanSleep: boolean,
  ) {
    this.c = new Int32Array(memory.buffer, control, CONTROL.MESSAGE_BYTE / 4);
    this.a = new Float64Array(memory.buffer, control + CONTROL.ARGS_BYTE, CONTROL.MAX_ARGS);
    this.kernelIndex = new Map(kernelNames.map((name, i) => [name, i]));
    this.chunks = CHUNKS_PER_THREAD * threads;
    this.c[CONTROL.CHUNKS] = this.chunks;
    // Nothing to claim until the first call: the next chunk of epoch 0 is past the last.
    Atomics.store(this.c, CONTROL.CLAIM, this.chunks);
  }

  /**
   * Starts threads-1 workers on `memory` (shared) with the compiled `module`, and waits until each has
   * instantiated it. `control` is CONTROL_BYTES of zeroed memory the pool owns. Rejects if a worker cannot start.
   */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, control: number, kernels: Kernels): Promise<ThreadPool> {
    const kernelNames = Object.keys(kernels).filter((name) => typeof (kernels as unknown as Record<string, unknown>)[name] === 'function');
    const pool = new ThreadPool(threads, memory, control, kernels, kernelNames, [], callerCanSleep());
    try {
      const ready: Array<Promise<void>> = [];
      for (let t = 1; t < threads; t++) {
        const { worker, firstMessage } = await spawnWorker();
        pool.workers.push(worker);
        const init: WorkerInit = { module, memory, control, thread: t, kernels: kernelNames, layout: CONTROL, spinLimit: SPIN_LIMIT };
        worker.post(init);
        ready.push(
          firstMessage.then((m) => {
            const reply = m as { ready?: boolean; error?: string };
            if (!reply.ready) throw new Error(reply.error ?? 'no reply');
          }),
        );
      }
      await Promise.all(ready);
    } catch (e) {
      pool.dispose();
      throw new WeftError('E_WASM', `could not start ${threads - 1} worker thread(s): ${(e as Error).message}`, { cause: e });
    }
    return pool;
  }

  /** Runs `call` in chunks over all threads (this one included) and returns when every chunk is done. */
  run(call: ParallelCall): void {
    if (this.disposed) throw new WeftError('E_OPTION', 'this Runtime was disposed');
    const { c, a } = this;
    const kernel = this.kernelIndex.get(call.kernel);
    if (kernel === undefined || call.args.length > CONTROL.MAX_ARGS) throw new WeftError('E_OPTION', `parallel: ${call.kernel} is not a kernel of this module`);
    c[CONTROL.KERNEL] = kernel;
    c[CONTROL.NARGS] = call.args.length;
    for (let i = 0; i < call.args.length; i++) a[i] = call.args[i];
    c[CONTROL.SCRATCH_ARG] = call.scratch ? call.scratch.arg : -1;
    c[CONTROL.SCRATCH_BYTES] = call.scratch ? call.scratch.bytes : 0;
    const units = Math.ceil((call.end - call.start) / call.unit);
    for (let k = 0; k <= this.chunks; k++) {
      // chunk k is [bound k, bound k+1): whole units, in order
      const bound = Math.min(call.end, call.start + Math.floor((k * units) / this.chunks) * call.unit);
      if (k < this.chunks) c[CONTROL.RANGES + 2 * k] = bound;
      if (k > 0) c[CONTROL.RANGES + 2 * k - 1] = bound;
    }
    Atomics.store(c, CONTROL.COMPLETED, 0);
    this.epoch = (this.epoch + 1) & 0xffffff;
    Atomics.store(c, CONTROL.CLAIM, this.epoch << 8); // publishes everything written above
    if (Atomics.load(c, CONTROL.SLEEPERS) > 0) Atomics.notify(c, CONTROL.CLAIM);

    const run = this.kernels[call.kernel] as (...args: number[]) => unknown;
    const args = [...call.args, 0, 0];
    let failure: unknown = null;
    for (;;) {
      const claim = Atomics.load(c, CONTROL.CLAIM);
      const k = claim & 0xff;
      if (k >= this.chunks) break;
      if (Atomics.compareExchange(c, CONTROL.CLAIM, claim, claim + 1) !== claim) continue;
      args[args.length - 2] = c[CONTROL.RANGES + 2 * k];
      args[args.length - 1] = c[CONTROL.RANGES + 2 * k + 1];
      if (failure === null && args[args.length - 2] < args[args.length - 1]) {
        try {
          run(...args);
        } catch (e) {
          failure = e; // keep claiming (without running) so the call completes
        }
      }
      Atomics.add(c, CONTROL.COMPLETED, 1);
    }
    this.waitForChunks();
    if (failure) throw failure instanceof WeftError ? failure : new WeftError('E_WASM', `kernel ${call.kernel} failed (${(failure as Error).message})`, { cause: failure });
    const failed = Atomics.exchange(c, CONTROL.ERROR, 0);
    if (failed) {
      const text = new Uint8Array(this.memory.buffer, this.control + CONTROL.MESSAGE_BYTE, CONTROL.MESSAGE_BYTES).slice();
      const end = text.indexOf(0);
      throw new WeftError('E_WASM', `kernel ${call.kernel} failed in a worker (${new TextDecoder().decode(text.subarray(0, end < 0 ? text.length : end))})`);
    }
  }

  /** Until every chunk claimed by a worker is done. */
  private waitForChunks(): void {
    const { c } = this;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(c, CONTROL.COMPLETED);
      if (done >= this.chunks) return;
      if (++spins < SPIN_LIMIT || !this.callerCanSleep) continue;
      Atomics.store(c, CONTROL.CALLER_SLEEPS, 1);
      Atomics.wait(c, CONTROL.COMPLETED, done);
      Atomics.store(c, CONTROL.CALLER_SLEEPS, 0);
      spins = 0;
    }
  }

  /** Ends the workers' loops and terminates them. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.c, CONTROL.STOP, 1);
    Atomics.store(this.c, CONTROL.CLAIM, ((this.epoch + 1) & 0xffffff) << 8);
    Atomics.notify(this.c, CONTROL.CLAIM);
    for (const w of this.workers) w.terminate();
  }
}

/** Atomics.wait throws on a browser's main thread; everywhere else the caller may sleep. */
function callerCanSleep(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * esbuild (tsx, vitest) compiles with keepNames, which wraps named functions in calls to its `__name` helper; the
 * helper lives in the module, not in the function's source text, so the worker gets a stand-in.
 */
const NAME_HELPER = 'var __name = (f) => f;\n';

/** A worker running `workerMain`, and its first message. Node: an unref'd worker_threads eval worker; browsers: a Blob URL. */
async function spawnWorker(): Promise<{ worker: PoolWorker; firstMessage: Promise<unknown> }> {
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    // import(), not require: an eval worker is an ES module when the process runs with --input-type=module.
    // No execArgv: the parent's loaders (tsx) have nothing to do in a worker that only runs this source.
    const source = `${NAME_HELPER}import('node:worker_threads').then(({ parentPort }) =>
(${workerMain.toString()})({ onMessage: (f) => parentPort.on('message', f), post: (m) => parentPort.postMessage(m) }));`;
    const worker = new Worker(source, { eval: true, execArgv: [] });
    const firstMessage = new Promise((resolve, reject) => {
      worker.once('message', (m) => {
        worker.unref(); // once started: a process using weft exits when its own work is done, workers or not
        resolve(m);
      });
      worker.on('error', reject); // kept after start-up: an unhandled 'error' event would end the process
      worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
    });
    return { worker: { post: (m) => worker.postMessage(m), terminate: () => void worker.terminate() }, firstMessage };
  }
  const source = `${NAME_HELPER}(${workerMain.toString()})({ onMessage: (f) => { self.onmessage = (e) => f(e.data); }, post: (m) => self.postMessage(m) });`;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url);
  const firstMessage = new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message || 'worker script failed to load'));
  }).finally(() => URL.revokeObjectURL(url));
  return { worker: { post: (m) => worker.postMessage(m), terminate: () => worker.terminate() }, firstMessage };
}
