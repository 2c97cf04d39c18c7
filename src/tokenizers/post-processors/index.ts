import { WeftError } from '../../errors.js';
import type { PostProcessor } from './post-processor.js';
import { PostProcessorSequence } from './sequence.js';
import { TemplateProcessor, type TemplatePiece } from './template.js';

export type { PostProcessor } from './post-processor.js';
export { TemplateProcessor, type TemplatePiece } from './template.js';

type Json = Record<string, unknown>;

/** `[token, id]` of BertProcessing / RobertaProcessing. */
function tokenIdPair(value: unknown, what: string): number {
  if (Array.isArray(value) && typeof value[1] === 'number') return value[1];
  throw new WeftError('E_TOKENIZER', `${what} must be [token, id], got ${JSON.stringify(value)}`);
}

function templateFromJson(j: Json, what: string): TemplateProcessor {
  if (!Array.isArray(j.single)) throw new WeftError('E_TOKENIZER', `${what}.TemplateProcessing: "single" must be an array`);
  const specials = (j.special_tokens ?? {}) as Record<string, { ids?: unknown } | null>;
  if (typeof specials !== 'object' || specials === null) throw new WeftError('E_TOKENIZER', `${what}.TemplateProcessing: "special_tokens" must be an object`);
  const pieces = j.single.map((item: unknown, i): TemplatePiece => {
    if (typeof item !== 'object' || item === null) {
      throw new WeftError('E_TOKENIZER', `${what}.TemplateProcessing: single[${i}] is ${JSON.stringify(item)}, not {"Sequence": …} or {"SpecialToken": …}`);
    }
    const it = item as { Sequence?: unknown; SpecialToken?: { id?: unknown } | null };
    if (it.Sequence) return 'sequence';
    const name = it.SpecialToken?.id;
    const ids = typeof name === 'string' && Object.hasOwn(specials, name) ? specials[name]?.ids : undefined;
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x))) {
      throw new WeftError('E_TOKENIZER', `${what}.TemplateProcessing: single[${i}] names special token ${JSON.stringify(name)} without ids in "special_tokens"`);
    }
    return { specialIds: ids as number[] };
  });
  return new TemplateProcessor(pieces);
}

/** Builds the post-processor of a tokenizer.json `post_processor` entry (null, or ByteLevel → none: ids unchanged). */
export function postProcessorFromJson(json: unknown, what = 'post_processor'): PostProcessor | null {
  if (json === null || json === undefined) return null;
  const j = json as Json;
  switch (j.type) {
    case 'TemplateProcessing':
      return templateFromJson(j, what);
    case 'BertProcessing':
    case 'RobertaProcessing':
      return new TemplateProcessor([
        { specialIds: [tokenIdPair(j.cls, `${what}.cls`)] },
        'sequence',
        { specialIds: [tokenIdPair(j.sep, `${what}.sep`)] },
      ]);
    case 'ByteLevel':
      return null; // it only adjusts offsets
    case 'Sequence': {
      if (!Array.isArray(j.processors)) throw new WeftError('E_TOKENIZER', `${what}.Sequence: "processors" must be an array`);
      const parts = j.processors.map((p, i) => postProcessorFromJson(p, `${what}.processors[${i}]`));
      return new PostProcessorSequence(parts.filter((p): p is PostProcessor => p !== null));
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: post-processor type ${JSON.stringify(j.type)} is not supported`);
  }
}
