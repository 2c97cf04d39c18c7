import { WeftError } from '../../errors.js';
import { patternFromJson } from '../normalizers/index.js';
import { metaspaceReplacement, prependSchemeFromJson } from '../pre-tokenizers/index.js';
import { ByteFallbackDecoder } from './byte-fallback.js';
import { ByteLevelDecoder } from './byte-level.js';
import type { TokenDecoder } from './token-decoder.js';
import { FuseDecoder } from './fuse.js';
import { MetaspaceDecoder } from './metaspace.js';
import { ReplaceDecoder } from './replace.js';
import { DecoderSequence } from './sequence.js';
import { StripDecoder } from './strip.js';
import { WordPieceDecoder } from './wordpiece.js';

export type { TokenDecoder } from './token-decoder.js';

type Json = Record<string, unknown>;

/** Builds the decoder of a tokenizer.json `decoder` entry (null → tokens joined by spaces, Hugging Face's default). */
export function decoderFromJson(json: unknown, what = 'decoder'): TokenDecoder | null {
  if (json === null || json === undefined) return null;
  const j = json as Json;
  switch (j.type) {
    case 'ByteLevel':
      return new ByteLevelDecoder();
    case 'ByteFallback':
      return new ByteFallbackDecoder();
    case 'Metaspace':
      return new MetaspaceDecoder(metaspaceReplacement(j, `${what}.Metaspace`), prependSchemeFromJson(j));
    case 'WordPiece':
      return new WordPieceDecoder(String(j.prefix ?? '##'), j.cleanup !== false);
    case 'Fuse':
      return new FuseDecoder();
    case 'Strip':
      return new StripDecoder(String(j.content ?? ' '), Number(j.start ?? 0), Number(j.stop ?? 0));
    case 'Replace':
      return new ReplaceDecoder(patternFromJson(j.pattern, `${what}.Replace`), String(j.content ?? ''));
    case 'Sequence': {
      if (!Array.isArray(j.decoders)) throw new WeftError('E_TOKENIZER', `${what}.Sequence: "decoders" must be an array`);
      const parts = j.decoders.map((d, i) => decoderFromJson(d, `${what}.decoders[${i}]`));
      return new DecoderSequence(parts.filter((d): d is TokenDecoder => d !== null));
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: decoder type ${JSON.stringify(j.type)} is not supported`);
  }
}
