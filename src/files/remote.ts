/**
 * A folder of files behind a URL (a hub repository at one revision, or any HTTP folder) as ModelFiles. With a
 * cache, a file is served from it when present; otherwise its size comes from a HEAD request and the whole file is
 * downloaded into the cache on its first read, then read from there. Without one, every read is a Range request.
 */
import type { ByteSource } from '../formats/source.js';
import type { CacheStore } from './cache.js';
import { probe, rangeSource, type HttpOptions } from './http.js';
import type { ModelFiles } from './model-files.js';

export interface RemoteOptions {
  http: HttpOptions;
  store: CacheStore | null;
  /** Bytes of `where` downloaded so far (a cached download happens on a file's first read). */
  onDownload?: (where: string, bytes: number) => void;
}

/**
 * `base` ends with '/'; files are `base + name` (each segment URL-encoded). `cacheKey`: the cache folder of this
 * set (`hub/<org>/<name>/<revision>` or `url/<host>/<path>`).
 */
export function remoteFiles(name: string, base: string, cacheKey: string, options: RemoteOptions): ModelFiles {
  const where = (file: string) => base + file.split('/').map(encodeURIComponent).join('/');
  return {
    name,
    where,
    list: async () => null,
    async open(file) {
      const url = where(file);
      const key = `${cacheKey}/${file}`;
      const { store } = options;
      const cached = store ? await store.get(key, url) : null;
      if (cached === 'absent') return null;
      if (cached) return cached;
      const remote = await probe(url, options.http);
      if (!remote) {
        await store?.markAbsent(key);
        return null;
      }
      const range = rangeSource(remote, url, options.http);
      if (!store) return range;
      return lazySource(range, () => store.fill(key, remote, url, options.http, (n) => options.onDownload?.(url, n)));
    },
  };
}

/**
 * Reads up to this size before the download has started are Range requests: telling the format by its first
 * bytes must not download the file before the load knows every file's size (and starts reporting progress).
 */
const SNIFF_BYTES = 64;

/**
 * A remote file downloaded into the cache by `fill` on its first real read (once, shared by concurrent reads),
 * and read from the cached copy from then on.
 */
function lazySource(range: ByteSource, fill: () => Promise<ByteSource>): ByteSource {
  let inner: Promise<ByteSource> | null = null;
  const get = () => (inner ??= fill());
  return {
    name: range.name,
    size: range.size,
    async read(offset, length) {
      if (inner !== null || length > SNIFF_BYTES) return (await get()).read(offset, length);
      const bytes = new Uint8Array(length);
      await range.readInto(offset, bytes); // exactly these bytes: no read-ahead window
      return bytes;
    },
    readInto: async (offset, dst) => (await get()).readInto(offset, dst),
    async close() {
      const opened = inner && (await inner.catch(() => null));
      await opened?.close();
    },
  };
}
