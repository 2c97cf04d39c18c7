/**
 * The one place that knows where a model's bytes come from.
 *
 *   source (path | file: URL | http(s) URL | hub id | File/Blob | File[] | bytes | map)
 *     └─ resolveModelFiles (resolve.ts) → ModelFiles + the file the caller named (or null: a folder)
 *          └─ ModelFiles.open(name) → ByteSource, size known up front:
 *               local file (local.ts) · HTTP Range reads (http.ts) · a cached download (cache.ts) · Blob · bytes
 *
 * Formats and architectures see only ByteSources; `LoadSession` wraps every source a load opens so that progress
 * and cancellation work the same whatever the origin.
 */
import { WeftError } from '../errors.js';
import { checkedSource, type ByteSource } from '../formats/source.js';

/** A set of named files: a folder on disk, a repository on a hub, a URL folder, a list of picked Files, a map. */
export interface ModelFiles {
  /** What messages call the whole set: a folder path, a URL, a hub id, "the given files". */
  readonly name: string;
  /**
   * A file by its '/'-separated name relative to the set, or null when the set has no such file. The source's
   * size is known before any byte is read (stat, HEAD, Blob.size).
   */
  open(file: string): Promise<ByteSource | null>;
  /** Every file name, when the set can be listed (a local folder, a map, picked Files); null for URLs and hubs. */
  list(): Promise<string[] | null>;
  /** Where `file` lives, for messages: a path or a URL. */
  where(file: string): string;
}

/** What `onProgress` receives. `total` is the size of every file of the model, known before the first weight byte. */
export interface LoadProgress {
  /** Bytes of all files read or downloaded so far. */
  loaded: number;
  total: number;
  /** The file this event is about (as `where` names it: path or URL). */
  file: string;
  fileLoaded: number;
  fileTotal: number;
}

interface Tracked {
  where: string;
  size: number;
  loaded: number;
}

/**
 * The files one `loadModel` call opened: sums their sizes for `total`, turns reads (or downloads) into progress
 * events, aborts every read once `signal` fires, and closes everything at the end.
 *
 * A file's progress is the furthest of what was read from it and what was downloaded of it, capped at its size:
 * parsers re-read a little (a header window overlapping the first tensor), and a cached download reports its bytes
 * before the tensors are read from disk. When the load succeeds every file is reported complete, so the events end
 * with loaded === total.
 */
export class LoadSession {
  private readonly files: Tracked[] = [];
  private readonly opened: ByteSource[] = [];
  private loaded = 0;
  /** Events wait for `begin()`: until every file is open, `total` is not final. */
  private begun = false;

  constructor(
    private readonly onProgress?: (p: LoadProgress) => void,
    readonly signal?: AbortSignal,
  ) {}

  get total(): number {
    return this.files.reduce((sum, f) => sum + f.size, 0);
  }

  /** Throws E_ABORT when the signal fired. */
  checkAbort(): void {
    if (this.signal?.aborted) throw abortError(this.signal);
  }

  /**
   * Every file of the model is open (sizes known): from now on `total` is final and progress is reported. Bytes
   * read before (config.json, an index, a header) are in the first event.
   */
  begin(): void {
    this.begun = true;
    const last = this.files.at(-1);
    if (last) this.onProgress?.({ loaded: this.loaded, total: this.total, file: last.where, fileLoaded: last.loaded, fileTotal: last.size });
  }

  /**
   * `files` seen through this session: each name is opened once (tracked, abortable) and the same source returned
   * to every later `open`, so a file opened early to count its size is not opened (or downloaded) twice.
   */
  opener(files: ModelFiles): ModelFiles {
    const memo = new Map<string, Promise<ByteSource | null>>();
    return {
      name: files.name,
      where: (file) => files.where(file),
      list: () => files.list(),
      open: (file) => {
        let source = memo.get(file);
        if (!source) memo.set(file, (source = this.open(files, file)));
        return source;
      },
    };
  }

  /** Open `file` of `files` through this session (tracked, abortable); null when absent. */
  async open(files: ModelFiles, file: string): Promise<ByteSource | null> {
    this.checkAbort();
    const source = await files.open(file);
    this.checkAbort();
    return source && this.track(source, files.where(file));
  }

  /** Mark every file complete (the load succeeded) and close them all. */
  async finish(): Promise<void> {
    for (const f of this.files) this.advance(f, f.size);
    await this.close();
  }

  /** Close every source this session opened. */
  async close(): Promise<void> {
    await Promise.all(this.opened.map((s) => s.close().catch(() => undefined)));
  }

  /** Forward a download's progress (bytes of `where` that arrived so far) from a cached remote file. */
  downloaded(where: string, bytes: number): void {
    const f = this.files.find((t) => t.where === where);
    if (f) this.advance(f, bytes);
  }

  private track(inner: ByteSource, where: string): ByteSource {
    const entry: Tracked = { where, size: inner.size, loaded: 0 };
    this.files.push(entry);
    let readBytes = 0;
    /** Every read checks the signal before and after (a read already under way finishes first), then reports. */
    const tracked = async <T>(length: number, read: () => Promise<T>): Promise<T> => {
      this.checkAbort();
      const result = await read();
      this.checkAbort();
      readBytes += length;
      this.advance(entry, readBytes);
      return result;
    };
    const source = checkedSource(inner.name, inner.size, {
      read: (offset, length) => tracked(length, () => inner.read(offset, length)),
      readInto: (offset, dst) => tracked(dst.length, () => inner.readInto(offset, dst)),
      close: () => inner.close(),
    });
    this.opened.push(source);
    return source;
  }

  private advance(f: Tracked, bytes: number): void {
    const next = Math.min(f.size, bytes);
    if (next <= f.loaded) return;
    this.loaded += next - f.loaded;
    f.loaded = next;
    if (this.begun) this.onProgress?.({ loaded: this.loaded, total: this.total, file: f.where, fileLoaded: f.loaded, fileTotal: f.size });
  }
}

export function abortError(signal: AbortSignal): WeftError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new WeftError('E_ABORT', `loading was cancelled${why ? ` (${why})` : ''}`, { cause: reason });
}
