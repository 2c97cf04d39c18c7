/**
 * The body of every pool worker: instantiate the kernel module on the shared memory, then run the share of each
 * kernel call the caller thread publishes in the control block, until told to stop.
 *
 *   init message { module, memory, control, thread, kernels }  →  instantiate, reply 'ready'
 *   loop:  wait until control[EPOCH] changes (spin SPIN_LIMIT checks, then Atomics.wait)
 *          run kernels[control[KERNEL]](args…, start_t, end_t) on this thread's range
 *          Atomics.add(control[DONE]) (wake the caller if it sleeps)
 *
 * threads.ts spawns it from this function's source text (a Node `eval` worker, a Blob URL in browsers), so it must
 * not refer to anything outside itself: the control-block layout is passed in the init message. That keeps one
 * module for Node and browsers, needs no separate asset for bundlers to find, and lets Node 20 run it from the
 * TypeScript sources (tests) as well as from dist/.
 */

/** What a worker can do with its parent: the two platform adapters are written by threads.ts. */
export interface WorkerPort {
  onMessage(handler: (message: unknown) => void): void;
  post(message: unknown): void;
}

/** The init message; `layout` holds the word indices of the control block (threads.ts `CONTROL`). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offset of the control block in the shared memory. */
  control: number;
  /** This worker's thread index (1..threads-1; the caller is thread 0). */
  thread: number;
  /** Kernel export names: a call's KERNEL word indexes this list. */
  kernels: string[];
  layout: { EPOCH: number; DONE: number; KERNEL: number; NARGS: number; ERROR: number; STOP: number; SLEEPERS: number; CALLER_SLEEPS: number; THREADS: number; SCRATCH_ARG: number; SCRATCH_BYTES: number; RANGES: number; ARGS_BYTE: number; MAX_ARGS: number; MESSAGE_BYTE: number; MESSAGE_BYTES: number };
  /** Checks of the epoch word before sleeping in Atomics.wait. */
  spinLimit: number;
}

export function workerMain(port: WorkerPort): void {
  port.onMessage((message) => {
    const init = message as WorkerInit;
    const L = init.layout;
    let fns: Array<(...args: number[]) => unknown>;
    try {
      const abort = (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`kernel aborted at line ${line}:${col}`);
      };
      const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory, abort } });
      const exports = instance.exports as Record<string, (...args: number[]) => unknown>;
      fns = init.kernels.map((name) => exports[name]);
    } catch (e) {
      port.post({ error: String((e as Error)?.message ?? e) });
      return;
    }
    port.post({ ready: true });

    // The control block never moves and lies inside the memory's first pages, so views made now stay valid after
    // any grow (a grown shared memory hands out a longer SharedArrayBuffer; old ones keep their length, never detach).
    const buffer = init.memory.buffer;
    const c = new Int32Array(buffer, init.control, L.MESSAGE_BYTE / 4);
    const a = new Float64Array(buffer, init.control + L.ARGS_BYTE, L.MAX_ARGS);
    const text = new Uint8Array(buffer, init.control + L.MESSAGE_BYTE, L.MESSAGE_BYTES);
    const t = init.thread;
    const args: number[] = [];
    let seen = Atomics.load(c, L.EPOCH);
    for (;;) {
      let spins = 0;
      while (Atomics.load(c, L.EPOCH) === seen) {
        if (++spins < init.spinLimit) continue;
        Atomics.add(c, L.SLEEPERS, 1);
        Atomics.wait(c, L.EPOCH, seen);
        Atomics.sub(c, L.SLEEPERS, 1);
        spins = 0;
      }
      seen = Atomics.load(c, L.EPOCH);
      if (Atomics.load(c, L.STOP)) return;
      const start = c[L.RANGES + 2 * t];
      const end = c[L.RANGES + 2 * t + 1];
      if (start < end) {
        const n = c[L.NARGS];
        args.length = n + 2;
        for (let i = 0; i < n; i++) args[i] = a[i];
        if (c[L.SCRATCH_ARG] >= 0) args[c[L.SCRATCH_ARG]] += t * c[L.SCRATCH_BYTES];
        args[n] = start;
        args[n + 1] = end;
        try {
          fns[c[L.KERNEL]].apply(null, args);
        } catch (e) {
          // The first failing thread writes its message; the caller throws it after the barrier.
          if (Atomics.compareExchange(c, L.ERROR, 0, t + 1) === 0) {
            const bytes = new TextEncoder().encode(`thread ${t}: ${String((e as Error)?.message ?? e)}`).subarray(0, L.MESSAGE_BYTES);
            text.fill(0);
            text.set(bytes);
          }
        }
      }
      if (Atomics.add(c, L.DONE, 1) === c[L.THREADS] - 2 && Atomics.load(c, L.CALLER_SLEEPS)) Atomics.notify(c, L.DONE);
    }
  });
}
