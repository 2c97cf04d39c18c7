import { WeftError } from '../errors.js';

const PAGE = 65536;
/** wasm32 can address at most 65536 pages of 64 KiB: 4 GiB. */
export const MAX_PAGES = 65536;

/**
 * A first-fit allocator over the linear memory above the module's static data, with coalescing of free
 * neighbours. Long-lived blocks (weights for a model's life, KV caches per sequence) come from here; the
 * per-forward scratch arena is a block of its own (see `ScratchArena`). Blocks are 64-byte aligned, which
 * covers the 16-byte alignment SIMD loads like and keeps hot buffers on their own cache lines.
 *
 * The heap grows the memory when no free block fits; every grow invalidates the host's typed-array views,
 * which is why `Runtime` refreshes its views by checking `memory.buffer`.
 */
export class Heap {
  static readonly ALIGN = 64;
  /** Free blocks as [offset, size], sorted by offset. */
  private free: Array<[number, number]> = [];
  /** Live allocations: offset -> size. */
  private live = new Map<number, number>();
  private top: number; // end of the managed region (= memory size in bytes)

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    const start = alignUp(base, Heap.ALIGN);
    this.top = memory.buffer.byteLength;
    if (start < this.top) this.free.push([start, this.top - start]);
    else this.top = start; // grow() will extend from here
  }

  /** Allocate `bytes` (rounded up to the alignment); throws E_MEMORY past the 4 GiB wasm32 ceiling. */
  alloc(bytes: number, what = 'buffer'): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new WeftError('E_MEMORY', `invalid allocation size ${bytes} for ${what}`);
    const size = Math.max(Heap.ALIGN, alignUp(bytes, Heap.ALIGN));
    let i = this.free.findIndex(([, s]) => s >= size);
    if (i < 0) {
      this.grow(size);
      i = this.free.findIndex(([, s]) => s >= size);
    }
    const [off, s] = this.free[i];
    if (s === size) this.free.splice(i, 1);
    else this.free[i] = [off + size, s - size];
    this.live.set(off, size);
    return off;
  }

  /** Return a block to the heap. Freeing an unknown offset is a programming error. */
  release(offset: number): void {
    const size = this.live.get(offset);
    if (size === undefined) throw new WeftError('E_MEMORY', `release of offset ${offset}, which is not a live allocation`);
    this.live.delete(offset);
    let i = 0;
    while (i < this.free.length && this.free[i][0] < offset) i++;
    this.free.splice(i, 0, [offset, size]);
    // coalesce with the next, then the previous neighbour
    if (i + 1 < this.free.length && offset + size === this.free[i + 1][0]) {
      this.free[i][1] += this.free[i + 1][1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1][0] + this.free[i - 1][1] === offset) {
      this.free[i - 1][1] += this.free[i][1];
      this.free.splice(i, 1);
    }
  }

  /** Bytes in live allocations. */
  get usedBytes(): number {
    let n = 0;
    for (const s of this.live.values()) n += s;
    return n;
  }

  /**
   * Throws E_MEMORY, naming every part and its size, when allocations of `parts` (name → bytes) cannot fit in
   * what the 4 GiB ceiling leaves: pure arithmetic, so a request for far too much fails in microseconds instead of
   * after tables are computed and memory is grown (wasm memory never shrinks).
   */
  checkFits(what: string, parts: Record<string, number>): void {
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    const freeInside = this.free.reduce((n, [, s]) => n + s, 0);
    const available = freeInside + (MAX_PAGES * PAGE - this.top);
    if (Number.isFinite(total) && total <= available) return;
    const list = Object.entries(parts).map(([name, bytes]) => `${name} ${formatBytes(bytes)}`).join(', ');
    throw new WeftError('E_MEMORY', `${what} needs ${formatBytes(total)} (${list}) but only ${formatBytes(available)} of the 4 GiB wasm32 memory are free`);
  }

  /** Current size of the linear memory in bytes. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private grow(size: number): void {
    // Extend the last free block if it touches the top, else start a new one at the top.
    const last = this.free[this.free.length - 1];
    const tail = last && last[0] + last[1] === this.top ? last[1] : 0;
    const need = size - tail;
    const pagesNow = this.memory.buffer.byteLength / PAGE;
    // Grow by at least 1/8 of the current size so that many small allocations do not grow one page at a time.
    const pages = Math.max(Math.ceil(need / PAGE), Math.min(Math.ceil(pagesNow / 8), MAX_PAGES - pagesNow));
    if (pagesNow + Math.ceil(need / PAGE) > MAX_PAGES) {
      throw new WeftError(
        'E_MEMORY',
        `out of wasm memory: need ${size} more bytes but ${this.memoryBytes} of the 4 GiB wasm32 limit are in use ` +
          `(${this.usedBytes} bytes allocated)`,
      );
    }
    try {
      this.memory.grow(Math.min(pages, MAX_PAGES - pagesNow));
    } catch (e) {
      throw new WeftError('E_MEMORY', `the engine refused to grow wasm memory by ${pages} pages (${this.memoryBytes} bytes in use)`, { cause: e });
    }
    const newTop = this.memory.buffer.byteLength;
    if (tail) last[1] += newTop - this.top;
    else this.free.push([this.top, newTop - this.top]);
    this.top = newTop;
  }
}

/**
 * Per-forward temporaries: bump allocation in chunks taken from the heap, all released at once by `reset()`.
 * After a reset the chunks are merged into one of their total size, so steady-state forwards allocate nothing.
 */
export class ScratchArena {
  private chunks: Array<{ offset: number; size: number; used: number }> = [];

  constructor(private readonly heap: Heap) {}

  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1), Heap.ALIGN);
    let c = this.chunks[this.chunks.length - 1];
    if (!c || c.used + size > c.size) {
      const chunkSize = Math.max(size, 1 << 20);
      c = { offset: this.heap.alloc(chunkSize, 'scratch'), size: chunkSize, used: 0 };
      this.chunks.push(c);
    }
    const off = c.offset + c.used;
    c.used += size;
    return off;
  }

  /** Forget every scratch allocation (call at the start of each forward). */
  reset(): void {
    if (this.chunks.length > 1) {
      const total = this.chunks.reduce((n, c) => n + c.size, 0);
      for (const c of this.chunks) this.heap.release(c.offset);
      this.chunks = [{ offset: this.heap.alloc(total, 'scratch'), size: total, used: 0 }];
    } else if (this.chunks.length === 1) this.chunks[0].used = 0;
  }

  /** Bytes the arena holds from the heap (kept between forwards, so steady decoding allocates nothing). */
  get heldBytes(): number {
    return this.chunks.reduce((n, c) => n + c.size, 0);
  }

  /** Give every chunk back to the heap. */
  dispose(): void {
    for (const c of this.chunks) this.heap.release(c.offset);
    this.chunks = [];
  }
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} bytes`;
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
