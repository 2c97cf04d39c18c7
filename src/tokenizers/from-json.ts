import { WeftError } from '../errors.js';
import { checkJsonDepth } from '../formats/json.js';
import type { AddedToken } from './added-tokens.js';
import { bosEosTemplate, readTokenizerConfig } from './config.js';
import { decoderFromJson } from './decoders/index.js';
import { modelFromJson } from './models/index.js';
import { normalizerFromJson } from './normalizers/index.js';
import { postProcessorFromJson, TemplateProcessor, type PostProcessor } from './post-processors/index.js';
import { preTokenizerFromJson } from './pre-tokenizers/index.js';
import { Tokenizer } from './tokenizer.js';

function addedTokensFromJson(value: unknown, name: string): AddedToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new WeftError('E_TOKENIZER', `${name}: "added_tokens" must be an array`);
  return value.map((t: Record<string, unknown>, i) => {
    if (!t || typeof t !== 'object' || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== 'string') {
      throw new WeftError('E_TOKENIZER', `${name}: added_tokens[${i}] needs a non-negative integer "id" and a string "content"`);
    }
    for (const flag of ['special', 'lstrip', 'rstrip', 'single_word', 'normalized']) {
      if (t[flag] !== undefined && typeof t[flag] !== 'boolean') throw new WeftError('E_TOKENIZER', `${name}: added_tokens[${i}].${flag} must be true or false`);
    }
    return {
      id: t.id as number,
      content: t.content,
      special: t.special === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      singleWord: t.single_word === true,
      normalized: typeof t.normalized === 'boolean' ? t.normalized : t.special !== true, // Hugging Face's default
    };
  });
}

/**
 * Builds a Tokenizer from a parsed tokenizer.json and, optionally, its tokenizer_config.json (special-token names,
 * add_bos_token / add_eos_token, model_max_length, chat_template).
 */
export function tokenizerFromJson(json: object, config?: object, name = 'tokenizer.json'): Tokenizer {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new WeftError('E_TOKENIZER', `${name}: not a JSON object`);
  const j = json as Record<string, unknown>;
  if (!j.model || typeof j.model !== 'object') throw new WeftError('E_TOKENIZER', `${name}: the "model" entry is missing`);
  checkJsonDepth(json, name, 'E_TOKENIZER');
  const cfg = readTokenizerConfig(config, name.replace(/tokenizer\.json$/, 'tokenizer_config.json'));
  const addedTokens = addedTokensFromJson(j.added_tokens, name);
  const model = modelFromJson(j.model, `${name}: model`, addedTokens.length);
  const idOf = (token: string): number | undefined => addedTokens.find((t) => t.content === token)?.id ?? model.tokenToId(token);

  let postProcessor: PostProcessor | null = postProcessorFromJson(j.post_processor, `${name}: post_processor`);
  const flagTemplate = bosEosTemplate(cfg, idOf);
  if (flagTemplate) postProcessor = new TemplateProcessor(flagTemplate);

  // BOS/EOS: named by the config; without one, read off the template (`<s> $A`, `$A </s>`).
  let bosTokenId = cfg.bosToken === undefined ? null : (idOf(cfg.bosToken) ?? null);
  let eosTokenIds = cfg.eosToken === undefined ? [] : [idOf(cfg.eosToken)].filter((id): id is number => id !== undefined);
  if (config === undefined && postProcessor instanceof TemplateProcessor) {
    const [first] = postProcessor.pieces;
    const last = postProcessor.pieces[postProcessor.pieces.length - 1];
    if (first && first !== 'sequence') bosTokenId = first.specialIds[0] ?? null;
    if (last && last !== 'sequence' && postProcessor.pieces.length > 1) eosTokenIds = last.specialIds.slice(0, 1);
  }
  const padding = j.padding as { pad_id?: unknown; direction?: unknown } | null | undefined;
  const padTokenId = cfg.padToken !== undefined ? (idOf(cfg.padToken) ?? null) : typeof padding?.pad_id === 'number' ? padding.pad_id : null;

  return new Tokenizer({
    name,
    normalizer: normalizerFromJson(j.normalizer, `${name}: normalizer`),
    preTokenizer: preTokenizerFromJson(j.pre_tokenizer, `${name}: pre_tokenizer`),
    model,
    postProcessor,
    decoder: decoderFromJson(j.decoder, `${name}: decoder`),
    addedTokens,
    bosTokenId,
    eosTokenIds,
    padTokenId,
    modelMaxLength: cfg.modelMaxLength,
    paddingSide: cfg.paddingSide ?? (padding?.direction === 'Left' ? 'left' : undefined),
    chatTemplate: cfg.chatTemplate ?? null,
    chatTemplateVariables: cfg.templateVariables,
  });
}
