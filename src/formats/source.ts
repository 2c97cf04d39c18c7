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

function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
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

function checkOpen(closed: boolean, name: string): void {
  if (closed) throw new WeftError('E_OPTION', `${name}: read after close()`);
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

/**
 * A file on disk (Node only). Reads go through `FileHandle.read` into the destination buffer, with no
 * intermediate copy. Missing or unreadable files are E_MISSING naming the path.
 */
export async function fileSource(path: string): Promise<ByteSource> {
  const fs = await import('node:fs/promises');
  let handle: Awaited<ReturnType<typeof fs.open>>;
  let size: number;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    throw new WeftError('E_MISSING', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new WeftError('E_MISSING', `${path} is not a file`);
    size = stat.size;
  } catch (e) {
    await handle.close();
    throw e;
  }
  let closed = false;
  const source: ByteSource = {
    name: path,
    size,
    async read(offset, length) {
      const dst = new Uint8Array(length);
      await source.readInto(offset, dst);
      return dst;
    },
    async readInto(offset, dst) {
      checkOpen(closed, path);
      checkRange(source, offset, dst.length);
      // FileHandle.read may return fewer bytes than asked (large reads are split by the OS): loop until full.
      let done = 0;
      while (done < dst.length) {
        const { bytesRead } = await handle.read(dst, done, dst.length - done, offset + done);
        if (bytesRead === 0) {
          throw formatError(path, offset + done, 'the file shrank while it was being read');
        }
        done += bytesRead;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
  return source;
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
      dst.set(await source.read(offset, dst.length));
    },
    async close() {
      closed = true;
    },
  };
  return source;
}

/**
 * Open a file and parse its header with `parse` (Node only); the file is closed again when parsing fails, so a
 * bad file leaves no open handle behind. The returned header keeps the source open for reading tensors.
 */
export async function openFileWith<T>(path: string, parse: (source: ByteSource) => Promise<T>): Promise<T> {
  const source = await fileSource(path);
  try {
    return await parse(source);
  } catch (e) {
    await source.close();
    throw e;
  }
}
