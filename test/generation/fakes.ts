/**
 * A fake CausalLM and a fake byte-level tokenizer for testing the generation loop without model weights.
 *
 * FakeLM's logits are a deterministic function of the ids in its cache: the id `next(ids)` gets a logit of 10 and
 * every other id a small position-dependent value, so greedy decoding follows `next` exactly, and sampling
 * follows a fixed distribution per position. It counts the tokens it was fed, to check KV-cache reuse.
 */
import { WeftError } from '../../src/errors.js';
import type { CausalLM, DecoderConfig } from '../../src/models/model.js';
import type { LanguageModel } from '../../src/generation/generate.js';

export class FakeLM implements CausalLM {
  readonly kind = 'causal-lm';
  readonly config: DecoderConfig;
  readonly runtime = null as never;
  /** The ids in the "KV cache". */
  readonly cache: number[] = [];
  /** Ids fed through forward since construction. */
  fed = 0;

  constructor(
    private readonly next: (ids: readonly number[]) => number,
    opts: { vocabSize?: number; contextLength?: number; eos?: number[]; bos?: number | null } = {},
  ) {
    this.config = {
      modelType: 'fake',
      vocabSize: opts.vocabSize ?? 16,
      contextLength: opts.contextLength ?? 64,
      hiddenSize: 1,
      nLayers: 1,
      nHeads: 1,
      nKvHeads: 1,
      headDim: 1,
      bosTokenId: opts.bos === undefined ? 1 : opts.bos,
      eosTokenIds: opts.eos ?? [],
    };
  }

  get cacheLength(): number {
    return this.cache.length;
  }

  forward(ids: number[]): Float32Array {
    if (this.cache.length + ids.length > this.config.contextLength) {
      throw new WeftError('E_CONTEXT', `${this.cache.length + ids.length} positions exceed the context of ${this.config.contextLength}`);
    }
    this.cache.push(...ids);
    this.fed += ids.length;
    const logits = new Float32Array(this.config.vocabSize);
    for (let j = 0; j < logits.length; j++) logits[j] = Math.sin(j * 1.7 + this.cache.length) * 0.5;
    logits[this.next(this.cache)] = 10;
    return logits;
  }

  truncate(n: number): void {
    this.cache.length = Math.min(n, this.cache.length);
  }

  reset(): void {
    this.cache.length = 0;
  }

  dispose(): void {}
}

/**
 * A byte-level tokenizer: token id i decodes to the bytes `pieces[i]` (a string, or raw bytes to split a UTF-8
 * character across tokens). Ids whose piece is `null` are special and decode to nothing. Encoding is greedy
 * longest-match over the string pieces. `applyChatTemplate` renders a ChatML-like template.
 */
export function fakeTokenizer(pieces: Array<string | Uint8Array | null>, opts: { bos?: number | null } = {}) {
  const bytes = pieces.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p));
  const bos = opts.bos === undefined ? 1 : opts.bos;
  return {
    bosTokenId: bos,
    eosTokenIds: [] as number[],
    encode(text: string, o: { add_special_tokens?: boolean } = {}): number[] {
      const ids: number[] = o.add_special_tokens !== false && bos !== null ? [bos] : [];
      let rest = text;
      while (rest.length) {
        let best = -1;
        pieces.forEach((p, i) => {
          if (typeof p === 'string' && p.length && rest.startsWith(p) && (best < 0 || p.length > (pieces[best] as string).length)) best = i;
        });
        if (best < 0) throw new Error(`fake tokenizer cannot encode ${JSON.stringify(rest)}`);
        ids.push(best);
        rest = rest.slice((pieces[best] as string).length);
      }
      return ids;
    },
    decode(ids: number[]): string {
      const d = new TextDecoder();
      return ids.map((id) => (bytes[id] ? d.decode(bytes[id]!, { stream: true }) : '')).join('') + d.decode();
    },
    streamDetokenizer() {
      const d = new TextDecoder();
      return {
        push: (id: number) => (bytes[id] ? d.decode(bytes[id]!, { stream: true }) : ''),
        flush: () => d.decode(),
      };
    },
    applyChatTemplate(messages: Array<{ role: string; content: string }>, o: { add_generation_prompt?: boolean } = {}): string {
      return messages.map((m) => `<|${m.role}|>${m.content}<|end|>`).join('') + (o.add_generation_prompt ? '<|assistant|>' : '');
    },
  };
}

/** A LanguageModel from the fakes (the tokenizer's type is the real one's; the fake implements what generation uses). */
export function fakeLM(model: FakeLM, tokenizer: ReturnType<typeof fakeTokenizer> | null, generationConfig: Record<string, unknown> = {}): LanguageModel {
  return { model, tokenizer: tokenizer as unknown as LanguageModel['tokenizer'], generationConfig };
}
