import { WeftError } from '../errors.js';
import { Heap, ScratchArena, MAX_PAGES } from './heap.js';
import type { Kernels } from './kernels.js';
import { DTYPE_BYTES, numel, tensorBytes, type DType, type Layout, type Tensor } from './tensor.js';
import {
  CONTROL_BYTES,
  detectCores,
  PARALLEL_MIN_WORK,
  requestedThreads,
  sharedMemoryProblem,
  ThreadPool,
  warnSingleThreaded,
  type ParallelCall,
  type ThreadsOption,
} from './threads.js';
import { wasmUrl, type WasmVariant } from './wasm-url.js';

/** Where the kernel module comes from: bytes, a fetch `Response` (streaming compile), or a compiled module. */
export type WasmSource = BufferSource | Response | Promise<Response> | WebAssembly.Module;

/**
 * The builds of the kernel module: plain SIMD128 and relaxed SIMD, each with a private memory or (for threads) an
 * imported shared one. The code is the same; the shared builds differ only in declaring their memory shared.
 */
export interface WasmBuilds {
  simd: WasmSource;
  relaxed?: WasmSource;
  shared?: WasmSource;
  sharedRelaxed?: WasmSource;
}

export interface RuntimeOptions {
  /**
   * The kernel module. Either one source, used as is (on one thread), or the builds, of which the relaxed-SIMD
   * ones are taken when the engine supports relaxed SIMD and the shared ones when threads run. Default: the builds
   * in `build/` beside the package (Node reads the files; browsers fetch them relative to this module).
   * Cloudflare Workers must pass a precompiled `WebAssembly.Module` (they forbid compiling from bytes).
   */
  wasm?: WasmSource | WasmBuilds;
  /** 'auto' (default) detects relaxed SIMD; false forces the plain SIMD build. */
  relaxedSimd?: 'auto' | boolean;
  /** Initial memory in bytes (grows on demand up to 4 GiB). */
  initialBytes?: number;
  /**
   * Threads the kernels run on: 'auto' (the default, or the WEFT_THREADS environment variable in Node) takes the
   * platform's logical cores (at most AUTO_MAX_THREADS), or a count. Threads need a shared memory: in a page, the
   * headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp. Without it the
   * runtime runs on one thread and warns once. `runtime.threads` says what runs.
   */
  threads?: ThreadsOption;
  /**
   * Kernel calls with less work than this (multiply-adds) run on one thread (default PARALLEL_MIN_WORK, or the
   * WEFT_MIN_SPLIT_WORK environment variable in Node). 0 splits every call: the thread-count checks use it.
   */
  minSplitWork?: number;
}

/**
 * The smallest module that uses a relaxed-SIMD instruction (f32x4.relaxed_madd): engines that validate it run
 * the relaxed build. Node 20 validates it only with --experimental-wasm-relaxed-simd.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // body: relaxed_madd
]);

export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/**
 * One wasm instance and the linear memory it shares with the host. All model code reaches the kernels through
 * `kernels` and the memory through the typed-array getters, which are refreshed whenever the memory grew.
 */
export class Runtime {
  readonly heap: Heap;
  readonly scratch: ScratchArena;
  private views: { buffer: ArrayBufferLike; u8: Uint8Array; u16: Uint16Array; i32: Int32Array; f32: Float32Array } | null = null;
  private disposed = false;
  /** The workers, when more than one thread runs. */
  private pool: ThreadPool | null = null;
  private minSplitWork = PARALLEL_MIN_WORK;

