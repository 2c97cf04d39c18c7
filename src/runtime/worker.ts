/**
 * The body of every pool worker: instantiate the kernel module on the shared memory, then claim and run chunks of
 * the kernel calls the caller publishes in the control block (threads.ts explains the protocol), until told to stop.
 *
 *   init message { module, memory, control, thread, kernels, layout }  →  instantiate, reply 'ready'
 *   loop:  read CLAIM = (epoch, next chunk); nothing left → spin SPIN_LIMIT checks, then Atomics.wait on CLAIM
 *          read the call's fields; CAS CLAIM to (epoch, next + 1), or start over if it moved
 *          run kernels[KERNEL](args…, chunk range); Atomics.add(COMPLETED) (wake the caller if it sleeps)
 *
 * threads.ts spawns it from this function's source text (a Node `eval` worker, a Blob URL in browsers), so it must
 * not refer to anything outside itself: the control-block layout comes in the init message. That keeps one
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
  layout: { CLAIM: number; COMPLETED: number; KERNEL: number; NARGS: number; ERROR: number; STOP: number; SLEEPERS: number; CALLER_SLEEPS: number; CHUNKS: number; SCRATCH_ARG: number; SCRATCH_BYTES: number; RANGES: number; ARGS_BYTE: number; MAX_ARGS: number; MESSAGE_BYTE: number; MESSAGE_BYTES: number };
  /** Checks of the claim word before sleeping in Atomics.wait. */
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
    const chunks = c[L.CHUNKS]; // fixed for the pool's life
    const args: number[] = [];
    for (;;) {
      const claim = Atomics.load(c, L.CLAIM);
      if (Atomics.load(c, L.STOP)) return;
      const k = claim & 0xff;
      if (k >= chunks) {
        // nothing to claim: wait for the next call
        let spins = 0;
        while (Atomics.load(c, L.CLAIM) === claim) {
          if (++spins < init.spinLimit) continue;
          Atomics.add(c, L.SLEEPERS, 1);
          Atomics.wait(c, L.CLAIM, claim);
          Atomics.sub(c, L.SLEEPERS, 1);
          spins = 0;
        }
        continue;
      }
      // The call's fields, then the claim: a successful CAS proves they were those of this epoch.
      const n = c[L.NARGS];
      args.length = n + 2;
      for (let i = 0; i < n; i++) args[i] = a[i];
      const scratchArg = c[L.SCRATCH_ARG];
      if (scratchArg >= 0) args[scratchArg] += t * c[L.SCRATCH_BYTES];
      args[n] = c[L.RANGES + 2 * k];
      args[n + 1] = c[L.RANGES + 2 * k + 1];
      const fn = fns[c[L.KERNEL]];
      if (Atomics.compareExchange(c, L.CLAIM, claim, claim + 1) !== claim) continue;
      if (args[n] < args[n + 1]) {
        try {
          fn.apply(null, args);
        } catch (e) {
          // The first failing thread writes its message; the caller throws it once the call is complete.
          if (Atomics.compareExchange(c, L.ERROR, 0, t + 1) === 0) {
            text.fill(0);
            text.set(new TextEncoder().encode(`thread ${t}: ${String((e as Error)?.message ?? e)}`).subarray(0, L.MESSAGE_BYTES));
          }
        }
      }
      if (Atomics.add(c, L.COMPLETED, 1) === chunks - 1 && Atomics.load(c, L.CALLER_SLEEPS)) Atomics.notify(c, L.COMPLETED);
    }
  });
}
