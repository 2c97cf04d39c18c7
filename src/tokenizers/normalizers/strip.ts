import type { Normalizer } from './normalizer.js';

/** Removes White_Space at the left and/or right end. */
export class Strip implements Normalizer {
  constructor(
    private readonly left: boolean,
    private readonly right: boolean,
  ) {}
  normalize(text: string): string {
    if (this.left) text = text.replace(/^\p{White_Space}+/u, '');
    if (this.right) text = text.replace(/\p{White_Space}+$/u, '');
    return text;
  }
}
