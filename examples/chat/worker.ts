/**
 * The inference worker: the model lives here, so loading and generation never block the page.
 *
 *   page ──load──▶ loadModel(source, { onProgress, signal }) ──progress…, loaded──▶ page
 *   page ──generate(messages)──▶ chatStream (chat template) or stream (plain completion) ──token…, done──▶ page
 *   page ──stop──▶ AbortController.abort() (the generation loop yields every 10 ms, so the message gets through)
 */
import { chatStream, loadModel, stream, type ChatMessage, type GenerateResult, type LoadedModel } from 'weftjs';
import type { FromWorker, ModelChoice, ToWorker } from './protocol.js';

/** This module runs as a dedicated worker (the DOM typings the examples share do not describe its global). */
const scope = globalThis as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };

let lm: LoadedModel | null = null;
let current: AbortController | null = null;

const post = (m: FromWorker) => scope.postMessage(m);

scope.onmessage = async ({ data: m }) => {
  if (m.type === 'stop') {
    current?.abort();
    return;
  }
  current?.abort();
  const abort = (current = new AbortController());
  try {
    if (m.type === 'load') {
      lm?.model.dispose();
      lm = null;
      lm = await loadModel(m.model, {
        signal: abort.signal,
        onProgress: (p) => post({ type: 'progress', loaded: p.loaded, total: p.total, file: p.file }),
      });
      post({ type: 'loaded', name: describe(m.model), weightBytes: lm.weightBytes, loadMs: lm.loadMs, chatTemplate: !!lm.tokenizer?.hasChatTemplate });
    } else {
      if (!lm) throw new Error('load a model first');
      const options = { ...m.options, signal: abort.signal };
      const pieces = lm.tokenizer?.hasChatTemplate ? chatStream(lm, m.messages, options) : stream(lm, completionPrompt(m.messages), options);
      let step: IteratorResult<string, GenerateResult>;
      while (!(step = await pieces.next()).done) post({ type: 'token', text: step.value });
      const { finishReason, ids, timings } = step.value;
      post({ type: 'done', finishReason, tokens: ids.length, tokensPerS: timings.decodeTokensPerS });
    }
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  } finally {
    if (current === abort) current = null;
  }
};

/** Without a chat template (a base model such as stories260K) the conversation is one running text. */
function completionPrompt(messages: ChatMessage[]): string {
  return messages.map((msg) => msg.content).join('');
}

function describe(model: ModelChoice): string {
  if (typeof model === 'string') return model;
  if (Array.isArray(model)) return `${model.length} files`;
  return model.name;
}
