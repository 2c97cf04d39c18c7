/**
 * weft in a Cloudflare Worker: `POST /generate` streams a completion as server-sent events.
 *
 *   request ──▶ (first request of this isolate) Runtime from the imported wasm modules, loadModel(MODEL_URL)
 *           ──▶ stream(lm, prompt) ──▶ `event: token` per text piece … `event: done` with the finish reason
 *
 * Workers forbid compiling wasm from bytes at run time, so the kernel builds are imported as modules (Wrangler
 * turns a `.wasm` import into a compiled WebAssembly.Module) and handed to Runtime.create; it runs the relaxed-SIMD
 * build when the engine validates it. The model is loaded once per isolate and shared by its requests; one
 * generation runs at a time (they share the model's KV cache), the others wait their turn.
 *
 * Request body (JSON, every field optional): { "prompt": "Once upon a time", "max_new_tokens": 64,
 * "temperature": 0, "top_k": 40, "top_p": 0.9, "seed": 1 }.
 */
import { loadModel, Runtime, stream, WeftError, type GenerateOptions, type GenerateResult, type LoadedModel } from 'weftjs';
import simd from 'weftjs/build/weft-simd.wasm';
import relaxed from 'weftjs/build/weft-relaxed.wasm';

export interface Env {
  /** Where the model lives: a .gguf (or a llama2.c .bin beside its tokenizer) on any HTTP(S) server. */
  MODEL_URL: string;
}

/** The options a request may set; anything else in the body is refused. */
const OPTIONS = ['max_new_tokens', 'temperature', 'top_k', 'top_p', 'min_p', 'seed', 'repetition_penalty', 'stop'] as const;
const MAX_NEW_TOKENS = 512;

let model: Promise<LoadedModel> | null = null;
let runtime: Runtime | null = null;
let queue: Promise<unknown> = Promise.resolve();

function load(env: Env): Promise<LoadedModel> {
  model ??= (async () => {
    runtime = await Runtime.create({ wasm: { simd, relaxed } });
    return loadModel(env.MODEL_URL, { runtime });
  })();
  // A failed load is not cached: the next request tries again.
  model.catch(() => (model = null));
  return model;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== '/generate') return new Response('POST /generate {"prompt": "…", "max_new_tokens": 64}\n', { status: 404 });
    if (request.method !== 'POST') return new Response('use POST\n', { status: 405, headers: { Allow: 'POST' } });

    let prompt: string;
    let options: GenerateOptions;
    try {
      ({ prompt, options } = parseBody(await request.json()));
    } catch (e) {
      return new Response(`bad request: ${(e as Error).message}\n`, { status: 400 });
    }

    let lm: LoadedModel;
    try {
      lm = await load(env);
    } catch (e) {
      return new Response(`could not load the model from ${env.MODEL_URL}: ${(e as Error).message}\n`, { status: 502 });
    }

    // The client hanging up aborts the generation (ReadableStream.cancel → AbortSignal).
    const abort = new AbortController();
    const encoder = new TextEncoder();
    const event = (name: string, data: unknown) => encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    // Wait for the generations before this one; the next waits for this one's release.
    const turn = queue;
    let release!: () => void;
    queue = new Promise<void>((ok) => (release = ok));
    let pieces: AsyncGenerator<string, GenerateResult, void> | undefined;

    const body = new ReadableStream<Uint8Array>({
      async start() {
        await turn;
        pieces = stream(lm, prompt, { ...options, signal: abort.signal });
      },
      async pull(controller) {
        try {
          const step = await pieces!.next();
          if (!step.done) {
            controller.enqueue(event('token', { text: step.value }));
            return;
          }
          const { finishReason, ids, timings } = step.value;
          // wasmBytes: the isolate's wasm memory (weights, KV cache, scratch), to watch against the 128 MB limit.
          const wasmBytes = runtime!.memory.buffer.byteLength;
          controller.enqueue(event('done', { finishReason, tokens: ids.length, decodeTokensPerS: Math.round(timings.decodeTokensPerS), wasmBytes }));
        } catch (e) {
          controller.enqueue(event('error', { code: e instanceof WeftError ? e.code : 'E_INTERNAL', message: (e as Error).message }));
        }
        controller.close();
        release();
      },
      async cancel() {
        // Aborted, the generator ends after at most one more token; run it out so the next request starts on a
        // model nobody is using.
        abort.abort();
        try {
          while (pieces && !(await pieces.next()).done);
        } finally {
          release();
        }
      },
    });
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' } });
  },
};

function parseBody(json: unknown): { prompt: string; options: GenerateOptions } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('the body must be a JSON object');
  const body = json as Record<string, unknown>;
  const prompt = body.prompt ?? '';
  if (typeof prompt !== 'string') throw new Error('"prompt" must be a string');
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'prompt') continue;
    if (!(OPTIONS as readonly string[]).includes(key)) throw new Error(`unknown field "${key}" (allowed: prompt, ${OPTIONS.join(', ')})`);
    options[key] = value;
  }
  const max = options.max_new_tokens ?? 256;
  if (typeof max !== 'number' || !(max >= 0 && max <= MAX_NEW_TOKENS)) throw new Error(`"max_new_tokens" must be a number from 0 to ${MAX_NEW_TOKENS}`);
  return { prompt, options: options as GenerateOptions };
}
