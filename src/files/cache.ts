/**
 * The download cache: remote files only (never local paths), keyed `hub/<org>/<name>/<revision>/<file>` for hub
 * files and `url/<host>/<path>` for plain URLs.
 *
 * It never lies: an entry appears only after the whole file arrived and its size (and the server's sha256, when it
 * names one) was checked. Node writes to a temporary name in the same folder and renames it into place; the browser
 * streams into `Cache.put`, whose entry is committed only when the body stream closes, and the stream is errored
 * instead of closed when a check fails, so a partial or wrong file is never stored.
 *
 * A 404 for an optional file (tokenizer.json, generation_config.json, the safetensors index) is remembered too, so
 * that a second load of the same revision makes no request at all. Revisions are taken as given: `org/name` means
 * `main` as it was when first downloaded; pin `org/name@<commit>` or run `weft cache clear` for a newer `main`.
 */
import { WeftError } from '../errors.js';
import { blobSource, type ByteSource } from '../formats/source.js';
import { download, type HttpOptions, type RemoteFile } from './http.js';
import { fileSource, hasFileSystem } from './local.js';
import { abortError } from './model-files.js';

export interface CacheOptions {
  /** false: never read or write the cache. Default: on in Node and browsers, off in Cloudflare Workers. */
  cache?: boolean;
  /** Node: the cache folder (default `$XDG_CACHE_HOME/weft`, else `~/.cache/weft`). */
  cacheDir?: string;
}

export interface CacheStore {
  /** The cached file, 'absent' when the server said 404 for it, or null when not cached. */
  get(key: string, name: string): Promise<ByteSource | 'absent' | null>;
  /** Download `file` into the cache, verified, and return a source reading the cached copy. */
  fill(key: string, file: RemoteFile, name: string, options: HttpOptions, onBytes: (n: number) => void): Promise<ByteSource>;
  markAbsent(key: string): Promise<void>;
}

export interface CacheEntry {
  key: string;
  bytes: number;
}

const ABSENT = '.weft-absent';
const PARTIAL = '.weft-partial-';
const CACHE_NAME = 'weft';

function isWorkers(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
}

function hasCacheStorage(): boolean {
  return typeof (globalThis as { caches?: CacheStorage }).caches?.open === 'function';
}

/** The store `options` ask for, or null (cache off, or no storage here). */
export async function cacheStore(options: CacheOptions): Promise<CacheStore | null> {
  if (options.cache === false) return null;
  if (hasFileSystem()) return nodeStore(options.cacheDir ?? (await defaultCacheDir()));
  if (hasCacheStorage() && !isWorkers()) return browserStore();
  return null;
}

/** `$XDG_CACHE_HOME/weft`, else `~/.cache/weft` (Node). */
export async function defaultCacheDir(): Promise<string> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/weft`;
  const { homedir } = await import('node:os');
  return `${homedir()}/.cache/weft`;
}

/** Keys are '/'-separated; no segment may climb out of the cache folder. */
function checkKey(key: string): void {
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new WeftError('E_OPTION', `cannot cache a file under the key "${key}"`);
}

function cacheWriteError(where: string, e: unknown): WeftError {
  if (e instanceof WeftError) return e;
  const code = (e as { code?: string; name?: string }).code ?? (e as { name?: string }).name;
  const full = code === 'ENOSPC' || code === 'EDQUOT' || code === 'QuotaExceededError';
  const why = full ? 'the disk is full or the storage quota is exceeded' : (e as Error).message;
  return new WeftError('E_CACHE', `cannot write the model cache (${where}): ${why}; free space, set cacheDir, or load with cache: false`, { cause: e });
}

function nodeStore(dir: string): CacheStore {
  const pathOf = (key: string) => {
    checkKey(key);
    return `${dir}/${key}`;
  };
  return {
    async get(key) {
      const fs = await import('node:fs/promises');
      const path = pathOf(key);
      if ((await fs.stat(path).catch(() => null))?.isFile()) return fileSource(path);
      if (await fs.stat(path + ABSENT).catch(() => null)) return 'absent';
      return null;
    },
    async fill(key, file, _name, options, onBytes) {
      const fs = await import('node:fs/promises');
      const path = pathOf(key);
      const partial = `${path}${PARTIAL}${Math.random().toString(36).slice(2)}`;
      let handle: Awaited<ReturnType<typeof fs.open>> | null = null;
      try {
        await fs.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
        handle = await fs.open(partial, 'w');
        const h = handle;
        await download(file, options, async (piece) => {
          for (let done = 0; done < piece.length; ) done += (await h.write(piece, done, piece.length - done)).bytesWritten;
        }, onBytes);
        await handle.close();
        handle = null;
        if (options.signal?.aborted) throw abortError(options.signal); // the caller gave up: keep nothing
        await fs.rename(partial, path);
      } catch (e) {
        await handle?.close().catch(() => undefined);
        await fs.rm(partial, { force: true }).catch(() => undefined);
        throw e instanceof WeftError ? e : cacheWriteError(dir, e);
      }
      return fileSource(path);
    },
    async markAbsent(key) {
      const fs = await import('node:fs/promises');
      const path = pathOf(key);
      try {
        await fs.mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true });
        await fs.writeFile(path + ABSENT, '');
      } catch (e) {
        throw cacheWriteError(dir, e);
      }
    },
  };
}

/** Cache API entries live under a URL of their own, so the key (not the server's URL) identifies a file. */
const requestOf = (key: string) => new Request(`https://weft.cache.invalid/${key.split('/').map(encodeURIComponent).join('/')}`);

