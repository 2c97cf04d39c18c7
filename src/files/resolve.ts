/**
 * What `loadModel` accepts, turned into ModelFiles plus the one file the caller named (null: a folder or a set of
 * files, where the model is found by its contents).
 *
 *   '/models/llama' or './model.gguf'   a path (Node); a path that exists wins over a hub id of the same spelling
 *   'file:///…' or new URL('file:…')    the same path
 *   'https://…/model.gguf'              one file (the last segment has a dot)
 *   'https://…/resolve/main/'           a folder in the Hugging Face layout (ends with '/' or has no dot)
 *   'org/name', 'org/name@rev'          a hub repository: <hubUrl>/<org>/<name>/resolve/<rev or main>/<file>
 *   'org/name/file.gguf'                one file of a hub repository (also 'org/name@rev/file.gguf')
 *   File / Blob, ArrayBuffer / Uint8Array             one file
 *   File[] / FileList (webkitdirectory), Map / object name → bytes, Blob or URL            a set of files
 *
 * In a browser a relative string is a hub id unless it starts with '/', './' or '../' (then a URL of the page).
 */
import { WeftError } from '../errors.js';
import { cacheStore, type CacheOptions } from './cache.js';
import type { HttpOptions } from './http.js';
import { hasFileSystem, localFiles } from './local.js';
import { memoryFiles, type FileEntry } from './memory.js';
import type { ModelFiles } from './model-files.js';
import { remoteFiles, type RemoteOptions } from './remote.js';

/** One file's content, or where to get it. */
export type FileInput = Blob | ArrayBuffer | ArrayBufferView | string | URL;

/** Everything `loadModel` (and the `tokenizer` option) accepts. */
export type ModelInput = string | URL | Blob | ArrayBuffer | ArrayBufferView | Iterable<File> | ArrayLike<File> | Map<string, FileInput> | Record<string, FileInput>;

export interface SourceOptions extends CacheOptions {
  /** Base of hub ids (default: env WEFT_HUB_URL, else https://huggingface.co). */
  hubUrl?: string;
  /** Bearer token for the hub (default: env HF_TOKEN); sent to plain URLs only when given here. Never logged. */
  token?: string;
  /** Resumptions of a dropped download per read (default 3). */
  retries?: number;
  signal?: AbortSignal;
}

export interface ResolvedFiles {
  files: ModelFiles;
  /** The file the caller named, or null. */
  main: string | null;
}

const DEFAULT_HUB = 'https://huggingface.co';
/** org/name[@revision][/path/of/a/file]; the revision has no '/', names no '@'. */
const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([\w.-]+)(?:@([^/]+))?(?:\/(.+))?$/;

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name] || undefined;
}

function unsupported(input: unknown): WeftError {
  const what = input === null ? 'null' : typeof input === 'object' ? ((input as object).constructor?.name ?? 'object') : typeof input;
  return new WeftError(
    'E_OPTION',
    `loadModel: cannot load a model from ${what}; give a path, a URL, a hub id ("org/name"), a File/Blob, a list of Files, an ArrayBuffer/Uint8Array, or a map of file name → bytes/Blob/URL`,
  );
}

