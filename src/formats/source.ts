import { WeftError } from '../errors.js';

/**
 * Random-access bytes of one weights or vocabulary file. The parsers read headers through `read`; the loaders
 * read tensor ranges through `readInto`, straight into their final buffer (a view of wasm memory), so a file is
 * never held in JS memory next to its copy in wasm.
 *
 * Every read is bounds-checked against `size`: reading past the end is an E_FORMAT error naming the file and
 * the byte offset, never a short read.
 */
export interface ByteSource {
  /** What error messages call this source: a path, a URL or a caller-given label. */
  readonly name: string;
  readonly size: number;
  /** A fresh buffer holding bytes [offset, offset + length). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fill `dst` entirely with bytes [offset, offset + dst.length). */
  readInto(offset: number, dst: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The E_FORMAT error every parser throws: "<file>: <what> (byte offset N)". */
export function formatError(sourceName: string, offset: number, message: string): WeftError {
  return new WeftError('E_FORMAT', `${sourceName}: ${message} (byte offset ${offset})`);
}

export function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeftError('E_OPTION', `${source.name}: invalid read of ${length} bytes at byte offset ${offset}`);
  }
  if (offset + length > source.size) {
    throw formatError(
      source.name,
      offset,
      `unexpected end of file: ${length} bytes wanted but the file is ${source.size} bytes long (truncated?)`,
    );
  }
}

export function checkOpen(closed: boolean, name: string): void {
  if (closed) throw new WeftError('E_OPTION', `${name}: read after close()`);
}

/**
 * The most a source holds in JS memory at once while filling a destination: a tensor of any size is read piece by
 * piece and each piece copied into place, so a 1 GB embedding never becomes a 1 GB JS buffer beside its wasm copy.
 */
export const READ_CHUNK_BYTES = 8 << 20;

/** Fill `dst` with bytes [offset, offset + dst.length) by reads of at most READ_CHUNK_BYTES, each copied in place. */
export async function readInChunks(offset: number, dst: Uint8Array, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<void> {
  for (let done = 0; done < dst.length; ) {
    const piece = await read(offset + done, Math.min(READ_CHUNK_BYTES, dst.length - done));
    dst.set(piece, done);
    done += piece.length;
  }
}

/** Bytes already in memory (tests, a fetched buffer, an embedded model). */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  let closed = false;
  return {
    name,
    size: bytes.length,
    async read(offset, length) {
      checkOpen(closed, name);
      checkRange(this, offset, length);
      return bytes.slice(offset, offset + length);
    },
    async readInto(offset, dst) {
      checkOpen(closed, name);
      checkRange(this, offset, dst.length);
      dst.set(bytes.subarray(offset, offset + dst.length));
    },
    async close() {
      closed = true;
    },
  };
}

/** A `Blob` or `File` (browsers, Workers): each read slices the blob, so only the bytes asked for are loaded. */
export function blobSource(blob: Blob, name = typeof File !== 'undefined' && blob instanceof File ? blob.name : 'blob'): ByteSource {
  let closed = false;
  const source: ByteSource = {
    name,
    size: blob.size,
    async read(offset, length) {
      checkOpen(closed, name);
      checkRange(source, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    async readInto(offset, dst) {
      await readInChunks(offset, dst, (at, length) => source.read(at, length));
    },
    async close() {
      closed = true;
    },
  };
  return source;
}

/**
 * Parse a header from `source` with `parse`, closing the source when parsing fails, so a bad file leaves no open
 * handle (or connection) behind. The returned header keeps the source open for reading tensors.
 */
export async function parseWith<T>(source: ByteSource, parse: (source: ByteSource) => Promise<T>): Promise<T> {
  try {
    return await parse(source);
  } catch (e) {
    await source.close();
    throw e;
  }
}
