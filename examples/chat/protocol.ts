/** Messages between the page (main.ts) and the inference worker (worker.ts). */
import type { ChatMessage, FinishReason } from 'weftjs';

/** A model as the picker gives it: a URL or hub id, one file, or the files of a folder. */
export type ModelChoice = string | File | File[];

export type ToWorker =
  | { type: 'load'; model: ModelChoice }
  | { type: 'generate'; messages: ChatMessage[]; options: { max_new_tokens: number; temperature: number } }
  /** Abort the load or generation under way. */
  | { type: 'stop' };

export type FromWorker =
  | { type: 'progress'; loaded: number; total: number; file: string }
  | { type: 'loaded'; name: string; weightBytes: number; loadMs: number; chatTemplate: boolean }
  | { type: 'token'; text: string }
  | { type: 'done'; finishReason: FinishReason; tokens: number; tokensPerS: number }
  | { type: 'error'; message: string };
