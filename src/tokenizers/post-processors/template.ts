import type { PostProcessor } from './post-processor.js';

/** One element of a template: the ids of a special token, or the sequence itself. */
export type TemplatePiece = { specialIds: number[] } | 'sequence';

/**
 * TemplateProcessing (`[CLS] $A [SEP]`, `<s> $A`, `$A </s>`, …). BertProcessing and RobertaProcessing are built as
 * templates by the factory, since for ids they are exactly that.
 */
export class TemplateProcessor implements PostProcessor {
  constructor(readonly pieces: TemplatePiece[]) {}
  process(ids: number[]): number[] {
    const out: number[] = [];
    for (const piece of this.pieces) {
      if (piece === 'sequence') for (const id of ids) out.push(id);
      else for (const id of piece.specialIds) out.push(id);
    }
    return out;
  }
}
