import { WeftError } from '../errors.js';
import type { TemplatePiece } from './post-processors/index.js';

/** The parts of tokenizer_config.json weft uses. */
export interface TokenizerConfig {
  tokenizerClass?: string;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  addBosToken?: boolean;
  addEosToken?: boolean;
  modelMaxLength?: number;
  paddingSide?: 'left' | 'right';
  chatTemplate?: string;
  /** Every special-token string the config names, as chat-template variables (`bos_token`, …). */
  templateVariables: Record<string, unknown>;
}

/** A token written as a string or as an AddedToken object `{content: …}`. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/** `chat_template` is a string, or a list of `{name, template}` of which "default" is the chat template. */
function chatTemplateOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as Array<{ name?: unknown; template?: unknown }>;
    const chosen = named.find((t) => t?.name === 'default') ?? named[0];
    return typeof chosen?.template === 'string' ? chosen.template : undefined;
  }
  return undefined;
}

/**
 * The fields weft reads, checked: a special token that is neither a string nor `{content}`, a flag that is not a
 * boolean or a length that is not a number ≥ 0 is an error naming the file (`name`), not a silently dropped BOS.
 */
export function readTokenizerConfig(json: object | undefined, name = 'tokenizer_config.json'): TokenizerConfig {
  const j = (json ?? {}) as Record<string, unknown>;
  const wrong = (key: string, want: string) => new WeftError('E_TOKENIZER', `${name}: "${key}" should be ${want}, not ${JSON.stringify(j[key])?.slice(0, 60)}`);
  const templateVariables: Record<string, unknown> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const value = tokenString(j[key]);
    if (value === undefined && j[key] !== undefined && j[key] !== null) throw wrong(key, 'a token string or {"content": …}');
    if (value !== undefined) templateVariables[key] = value;
  }
  for (const key of ['add_bos_token', 'add_eos_token']) if (j[key] !== undefined && j[key] !== null && typeof j[key] !== 'boolean') throw wrong(key, 'true or false');
  const maxLength = j.model_max_length;
  if (maxLength !== undefined && maxLength !== null && !(typeof maxLength === 'number' && maxLength >= 0)) throw wrong('model_max_length', 'a number ≥ 0');
  if (j.chat_template !== undefined && j.chat_template !== null && chatTemplateOf(j.chat_template) === undefined) throw wrong('chat_template', 'a template string or a list of {name, template}');
  return {
    tokenizerClass: typeof j.tokenizer_class === 'string' ? j.tokenizer_class : undefined,
    bosToken: tokenString(j.bos_token),
    eosToken: tokenString(j.eos_token),
    padToken: tokenString(j.pad_token),
    unkToken: tokenString(j.unk_token),
    addBosToken: typeof j.add_bos_token === 'boolean' ? j.add_bos_token : undefined,
    addEosToken: typeof j.add_eos_token === 'boolean' ? j.add_eos_token : undefined,
    // transformers writes 1e30 for "no limit"
    modelMaxLength: typeof maxLength === 'number' && maxLength < 1e18 ? maxLength : undefined,
    paddingSide: j.padding_side === 'left' || j.padding_side === 'right' ? j.padding_side : undefined,
    chatTemplate: chatTemplateOf(j.chat_template),
    templateVariables,
  };
}

/** Tokenizer classes whose fast version rebuilds its post-processor from add_bos_token / add_eos_token. */
const BOS_EOS_FLAG_CLASSES = /^(Llama|CodeLlama|Gemma|Gemma2|Gemma3|Cohere)Tokenizer(Fast)?$/;

/**
 * The template transformers builds from add_bos_token / add_eos_token (`<bos>? $A <eos>?`), or null when the
 * config does not ask for one and tokenizer.json's own post-processor stands.
 */
export function bosEosTemplate(config: TokenizerConfig, idOf: (token: string) => number | undefined): TemplatePiece[] | null {
  if (config.addBosToken === undefined && config.addEosToken === undefined) return null;
  if (!config.tokenizerClass || !BOS_EOS_FLAG_CLASSES.test(config.tokenizerClass)) return null;
  const pieces: TemplatePiece[] = [];
  const bos = config.bosToken === undefined ? undefined : idOf(config.bosToken);
  const eos = config.eosToken === undefined ? undefined : idOf(config.eosToken);
  if (config.addBosToken && bos !== undefined) pieces.push({ specialIds: [bos] });
  pieces.push('sequence');
  if (config.addEosToken && eos !== undefined) pieces.push({ specialIds: [eos] });
  return pieces;
}
