/**
 * Text and token classification with an encoder's head (`…ForSequenceClassification`, `…ForTokenClassification`):
 *
 *   texts ─ tokens (with character offsets) ─ padded batches ─ encode(head) ─ logits
 *     sequence head: softmax (single-label) or sigmoid (multi-label) over the labels, per text
 *     token head:    per token, then consecutive tokens of one entity merged into a span of the original text
 */
import { WeftError } from '../errors.js';
import type { HeadInfo } from '../models/model.js';
import { forEachBatch, tokensOf, type EmbedOptions, type EncoderTask, type TokenInput } from './embed.js';

export interface LabelScore {
  label: string;
  score: number;
}

/** A sequence head's answer for one text: the best label, and every label's score, best first. */
export interface Classification {
  label: string;
  score: number;
  scores: LabelScore[];
}

/** A token head's entity: label (B-/I- prefix removed), mean score of its tokens, the span [start, end) of the text. */
export interface Entity {
  entity: string;
  score: number;
  start: number;
  end: number;
  text: string;
}

export type ClassifyOptions = Pick<EmbedOptions, 'truncation' | 'onTruncate' | 'batchSize'>;

/**
 * One `Classification` per text (sequence heads) or one list of entities per text (token heads, which need the
 * texts for character offsets). Token ids are used as given, as in `embed`.
 */
export async function classify(lm: EncoderTask, texts: string[] | TokenInput, options: ClassifyOptions = {}): Promise<Classification[] | Entity[][]> {
  const head = lm.model.head;
  if (!head) throw new WeftError('E_UNSUPPORTED', `this ${lm.model.config.modelType} checkpoint has no classification head (config.json architectures: …ForSequenceClassification or …ForTokenClassification)`);
  if (head.kind === 'sequence') {
    const { ids, tokenTypes } = tokensOf(lm, texts, options);
    const out: Classification[] = new Array<Classification>(ids.length);
    const n = head.labels.length;
    await forEachBatch(lm.model, ids, tokenTypes, options.batchSize, { head: true }, (index, result, row) => {
      out[index] = rank(head, scoresOf(head, result.logits!.subarray(row * n, (row + 1) * n)));
    });
    return out;
  }
  if (!Array.isArray(texts)) throw new WeftError('E_OPTION', 'token classification takes texts (for character offsets), not token ids');
  return classifyTokens(lm, texts, head, options);
}

async function classifyTokens(lm: EncoderTask, texts: string[], head: HeadInfo, options: ClassifyOptions): Promise<Entity[][]> {
  const tokenizer = lm.tokenizer;
  if (!tokenizer) throw new WeftError('E_MISSING', 'token classification needs the model\'s tokenizer (for character offsets)');
  const max = lm.model.config.maxPositions;
  const encoded = texts.map((text, i) => {
    const e = tokenizer.encodeWithOffsets(text);
    if (e.ids.length > max) {
      if (options.truncation === false) throw new WeftError('E_CONTEXT', `text ${i} has ${e.ids.length} tokens, past this model's ${max} positions`);
      // Cut the text's own tokens, keep the trailing special token(s) (their offset is null).
      let tail = 0;
      while (tail < e.ids.length && e.offsets[e.ids.length - 1 - tail] === null) tail++;
      const keep = (xs: unknown[]) => [...xs.slice(0, max - tail), ...xs.slice(xs.length - tail)];
      options.onTruncate?.({ index: i, tokens: e.ids.length, kept: max });
      return { ids: keep(e.ids) as number[], offsets: keep(e.offsets) as Array<[number, number] | null> };
    }
    return e;
  });
  const n = head.labels.length;
  const out: Entity[][] = new Array<Entity[]>(texts.length);
  await forEachBatch(lm.model, encoded.map((e) => e.ids), null, options.batchSize, { head: true }, (index, result, row) => {
    const T = result.hidden.length;
    const entities: Entity[] = [];
    const { offsets } = encoded[index];
    offsets.forEach((span, t) => {
      if (!span) return; // special tokens label nothing
      const best = rank(head, scoresOf(head, result.logits!.subarray((row * T + t) * n, (row * T + t + 1) * n)));
      if (best.label === 'O') return;
      const name = best.label.replace(/^[BI]-/, '');
      const last = entities[entities.length - 1] as (Entity & { count: number }) | undefined;
      // I- continues the entity before it; so does a word piece glued to it (no gap between the spans).
      const continues = last && last.entity === name && (best.label.startsWith('I-') || span[0] === last.end);
      if (continues) {
        last.score = (last.score * last.count + best.score) / (last.count + 1);
        last.count++;
        last.end = span[1];
      } else {
        entities.push({ entity: name, score: best.score, start: span[0], end: span[1], text: '', count: 1 } as Entity & { count: number });
      }
    });
    out[index] = entities.map(({ entity, score, start, end }) => ({ entity, score, start, end, text: texts[index].slice(start, end) }));
  });
  return out;
}

/** Probabilities from logits: softmax for single-label heads, sigmoid per label for multi-label, raw for regression. */
function scoresOf(head: HeadInfo, logits: Float32Array): number[] {
  const xs = Array.from(logits);
  if (head.problemType === 'multi_label_classification') return xs.map((x) => 1 / (1 + Math.exp(-x)));
  if (head.problemType === 'regression') return xs;
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

function rank(head: HeadInfo, scores: number[]): Classification {
  const all = scores.map((score, i) => ({ label: head.labels[i], score })).sort((a, b) => b.score - a.score);
  return { label: all[0].label, score: all[0].score, scores: all };
}
