/**
 * One self-attention KV cache per beam, reordered between steps without copying the whole cache set.
 *
 * After a beam-search step, beam b continues beam parents[b]. HF reorders every layer's cache with index_select,
 * a full copy per step. Here a beam is a slot (a KvCache); the first child of a parent takes over the parent's slot
 * as it is, and only the further children of a parent with several get a copy of its positions [0, length), into a
 * slot whose beam had no child. A step in which every beam keeps its own line copies nothing.
 *
 * Beam 0 starts in the model's own cache (which holds the prompt), so opening the beams copies nothing either;
 * every slot shares the prompt's positions, so after the search the model's cache still holds the prompt there.
 */
import { WeftError } from '../../errors.js';
import type { AttentionShape, KvLayer } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import { KvCache } from './attention.js';

export class BeamCaches {
  /** slots[b]: the cache of beam b. */
  private slots: KvCache[];
  /** Caches this object allocated (the model's own cache is borrowed, never freed here). */
  private readonly owned: KvCache[] = [];
  /** Positions every beam holds. */
  length: number;
  /** Bytes copied by `reorder` since `open` (for the benchmark and the test of the no-copy path). */
  copiedBytes = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly shape: AttentionShape,
    base: KvCache,
    beams: number,
    /** Positions the beams will reach at most. */
    capacity: number,
  ) {
    if (capacity > base.capacity) {
      throw new WeftError('E_CONTEXT', `beam search needs ${capacity} positions, past the context length of ${base.capacity} (a larger contextLength option raises it)`);
    }
    this.length = base.length;
    this.slots = [base];
    try {
      for (let b = 1; b < beams; b++) {
        const c = new KvCache(rt, base.layers.length, shape, capacity);
        this.owned.push(c);
        this.slots.push(c);
      }
    } catch (e) {
      this.free();
      throw e;
    }
    // Every beam starts as a copy of beam 0, made lazily: the first reorder has all parents 0.
    for (let b = 1; b < beams; b++) this.slots[b] = base;
  }

  /** What the attention plan needs for beam b. */
  cacheOf(b: number): (layer: number) => KvLayer {
    const slot = this.slots[b];
    return (layer) => slot.layers[layer];
  }

  /** Beam b becomes a copy of beam parents[b] (positions [0, length)). */
  reorder(parents: readonly number[]): void {
    const old = this.slots;
    const next: (KvCache | null)[] = parents.map(() => null);
    const taken = new Set<KvCache>();
    parents.forEach((p, b) => {
      if (!taken.has(old[p])) {
        next[b] = old[p];
        taken.add(old[p]);
      }
    });
    const free = [...new Set([...old, ...this.owned])].filter((c) => !taken.has(c));
    parents.forEach((p, b) => {
      if (next[b]) return;
      const slot = free.pop();
      if (!slot) throw new WeftError('E_OPTION', 'beam caches: more beams than slots');
      this.copy(old[p], slot);
      next[b] = slot;
    });
    this.slots = next as KvCache[];
  }

  /** Frees the slots this object allocated. */
  free(): void {
    for (const c of this.owned) c.free(this.rt);
    this.owned.length = 0;
  }

  /** dst positions [0, length) := src's, every layer and head (the two may differ in capacity). */
  private copy(src: KvCache, dst: KvCache): void {
    const { nKvHeads, headDim } = this.shape;
    const bytes = this.length * headDim * 4;
    const u8 = this.rt.u8;
    src.layers.forEach((s, l) => {
      const d = dst.layers[l];
      for (let h = 0; h < nKvHeads; h++) {
        const from = h * s.capacity * headDim * 4;
        const to = h * d.capacity * headDim * 4;
        u8.copyWithin(d.keys.offset + to, s.keys.offset + from, s.keys.offset + from + bytes);
        u8.copyWithin(d.values.offset + to, s.values.offset + from, s.values.offset + from + bytes);
      }
    });
    this.copiedBytes += 2 * src.layers.length * nKvHeads * bytes;
  }
}
