/** A post-processor adds the special tokens of a single sequence (only when `add_special_tokens` is on). */
export interface PostProcessor {
  process(ids: number[]): number[];
}
