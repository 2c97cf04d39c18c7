/**
 * Files over HTTP(S) with `fetch` only (browsers, Workers, Node 18+): a HEAD request learns a file's size (and the
 * hub's sha256) before any byte is read; reads are Range requests streamed piece by piece into their destination;
 * a whole-file download (for the cache) verifies size and sha256. A connection dropped half-way is resumed with a
 * Range request from the last byte received, at most `retries` times per read, then E_NETWORK.
 *
 * Credentials travel in `headers` (a bearer token for the hub) and are never put in a message.
 */
import { WeftError } from '../errors.js';
import { checkOpen, checkRange, type ByteSource } from '../formats/source.js';
import { abortError } from './model-files.js';
import { createSha256 } from './sha256.js';

export interface HttpOptions {
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** Resumptions allowed per read after a dropped connection (default 3). */
  retries: number;
}

export interface RemoteFile {
  url: string;
  size: number;
  /** The sha256 the server names (hub `X-Linked-Etag` or a 64-hex ETag), or null. */
  sha256: string | null;
}

/** Reads shorter than this fetch this much (a header parser's 8-byte reads must not each cost a request). */
const READ_AHEAD_BYTES = 1 << 20;

function requestHeaders(options: HttpOptions, extra: Record<string, string> = {}): Record<string, string> {
  // identity: a compressed body would not have the file's length and Range offsets would not be file offsets.
  return { 'accept-encoding': 'identity', ...options.headers, ...extra };
}

function networkError(url: string, what: string, cause?: unknown): WeftError {
  return new WeftError('E_NETWORK', `${url}: ${what}`, { cause });
}

async function send(url: string, init: RequestInit, options: HttpOptions): Promise<Response> {
  if (options.signal?.aborted) throw abortError(options.signal);
  try {
    return await fetch(url, { ...init, signal: options.signal });
  } catch (e) {
    if (options.signal?.aborted) throw abortError(options.signal);
    throw networkError(url, `request failed (${(e as Error).message}${(e as { cause?: Error }).cause ? `: ${(e as { cause: Error }).cause.message}` : ''})`, e);
  }
}

function statusError(url: string, response: Response): WeftError {
  if (response.status === 404) return new WeftError('E_MISSING', `${url}: not found (HTTP 404)`);
  const hint = response.status === 401 || response.status === 403 ? ' (a gated or private repository needs a token: option token or HF_TOKEN)' : '';
  return networkError(url, `HTTP ${response.status} ${response.statusText}${hint}`);
}

/** The sha256 a response names, if any: the hub's X-Linked-Etag for LFS files, or an ETag of 64 hex digits. */
function sha256Of(headers: Headers): string | null {
  for (const name of ['x-linked-etag', 'etag']) {
    const value = headers.get(name)?.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
    if (value && /^[0-9a-f]{64}$/.test(value)) return value;
  }
  return null;
}

/**
 * Size and sha256 of the file at `url`, or null when the server says 404. HEAD first; a server that answers HEAD
 * without a length (or refuses it) is asked for byte 0 and the total of its Content-Range.
 */
export async function probe(url: string, options: HttpOptions): Promise<RemoteFile | null> {
  const head = await send(url, { method: 'HEAD', headers: requestHeaders(options) }, options);
  if (head.status === 404) return null;
  const length = head.headers.get('content-length');
  if (head.ok && length !== null && /^\d+$/.test(length)) {
    return { url, size: Number(head.headers.get('x-linked-size') ?? length), sha256: sha256Of(head.headers) };
  }
  if (!head.ok && head.status !== 405 && head.status !== 501) throw statusError(url, head);
  const first = await send(url, { headers: requestHeaders(options, { range: 'bytes=0-0' }) }, options);
  await first.body?.cancel().catch(() => undefined);
  if (first.status === 404) return null;
  const total = /\/(\d+)$/.exec(first.headers.get('content-range') ?? '')?.[1];
  if (first.status !== 206 || total === undefined) {
    if (!first.ok) throw statusError(url, first);
    throw networkError(url, 'the server gives no file size (no Content-Length on HEAD, no Content-Range on a Range request)');
  }
  return { url, size: Number(total), sha256: sha256Of(first.headers) };
}

/**
 * Stream bytes [start, end) of `file` to `sink`, in the pieces the network delivers. A dropped connection or a
 * short body is resumed from the next missing byte with a Range request, up to `options.retries` times; a response
 * that does not start where asked (a server ignoring Range past byte 0) or a file that changed size is E_NETWORK.
 * Errors thrown by `sink` (a full disk) are passed through, never retried.
 */
