/**
 * What every decoder with a KV cache shares, whatever sits in front of it (TransformerLM; the encoder-decoder's
 * decoder): the cache of its one sequence, the beams' caches during beam search, and the bookkeeping of positions.
 * A subclass supplies `run`: the forward of some rows spread evenly over some caches, all at the same position.
 */
import { WeftError } from '../../errors.js';
import type { AttentionShape, KvLayer } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import { KvCache } from './attention.js';
import { BeamCaches } from './beam-caches.js';

/** Where one sequence's keys and values live, layer by layer. */
export type CacheOf = (layer: number) => KvLayer;

export abstract class CachedDecoder {
  abstract readonly config: { modelType: string; contextLength: number; vocabSize: number };
  protected readonly cache: KvCache;
  private beams: BeamCaches | null = null;
  protected disposed = false;

  constructor(
    readonly runtime: Runtime,
    protected readonly shape: AttentionShape,
    nLayers: number,
    capacity: number,
    /** Other per-context allocations the subclass makes next (e.g. its RoPE table), name → bytes. */
    alsoNeeds: Record<string, number> = {},
  ) {
    // Before anything is allocated or computed: a context of 1e8 positions must fail here, at once, not after the
    // host has built a RoPE table of gigabytes and grown memory it can never give back.
    runtime.heap.checkFits(`a context of ${capacity} positions`, { 'KV cache': 2 * nLayers * shape.nKvHeads * capacity * shape.headDim * 4, ...alsoNeeds });
    this.cache = new KvCache(runtime, nLayers, shape, capacity);
  }

  /**
   * Logits of `ids`, split evenly over `caches` (one sequence each, all at positions pos0…), storing their keys and
   * values there: every row's with `all`, else the last row (of the one sequence).
   */
  protected abstract run(ids: number[], pos0: number, caches: CacheOf[], all: boolean): Float32Array;

  get cacheLength(): number {
    return this.cache.length;
  }

  forward(ids: number[], options: { all?: boolean } = {}): Float32Array {
    this.checkLive();
    if (ids.length === 0) throw new WeftError('E_OPTION', 'forward: no token ids given');
    this.checkIds(ids, 'forward');
    const pos0 = this.cache.length;
    this.checkRoom(pos0, ids.length);
    const cache = this.cache;
    const logits = this.run(ids, pos0, [(l) => cache.layers[l]], options.all ?? false);
    cache.length = pos0 + ids.length;
    return logits;
  }

  beginBeams(n: number, maxLength: number): void {
    this.checkLive();
    this.endBeams();
    this.beams = new BeamCaches(this.runtime, this.shape, this.cache, n, maxLength);
  }

  stepBeams(parents: readonly number[], ids: readonly number[]): Float32Array {
    const beams = this.beams;
    if (!beams) throw new WeftError('E_OPTION', 'stepBeams before beginBeams');
    this.checkRoom(beams.length, 1);
    this.checkIds(ids, 'stepBeams');
    beams.reorder(parents);
    const logits = this.run([...ids], beams.length, ids.map((_, b) => beams.cacheOf(b)), true);
    beams.length++;
    return logits;
  }

  endBeams(): void {
    this.beams?.free();
    this.beams = null;
  }

  /** Forget cached positions ≥ n (keeps a shared prompt prefix between chat turns). */
  truncate(n: number): void {
    this.checkLive();
    if (!Number.isInteger(n) || n < 0) throw new WeftError('E_OPTION', `truncate: ${n} is not a position count`);
    this.cache.length = Math.min(this.cache.length, n);
  }

  reset(): void {
    this.truncate(0);
  }

  /** Frees the caches (the subclass frees its weights); true the first time, false when already disposed. */
  protected disposeCaches(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    this.endBeams();
    this.cache.free(this.runtime);
    return true;
  }

  protected checkIds(ids: readonly number[], what: string): void {
    const vocab = this.config.vocabSize;
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new WeftError('E_OPTION', `${what}: token id ${id} at index ${i} is outside the vocabulary [0, ${vocab})`);
    });
  }

  protected checkLive(): void {
    if (this.disposed) throw new WeftError('E_OPTION', `this ${this.config.modelType} model was disposed`);
  }

  private checkRoom(pos0: number, rows: number): void {
    const limit = this.config.contextLength;
    if (pos0 + rows > limit) {
      throw new WeftError(
        'E_CONTEXT',
        `${rows} new tokens after ${pos0} cached positions need ${pos0 + rows} positions, past the context length of ${limit} ` +
          `(a larger contextLength option, --context-length in the CLI, raises it up to the model's maximum)`,
      );
    }
  }
}
