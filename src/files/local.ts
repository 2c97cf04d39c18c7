/**
 * Files on disk (Node, and Workers with nodejs_compat). `node:` modules are imported inside the functions, so this
 * module bundles for browsers, where nothing here is ever called.
 */
import { WeftError } from '../errors.js';
import { readGguf, type GgufFile } from '../formats/gguf.js';
import { readLlama2c, type Llama2cFile } from '../formats/llama2c.js';
import { checkOpen, checkRange, formatError, parseWith, READ_CHUNK_BYTES, type ByteSource } from '../formats/source.js';
import { openSafetensorsWeights, type WeightSet } from '../formats/weights.js';
import type { ModelFiles } from './model-files.js';

/** True where `node:fs` can be used (Node, Deno, Bun, Workers with nodejs_compat). */
export function hasFileSystem(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * A file on disk. Reads go through one reusable JS buffer of at most READ_CHUNK_BYTES and are copied into the
 * destination: in Cloudflare Workers (nodejs_compat), `FileHandle.read` into a view of wasm memory reports the
 * bytes as read but leaves zeros there, a silently wrong model. The copy costs one memcpy per chunk (well under
 * the read itself) and makes the destination's kind irrelevant. Every read must deliver exactly what was asked:
 * a file that shrinks while being read is E_FORMAT.
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
  let chunk: Uint8Array | null = null;
  /** Fill `dst` from `offset`, looping: FileHandle.read may return fewer bytes than asked. */
  const fill = async (offset: number, dst: Uint8Array): Promise<void> => {
    for (let done = 0; done < dst.length; ) {
      const { bytesRead } = await handle.read(dst, done, dst.length - done, offset + done);
      if (bytesRead === 0) throw formatError(path, offset + done, 'the file shrank while it was being read');
      done += bytesRead;
    }
  };
  const source: ByteSource = {
    name: path,
    size,
    async read(offset, length) {
      checkOpen(closed, path);
      checkRange(source, offset, length);
      const dst = new Uint8Array(length);
      await fill(offset, dst);
      return dst;
    },
    async readInto(offset, dst) {
      checkOpen(closed, path);
      checkRange(source, offset, dst.length);
      chunk ??= new Uint8Array(Math.min(READ_CHUNK_BYTES, Math.max(dst.length, 1 << 16)));
      for (let done = 0; done < dst.length; ) {
        const n = Math.min(chunk.length, dst.length - done);
        const piece = chunk.subarray(0, n);
        await fill(offset + done, piece);
        dst.set(piece, done);
        done += n;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      chunk = null;
      await handle.close();
    },
  };
  return source;
}

/** A folder on disk as ModelFiles. */
export function folderFiles(folder: string): ModelFiles {
  const join = (file: string) => `${folder.replace(/[\\/]+$/, '')}/${file}`;
  return {
    name: folder,
    where: join,
    async open(file) {
      const fs = await import('node:fs/promises');
      const stat = await fs.stat(join(file)).catch(() => null);
      if (!stat?.isFile()) return null;
      return fileSource(join(file));
    },
    async list() {
      const fs = await import('node:fs/promises');
      return (await fs.readdir(folder, { recursive: true, withFileTypes: true }))
        .filter((d) => d.isFile())
        .map((d) => `${d.parentPath ?? (d as unknown as { path: string }).path}/${d.name}`.slice(folder.replace(/[\\/]+$/, '').length + 1).replaceAll('\\', '/'));
    },
  };
}

/**
 * A path as ModelFiles: a folder, or the folder of a file plus that file's name. null when nothing exists there
 * (the caller may then try the same string as a hub id).
 */
export async function localFiles(path: string): Promise<{ files: ModelFiles; main: string | null } | null> {
  if (!hasFileSystem()) {
    throw new WeftError('E_UNSUPPORTED', `${path}: a file path needs a file system (Node); in a browser or a Worker give a URL, a hub id, a File/Blob or bytes`);
  }
  const fs = await import('node:fs/promises');
  const { dirname, basename } = await import('node:path');
  const stat = await fs.stat(path).catch(() => null);
  if (!stat) return null;
  if (stat.isDirectory()) return { files: folderFiles(path), main: null };
  return { files: folderFiles(dirname(path)), main: basename(path) };
}

// ---- Node conveniences: one file format from a path (tests, tools, the public API) ----

/** `readGguf` of a file on disk; the file stays open for reading tensors until `source.close()`. */
export async function openGguf(path: string): Promise<GgufFile> {
  return parseWith(await fileSource(path), readGguf);
}

/** `readLlama2c` of a file on disk. */
export async function openLlama2c(path: string): Promise<Llama2cFile> {
  return parseWith(await fileSource(path), readLlama2c);
}

/** A safetensors checkpoint on disk: a `.safetensors` file, an index, or a folder holding either. */
export async function openSafetensors(path: string): Promise<WeightSet> {
  const local = await localFiles(path);
  if (!local) throw new WeftError('E_MISSING', `no such file or folder: ${path}`);
  return openSafetensorsWeights(local.files, local.main);
}
