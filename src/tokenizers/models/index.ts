import { WeftError } from '../../errors.js';
import { Bpe } from './bpe.js';
import { maxVocabId, type TokenizerModel } from './model.js';
import { Unigram } from './unigram.js';
import { WordPiece } from './wordpiece.js';

export type { TokenizerModel } from './model.js';

type Json = Record<string, unknown>;

/**
 * token → id. Ids index the model's embedding rows, so they must be dense: every id below the number of entries
 * plus `spare` (ids that added tokens may fill). A negative, fractional, huge or 2^53 id is refused here, not
 * passed on to a model that cannot have it.
 */
function vocabMapFromJson(vocab: unknown, what: string, spare: number): Map<string, number> {
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) throw new WeftError('E_TOKENIZER', `${what}: "vocab" must be an object of token → id`);
  const entries = Object.entries(vocab);
  const limit = maxVocabId(entries.length + spare) + 1;
  const map = new Map<string, number>();
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= limit) {
      throw new WeftError('E_TOKENIZER', `${what}: vocab entry ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not an integer in [0, ${limit}) for a vocabulary of ${entries.length} entries`);
    }
    map.set(token, id as number);
  }
  return map;
}

/** The Unigram `unk_id`: absent → 0 (SentencePiece's default), else an integer id of the vocabulary. */
function unkIdFromJson(value: unknown, size: number, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= size) {
    throw new WeftError('E_TOKENIZER', `${what}: unk_id ${JSON.stringify(value)} is not an id of the vocabulary [0, ${size})`);
  }
  return value;
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

/** Throws unless every named flag of `j` is absent, null or a boolean (a Rust `bool`: 1.5 or "yes" are not). */
function checkFlags(j: Json, what: string, flags: string[]): void {
  for (const f of flags) if (j[f] !== undefined && j[f] !== null && typeof j[f] !== 'boolean') throw new WeftError('E_TOKENIZER', `${what}: "${f}" must be true or false, got ${JSON.stringify(j[f])?.slice(0, 40)}`);
}

/** Builds the model of a tokenizer.json `model` entry; `spare`: how many ids past its own entries added tokens may hold. */
export function modelFromJson(json: unknown, what = 'model', spare = 0): TokenizerModel {
  const j = (json ?? {}) as Json;
  const type = j.type ?? (j.merges ? 'BPE' : undefined); // very old files omit the type of a BPE model
  switch (type) {
    case 'BPE':
      checkFlags(j, `${what}.BPE`, ['fuse_unk', 'byte_fallback', 'ignore_merges']);
      return new Bpe({
        vocab: vocabMapFromJson(j.vocab, `${what}.BPE`, spare),
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
        vocab: vocabMapFromJson(j.vocab, `${what}.WordPiece`, spare),
        unkToken: String(j.unk_token ?? '[UNK]'),
        continuingSubwordPrefix: String(j.continuing_subword_prefix ?? '##'),
        maxInputCharsPerWord: typeof j.max_input_chars_per_word === 'number' ? j.max_input_chars_per_word : 100,
      });
    case 'Unigram': {
      checkFlags(j, `${what}.Unigram`, ['byte_fallback']);
      if (!Array.isArray(j.vocab)) throw new WeftError('E_TOKENIZER', `${what}.Unigram: "vocab" must be a list of [piece, score]`);
      const pieces = j.vocab.map((entry, i) => {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
          throw new WeftError('E_TOKENIZER', `${what}.Unigram: vocab[${i}] is not [piece, finite score]`);
        }
        return { token: entry[0], score: entry[1] };
      });
      return new Unigram({ pieces, unkId: unkIdFromJson(j.unk_id, pieces.length, `${what}.Unigram`), byteFallback: j.byte_fallback === true });
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: model type ${JSON.stringify(j.type)} is not supported`);
  }
}
