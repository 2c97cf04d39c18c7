/**
 * The one error class of weft. `code` is stable and machine-readable; `message` names what was wrong and where
 * (file, tensor, byte offset, option), so a user can act on it without a stack trace.
 */
export type WeftErrorCode =
  | 'E_WASM' // the kernel module could not be loaded or instantiated
  | 'E_MEMORY' // wasm memory exhausted (the 4 GiB wasm32 ceiling) or a bad allocation
  | 'E_FORMAT' // a weights/vocabulary file is truncated, corrupt or inconsistent
  | 'E_UNSUPPORTED' // a valid file that weft cannot run yet (architecture, tensor type)
  | 'E_MISSING' // a required tensor, file or config field is absent
  | 'E_OPTION' // an invalid option or argument
  | 'E_CONTEXT' // a prompt or generation past the model's context
  | 'E_TOKENIZER' // a malformed tokenizer definition
  | 'E_NETWORK' // a download failed (HTTP error status, connection dropped past the retries, a response of the wrong size)
  | 'E_CACHE' // the model cache could not be written (disk full, storage quota exceeded, permissions)
  | 'E_ABORT'; // cancelled through an AbortSignal

export class WeftError extends Error {
  readonly code: WeftErrorCode;
  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeftError';
    this.code = code;
  }
}