export async function resolveModelFiles(input: ModelInput, options: SourceOptions, onDownload?: RemoteOptions['onDownload']): Promise<ResolvedFiles> {
  const remote = async (token: string | undefined): Promise<RemoteOptions> => ({
    http: { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: options.signal, retries: options.retries ?? 3 },
    store: await cacheStore(options),
    onDownload,
  });
  const single = (name: string, entry: FileEntry): ResolvedFiles => ({ files: memoryFiles(name, new Map([[name, entry]])), main: name });

  if (typeof input === 'string' || input instanceof URL) {
    const text = String(input);
    if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text)) return fromUrl(new URL(text), await remote(options.token));
    if (hasFileSystem()) {
      const local = await localFiles(text);
      if (local) return local;
    } else if (/^\.{0,2}\//.test(text) && typeof location !== 'undefined') {
      return fromUrl(new URL(text, location.href), await remote(options.token));
    }
    const hub = HUB_ID.exec(text);
    if (hub && !text.startsWith('.')) {
      const [, org, name, revision = 'main', file] = hub;
      const base = `${(options.hubUrl ?? env('WEFT_HUB_URL') ?? DEFAULT_HUB).replace(/\/+$/, '')}/${org}/${name}/resolve/${encodeURIComponent(revision)}/`;
      const files = remoteFiles(text, base, `hub/${org}/${name}/${encodeURIComponent(revision)}`, await remote(options.token ?? env('HF_TOKEN')));
      return { files, main: file ?? null };
    }
    throw new WeftError('E_MISSING', `no such model file or folder: ${text} (and it is not a hub id like org/name)`);
  }
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    return single(typeof File !== 'undefined' && input instanceof File ? input.name : 'model', input);
  }
  if (input instanceof ArrayBuffer) return single('model', new Uint8Array(input));
  if (ArrayBuffer.isView(input)) return single('model', new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  if (input instanceof Map || isPlainObject(input)) {
    const entries = new Map<string, FileEntry>();
    const given: Array<[string, FileInput]> = input instanceof Map ? [...input] : Object.entries(input);
    for (const [name, value] of given) entries.set(name, await fileEntry(name, value, await remote(options.token)));
    return { files: memoryFiles('the given files', entries), main: entries.size === 1 ? given[0][0] : null };
  }
  if (input !== null && typeof input === 'object' && (Symbol.iterator in input || 'length' in input)) {
    const list = Array.from(input as ArrayLike<File>);
    if (list.length === 0 || !list.every((f) => typeof Blob !== 'undefined' && f instanceof Blob)) throw unsupported(input);
    const entries = new Map<string, FileEntry>();
    for (const f of list) {
      // A folder picked with webkitdirectory: "folder/sub/file" → "sub/file", so names are relative to the folder.
      const relative = f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : '';
      entries.set(relative || f.name, f);
    }
    return { files: memoryFiles('the picked files', entries), main: entries.size === 1 ? [...entries.keys()][0] : null };
  }
  throw unsupported(input);
}

function isPlainObject(x: unknown): x is Record<string, FileInput> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

async function fileEntry(name: string, value: FileInput, remote: RemoteOptions): Promise<FileEntry> {
  if (typeof Blob !== 'undefined' && value instanceof Blob) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string' || value instanceof URL) {
    const resolved = await fromUrl(new URL(String(value)), remote);
    if (resolved.main === null) throw new WeftError('E_OPTION', `file ${name}: ${String(value)} names a folder, not a file`);
    return { files: resolved.files, file: resolved.main };
  }
  throw new WeftError('E_OPTION', `file ${name}: give its bytes (ArrayBuffer/Uint8Array), a Blob/File or a URL, not ${typeof value}`);
}

/** http(s): a file (last segment has a dot) or a folder; file: a local path (Node). */
async function fromUrl(url: URL, remote: RemoteOptions): Promise<ResolvedFiles> {
  if (url.protocol === 'file:') {
    if (!hasFileSystem()) throw new WeftError('E_UNSUPPORTED', `${url.href}: a file: URL needs a file system (Node); in a browser pick the file with an <input type=file> and pass the File`);
    const { fileURLToPath } = await import('node:url');
    const path = fileURLToPath(url);
    const local = await localFiles(path);
    if (!local) throw new WeftError('E_MISSING', `no such model file or folder: ${path} (from ${url.href})`);
    return local;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WeftError('E_UNSUPPORTED', `${url.href}: cannot load from a ${url.protocol} URL; give an http(s) or file: URL`);
  }
  const segments = url.pathname.split('/');
  const last = segments.at(-1) ?? '';
  const isFile = last.includes('.');
  const folder = isFile ? segments.slice(0, -1) : last === '' ? segments.slice(0, -1) : segments;
  const base = `${url.origin}${folder.join('/')}/`;
  const key = ['url', url.host.replace(':', '_'), ...folder.filter((s) => s !== '' && s !== '.' && s !== '..').map(decodeURIComponent).map(encodeURIComponent)].join('/');
  const files = remoteFiles(url.href, base, key, remote);
  return { files, main: isFile ? decodeURIComponent(last) : null };
}
