import { WeftError } from '../errors.js';
import { Llama2cDecoder } from './decoders/llama2c.js';
import { SentencePieceBpe } from './models/sentencepiece-bpe.js';
import { Prepend } from './normalizers/prepend.js';
import { TemplateProcessor } from './post-processors/index.js';
import { Tokenizer } from './tokenizer.js';
import { utf8Decoder } from './utf8.js';

const BOS_ID = 1;
const EOS_ID = 2;

/**
 * A llama2.c `tokenizer.bin` (run.c's `build_tokenizer`): i32 max_token_length, then per token f32 score, i32 byte
 * length and the bytes. The vocabulary size is not stored: run.c reads exactly the model's `vocab_size` tokens, and
 * so does this when `vocabSize` is given (a file with fewer is an error, not ids that decode to ""); without it,
 * tokens run to the end of the file.
 * Encoding mirrors run.c's `encode`: a dummy-prefix space for non-empty text, one symbol per character (bytes + 3
 * for unknown ones, i.e. `<0xAB>`), then greedy merges by score; BOS (1) is added with add_special_tokens.
 */
export function tokenizerFromLlama2c(bytes: Uint8Array, name: string, vocabSize?: number): Tokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new WeftError('E_FORMAT', `${name}: ${bytes.byteLength} bytes is too short for a llama2.c tokenizer (no max_token_length)`);
  const maxTokenLength = view.getInt32(0, true);
  const tokens: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (vocabSize === undefined ? offset < bytes.byteLength : tokens.length < vocabSize) {
    if (offset + 8 > bytes.byteLength) {
      const want = vocabSize === undefined ? '' : ` of the model's ${vocabSize}`;
      throw new WeftError('E_FORMAT', `${name}: truncated at byte ${offset}: token ${tokens.length}${want} has no score/length`);
    }
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || length > maxTokenLength || offset + length > bytes.byteLength) {
      throw new WeftError('E_FORMAT', `${name}: token ${tokens.length} at byte ${offset - 8} has length ${length} (max_token_length ${maxTokenLength}, ${bytes.byteLength - offset} bytes left)`);
    }
    if (!Number.isFinite(score)) throw new WeftError('E_FORMAT', `${name}: token ${tokens.length} at byte ${offset - 8} has score ${score}`);
    tokens.push(utf8Decoder.decode(bytes.subarray(offset, offset + length)));
    scores.push(score);
    offset += length;
  }
  if (tokens.length <= EOS_ID) throw new WeftError('E_FORMAT', `${name}: only ${tokens.length} tokens; llama2.c needs at least <unk>, BOS and EOS`);
  return new Tokenizer({
    name,
    normalizer: new Prepend(' '),
    preTokenizer: null,
    model: new SentencePieceBpe({ tokens, scores, unkId: 0 }),
    postProcessor: new TemplateProcessor([{ specialIds: [BOS_ID] }, 'sequence']),
    decoder: new Llama2cDecoder(tokens[BOS_ID]!),
    addedTokens: [],
    extraSpecialIds: [0, BOS_ID, EOS_ID],
    bosTokenId: BOS_ID,
    eosTokenIds: [EOS_ID],
  });
}
