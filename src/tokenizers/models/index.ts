import { WeftError } from '../../errors.js';
import { Bpe } from './bpe.js';
import type { TokenizerModel } from './model.js';
import { Unigram } from './unigram.js';
import { WordPiece } from './wordpiece.js';

export type { TokenizerModel } from './model.js';

type Json = Record<string, unknown>;

function vocabMapFromJson(vocab: unknown, what: string): Map<string, number> {
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) throw new WeftError('E_TOKENIZER', `${what}: "vocab" must be an object of token → id`);
  const map = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new WeftError('E_TOKENIZER', `${what}: vocab entry ${JSON.stringify(token)} has invalid id ${JSON.stringify(id)}`);
    map.set(token, id as number);
  }
  return map;
}

function mergesFromJson(merges: unknown, what: string): Array<[string, string]> {
  if (merges === undefined || merges === null) return [];
  if (!Array.isArray(merges)) throw new WeftError('E_TOKENIZER', `${what}: "merges" must be an array`);
  return merges.map((m, i): [string, string] => {
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    if (typeof m === 'string') {
      const space = m.indexOf(' ', 1); // a merge line is "left right"; a left part may itself be a space
      if (space > 0 && m.indexOf(' ', space + 1) === -1) return [m.slice(0, space), m.slice(space + 1)];
    }
    throw new WeftError('E_TOKENIZER', `${what}: merges[${i}] ${JSON.stringify(m)} is not "left right" or [left, right]`);
  });
}

/** Builds the model of a tokenizer.json `model` entry. */
export function modelFromJson(json: unknown, what = 'model'): TokenizerModel {
  const j = (json ?? {}) as Json;
  const type = j.type ?? (j.merges ? 'BPE' : undefined); // very old files omit the type of a BPE model
  switch (type) {
    case 'BPE':
      return new Bpe({
        vocab: vocabMapFromJson(j.vocab, `${what}.BPE`),
        merges: mergesFromJson(j.merges, `${what}.BPE`),
        unkToken: (j.unk_token as string | null | undefined) ?? null,
        continuingSubwordPrefix: (j.continuing_subword_prefix as string | null | undefined) ?? null,
        endOfWordSuffix: (j.end_of_word_suffix as string | null | undefined) ?? null,
        fuseUnk: j.fuse_unk === true,
        byteFallback: j.byte_fallback === true,
        ignoreMerges: j.ignore_merges === true,
      });
    case 'WordPiece':
      return new WordPiece({
        vocab: vocabMapFromJson(j.vocab, `${what}.WordPiece`),
        unkToken: String(j.unk_token ?? '[UNK]'),
        continuingSubwordPrefix: String(j.continuing_subword_prefix ?? '##'),
        maxInputCharsPerWord: typeof j.max_input_chars_per_word === 'number' ? j.max_input_chars_per_word : 100,
      });
    case 'Unigram': {
      if (!Array.isArray(j.vocab)) throw new WeftError('E_TOKENIZER', `${what}.Unigram: "vocab" must be a list of [piece, score]`);
      const pieces = j.vocab.map((entry, i) => {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
          throw new WeftError('E_TOKENIZER', `${what}.Unigram: vocab[${i}] is not [piece, score]`);
        }
        return { token: entry[0], score: entry[1] };
      });
      return new Unigram({ pieces, unkId: typeof j.unk_id === 'number' ? j.unk_id : 0, byteFallback: j.byte_fallback === true });
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: model type ${JSON.stringify(j.type)} is not supported`);
  }
}