  private constructor(
    readonly memory: WebAssembly.Memory,
    readonly kernels: Kernels,
    /** True when the relaxed-SIMD build is running. */
    readonly relaxedSimd: boolean,
  ) {
    this.heap = new Heap(memory, kernels.heapBase());
    this.scratch = new ScratchArena(this.heap);
  }

  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    await detectCores();
    let threads = requestedThreads(options.threads);
    const wantRelaxed = options.relaxedSimd === undefined || options.relaxedSimd === 'auto' ? relaxedSimdSupported() : options.relaxedSimd;
    const w = options.wasm;
    const builds = w && typeof w === 'object' && 'simd' in w ? w : null;
    if (threads > 1) {
      const problem =
        sharedMemoryProblem() ??
        (w !== undefined && !builds?.shared ? 'the wasm option gives no shared-memory build (WasmBuilds.shared), which threads need' : null);
      if (problem) {
        warnSingleThreaded(threads, problem);
        threads = 1;
      }
    }
    const shared = threads > 1;
    let source: WasmSource;
    if (builds) {
      const relaxedBuild = shared ? builds.sharedRelaxed : builds.relaxed;
      source = wantRelaxed && relaxedBuild !== undefined ? relaxedBuild : shared ? builds.shared! : builds.simd;
    } else {
      source = w ?? (await defaultWasm(shared ? (wantRelaxed ? 'shared-relaxed' : 'shared') : wantRelaxed ? 'relaxed' : 'simd'));
    }
    const pages = Math.min(MAX_PAGES, Math.max(1, Math.ceil((options.initialBytes ?? 1 << 24) / 65536)));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared });
    const imports = {
      env: {
        memory,
        abort: (_msg: number, _file: number, line: number, col: number) => {
          throw new WeftError('E_WASM', `kernel aborted at line ${line}:${col}`);
        },
      },
    };
    let module: WebAssembly.Module;
    let instance: WebAssembly.Instance;
    try {
      module = await compile(await source);
      instance = await WebAssembly.instantiate(module, imports);
    } catch (e) {
      throw new WeftError('E_WASM', `could not instantiate the weft kernel module${shared ? ' (shared-memory build)' : ''}: ${(e as Error).message}`, { cause: e });
    }
    const kernels = instance.exports as unknown as Kernels;
    if (typeof kernels.relaxedSimdBuild !== 'function') throw new WeftError('E_WASM', 'the kernel module does not export relaxedSimdBuild: a build older than this host; run `npm run build`');
    // What runs is what the module was built as, not what was asked for or what the engine could do.
    const rt = new Runtime(memory, kernels, kernels.relaxedSimdBuild() === 1);
    const envMinWork = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WEFT_MIN_SPLIT_WORK;
    rt.minSplitWork = options.minSplitWork ?? (envMinWork ? Number(envMinWork) : PARALLEL_MIN_WORK);
    if (!(rt.minSplitWork >= 0)) throw new WeftError('E_OPTION', `option minSplitWork (WEFT_MIN_SPLIT_WORK) must be a number ≥ 0, got ${options.minSplitWork ?? envMinWork}`);
    if (shared) {
      // The control block is the heap's first allocation: it lies in the first pages and never moves.
      const control = rt.heap.alloc(CONTROL_BYTES, 'the thread control block');
      rt.u8.fill(0, control, control + CONTROL_BYTES);
      try {
        rt.pool = await ThreadPool.start(threads, module, memory, control, rt.kernels);
      } catch (e) {
        rt.heap.release(control);
        warnSingleThreaded(threads, (e as Error).message);
      }
    }
    return rt;
  }

  /** Threads the kernels run on (1 without a pool). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /**
   * The dispatcher every kernel wrapper calls: runs `call.kernel` over [call.start, call.end), split over the
   * threads when there are several and the call is big enough to gain (see ParallelCall), else directly.
   */
  parallel(call: ParallelCall): void {
    this.checkLive();
    if (this.pool && call.work >= this.minSplitWork) this.pool.run(call);
    else (this.kernels[call.kernel] as (...args: number[]) => unknown)(...call.args, call.start, call.end);
  }

  // ---- typed-array views over the whole memory (valid until the next grow; always read them through these) ----
  private refresh() {
    const buffer = this.memory.buffer;
    if (this.views?.buffer !== buffer) {
      this.views = { buffer, u8: new Uint8Array(buffer), u16: new Uint16Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) };
    }
    return this.views;
  }
  get u8(): Uint8Array {
    return this.refresh().u8;
  }
  get u16(): Uint16Array {
    return this.refresh().u16;
  }
  get i32(): Int32Array {
    return this.refresh().i32;
  }
  get f32(): Float32Array {
    return this.refresh().f32;
  }

  // ---- tensors ----
  /** A long-lived tensor (weights, KV cache) from the heap; give it back with `free`. */
  alloc(dtype: DType, shape: readonly number[], layout: Layout = 'rows', byteLength = tensorBytes(dtype, shape)): Tensor {
    this.checkLive();
    return { dtype, shape: [...shape], layout, byteLength, offset: this.heap.alloc(byteLength, `tensor [${shape.join('×')}]`) };
  }

  /** A temporary for this forward only: valid until the next `scratch.reset()`. */
  temp(dtype: DType, shape: readonly number[]): Tensor {
    this.checkLive();
    const byteLength = tensorBytes(dtype, shape);
    return { dtype, shape: [...shape], layout: 'rows', byteLength, offset: this.scratch.alloc(byteLength) };
  }

  free(t: Tensor): void {
    this.heap.release(t.offset);
  }

  /** A live f32 view of a tensor's elements (invalid after the memory grows). */
  f32View(t: Tensor): Float32Array {
    return new Float32Array(this.memory.buffer, t.offset, t.byteLength / 4);
  }

  /** Copy host data into a tensor. */
  write(t: Tensor, data: ArrayBufferView): void {
    if (data.byteLength > t.byteLength) throw new WeftError('E_MEMORY', `write of ${data.byteLength} bytes into a tensor of ${t.byteLength}`);
    this.u8.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), t.offset);
  }

  /** Copy a f32 tensor out of wasm memory. */
  readF32(t: Tensor): Float32Array {
    return this.f32View(t).slice();
  }

  /** Release everything. The runtime is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.pool?.dispose();
    this.scratch.dispose();
    this.disposed = true;
    this.views = null;
  }

  private checkLive() {
    if (this.disposed) throw new WeftError('E_OPTION', 'this Runtime was disposed');
  }
}

async function compile(source: BufferSource | Response | WebAssembly.Module): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new Error(`HTTP ${source.status} fetching ${source.url}`);
    if (typeof WebAssembly.compileStreaming === 'function' && source.headers.get('content-type')?.startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(source);
    }
    return WebAssembly.compile(await source.arrayBuffer());
  }
  return WebAssembly.compile(source as BufferSource);
}

/** The build shipped with the package: read from disk in Node, fetched elsewhere. */
async function defaultWasm(variant: WasmVariant): Promise<BufferSource | Response> {
  const url = wasmUrl(variant);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(url);
    } catch (e) {
      throw new WeftError('E_WASM', `kernel module not found at ${url.pathname}: run \`npm run build\``, { cause: e });
    }
  }
  return fetch(url);
}
