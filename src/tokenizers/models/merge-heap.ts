/**
 * A binary min-heap of candidate merges, ordered by `priority` then by `position` (leftmost first). BPE pushes
 * (rank, left symbol) pairs, SentencePiece pushes (-score, left symbol); stale entries are skipped when popped.
 * This keeps a long word at O(n log n) where the textbook "rescan for the best pair" loop is O(n²).
 */
export class MergeHeap {
  private priorities: number[] = [];
  private positions: number[] = [];

  get size(): number {
    return this.priorities.length;
  }

  clear(): void {
    this.priorities.length = 0;
    this.positions.length = 0;
  }

  push(priority: number, position: number): void {
    const pr = this.priorities;
    const po = this.positions;
    let i = pr.length;
    pr.push(priority);
    po.push(position);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(priority, position, pr[parent]!, po[parent]!)) break;
      pr[i] = pr[parent]!;
      po[i] = po[parent]!;
      i = parent;
    }
    pr[i] = priority;
    po[i] = position;
  }

  /** Removes the top entry; `topPriority`/`topPosition` must be read before. */
  pop(): void {
    const pr = this.priorities;
    const po = this.positions;
    const lastPriority = pr.pop()!;
    const lastPosition = po.pop()!;
    const n = pr.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(pr[child + 1]!, po[child + 1]!, pr[child]!, po[child]!)) child++;
      if (!this.less(pr[child]!, po[child]!, lastPriority, lastPosition)) break;
      pr[i] = pr[child]!;
      po[i] = po[child]!;
      i = child;
    }
    pr[i] = lastPriority;
    po[i] = lastPosition;
  }

  get topPriority(): number {
    return this.priorities[0]!;
  }

  get topPosition(): number {
    return this.positions[0]!;
  }

  private less(p1: number, q1: number, p2: number, q2: number): boolean {
    return p1 < p2 || (p1 === p2 && q1 < q2);
  }
}