export async function fetchRange(
  file: RemoteFile,
  start: number,
  end: number,
  options: HttpOptions,
  sink: (piece: Uint8Array, at: number) => void | Promise<void>,
): Promise<void> {
  const { url } = file;
  let at = start;
  let failures = 0;
  let lastProblem = '';
  while (at < end) {
    if (failures > options.retries) {
      throw networkError(url, `the download failed ${failures} times (${lastProblem}) at byte ${at} of ${file.size}; giving up`);
    }
    let response: Response;
    try {
      response = await send(url, { headers: requestHeaders(options, { range: `bytes=${at}-${end - 1}` }) }, options);
    } catch (e) {
      if (!(e instanceof WeftError) || e.code !== 'E_NETWORK') throw e;
      failures++;
      lastProblem = e.message;
      continue;
    }
    if (response.status !== 206 && !(response.status === 200 && at === 0)) {
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 200) throw networkError(url, `the server ignores Range requests (HTTP 200 for bytes ${at}-${end - 1}); weft needs them to read a model in pieces`);
      if (response.status === 416) throw networkError(url, `the server has no bytes ${at}-${end - 1} (HTTP 416): the file is shorter than the ${file.size} bytes it announced`);
      throw statusError(url, response);
    }
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== at || (range[3] !== '*' && Number(range[3]) !== file.size)) {
        await response.body?.cancel().catch(() => undefined);
        throw networkError(url, `the server answered bytes ${at}-${end - 1} with Content-Range "${response.headers.get('content-range')}": the file changed or the server is misconfigured`);
      }
    }
    if (!response.body) throw networkError(url, 'the response has no body');
    const reader = response.body.getReader();
    let sinkFailed = false;
    try {
      while (at < end) {
        const { done, value } = await reader.read();
        if (done) break;
        const piece = value.length > end - at ? value.subarray(0, end - at) : value;
        try {
          await sink(piece, at);
        } catch (e) {
          sinkFailed = true;
          throw e;
        }
        at += piece.length;
      }
      if (at < end) {
        failures++;
        lastProblem = `the connection closed after byte ${at}`;
      }
    } catch (e) {
      if (sinkFailed || (e instanceof WeftError && e.code !== 'E_NETWORK')) throw e;
      if (options.signal?.aborted) throw abortError(options.signal);
      failures++;
      lastProblem = `the connection dropped at byte ${at} (${(e as Error).message})`;
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }
}

/**
 * A remote file read with Range requests, each streamed straight into its destination (a view of wasm memory):
 * nothing larger than one network piece, or one READ_AHEAD_BYTES window for small reads, is held in JS.
 */
export function rangeSource(file: RemoteFile, name: string, options: HttpOptions): ByteSource {
  let closed = false;
  let window: { start: number; bytes: Uint8Array } | null = null;
  const source: ByteSource = {
    name,
    size: file.size,
    async read(offset, length) {
      checkOpen(closed, name);
      checkRange(source, offset, length);
      if (window && offset >= window.start && offset + length <= window.start + window.bytes.length) {
        return window.bytes.slice(offset - window.start, offset - window.start + length);
      }
      if (length < READ_AHEAD_BYTES) {
        const bytes = new Uint8Array(Math.min(READ_AHEAD_BYTES, file.size - offset));
        await source.readInto(offset, bytes);
        window = { start: offset, bytes };
        return bytes.slice(0, length);
      }
      const dst = new Uint8Array(length);
      await source.readInto(offset, dst);
      return dst;
    },
    async readInto(offset, dst) {
      checkOpen(closed, name);
      checkRange(source, offset, dst.length);
      await fetchRange(file, offset, offset + dst.length, options, (piece, at) => dst.set(piece, at - offset));
    },
    async close() {
      closed = true;
      window = null;
    },
  };
  return source;
}

/**
 * Download the whole of `file` into `sink`, checking on the way that exactly `file.size` bytes arrived and, when
 * the server named one, that their sha256 matches; `onBytes` gets the running count. The sink sees every byte once,
 * in order, before the checks pass: it must not publish anything until this resolves.
 */
export async function download(file: RemoteFile, options: HttpOptions, sink: (piece: Uint8Array) => void | Promise<void>, onBytes: (n: number) => void): Promise<void> {
  const hash = file.sha256 ? await createSha256() : null;
  let received = 0;
  await fetchRange(file, 0, file.size, options, async (piece) => {
    hash?.update(piece);
    await sink(piece);
    received += piece.length;
    onBytes(received);
  });
  if (received !== file.size) throw networkError(file.url, `${received} bytes arrived but the server announced ${file.size}`);
  if (hash) {
    const got = hash.hex();
    if (got !== file.sha256) throw networkError(file.url, `the downloaded bytes have sha256 ${got}, but the server names ${file.sha256}: corrupted in transit or changed on the server`);
  }
}
