import type { PostProcessor } from './post-processor.js';

export class PostProcessorSequence implements PostProcessor {
  constructor(private readonly processors: PostProcessor[]) {}
  process(ids: number[]): number[] {
    for (const p of this.processors) ids = p.process(ids);
    return ids;
  }
}