function browserStore(): CacheStore {
  const open = () => caches.open(CACHE_NAME);
  return {
    async get(key, name) {
      checkKey(key);
      const cache = await open();
      const hit = await cache.match(requestOf(key));
      if (!hit) return null;
      if (hit.headers.get('x-weft-absent')) return 'absent';
      const blob = await hit.blob();
      if (String(blob.size) !== hit.headers.get('x-weft-size')) {
        await cache.delete(requestOf(key)); // cannot happen with a put of a verified stream; never serve it if it does
        return null;
      }
      return blobSource(blob, name);
    },
    async fill(key, file, name, options, onBytes) {
      checkKey(key);
      const cache = await open();
      // Backpressure: the download waits while Cache.put has not taken the queued pieces, so a slow disk never
      // makes the network pieces pile up in JS memory.
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let wake: (() => void) | null = null;
      const body = new ReadableStream<Uint8Array>(
        {
          start: (c) => void (controller = c),
          pull: () => {
            wake?.();
            wake = null;
          },
        },
        new CountQueuingStrategy({ highWaterMark: 4 }),
      );
      const headers = { 'content-type': 'application/octet-stream', 'x-weft-size': String(file.size), 'x-weft-url': file.url };
      const put = cache.put(requestOf(key), new Response(body, { headers }));
      put.catch(() => undefined); // awaited below; errors reported from there
      try {
        await download(file, options, async (piece) => {
          while ((controller.desiredSize ?? 1) <= 0) await new Promise<void>((resolve) => (wake = resolve));
          controller.enqueue(piece.slice());
        }, onBytes);
        if (options.signal?.aborted) throw abortError(options.signal); // the caller gave up: keep nothing
      } catch (e) {
        controller.error(e); // the entry is never committed
        throw e;
      }
      controller.close();
      try {
        await put;
      } catch (e) {
        throw cacheWriteError(`Cache API "${CACHE_NAME}"`, e);
      }
      const stored = await this.get(key, name);
      if (!stored || stored === 'absent') throw new WeftError('E_CACHE', `${file.url}: the browser cache did not keep the downloaded file`);
      return stored;
    },
    async markAbsent(key) {
      checkKey(key);
      const cache = await open();
      await cache.put(requestOf(key), new Response('', { headers: { 'x-weft-absent': '1' } })).catch((e: unknown) => {
        throw cacheWriteError(`Cache API "${CACHE_NAME}"`, e);
      });
    },
  };
}

/** Every cached file (not the 404 markers), with its size. */
export async function listCache(options: Pick<CacheOptions, 'cacheDir'> = {}): Promise<CacheEntry[]> {
  if (hasFileSystem()) {
    const fs = await import('node:fs/promises');
    const dir = options.cacheDir ?? (await defaultCacheDir());
    const found = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    const entries: CacheEntry[] = [];
    for (const d of found) {
      if (!d.isFile() || d.name.endsWith(ABSENT) || d.name.includes(PARTIAL)) continue;
      const path = `${d.parentPath ?? (d as unknown as { path: string }).path}/${d.name}`;
      entries.push({ key: path.slice(dir.length + 1).replaceAll('\\', '/'), bytes: (await fs.stat(path)).size });
    }
    return entries.sort((a, b) => a.key.localeCompare(b.key));
  }
  if (!hasCacheStorage()) return [];
  const cache = await caches.open(CACHE_NAME);
  const entries: CacheEntry[] = [];
  for (const request of await cache.keys()) {
    const hit = await cache.match(request);
    if (!hit || hit.headers.get('x-weft-absent')) continue;
    entries.push({ key: new URL(request.url).pathname.slice(1).split('/').map(decodeURIComponent).join('/'), bytes: Number(hit.headers.get('x-weft-size')) });
  }
  return entries;
}

/** Delete every cached model file (Node: the cache folder; browser: the "weft" Cache API cache). */
export async function clearCache(options: Pick<CacheOptions, 'cacheDir'> = {}): Promise<void> {
  if (hasFileSystem()) {
    const fs = await import('node:fs/promises');
    await fs.rm(options.cacheDir ?? (await defaultCacheDir()), { recursive: true, force: true });
    return;
  }
  if (hasCacheStorage()) await caches.delete(CACHE_NAME);
}
