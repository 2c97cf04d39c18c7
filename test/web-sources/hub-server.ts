/**
 * A model hub on 127.0.0.1 for tests (node:http, started and stopped by the test): `/<org>/<name>/resolve/<rev>/<file>`
 * serves `<folder>/<file>` of the repositories given, `/data/<path>` serves ../shared/data as a plain URL folder.
 * HEAD and GET with single Range requests, a sha256 ETag as the hub gives for LFS files, and faults on demand:
 * a connection dropped after some bytes, a Content-Length larger than the file, a wrong sha256.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Fault {
  /** Applies to request paths ending with this. */
  file: string;
  /** Drop the connection after this many body bytes, for the first `times` GETs longer than that (Infinity: always). */
  dropAfter?: number;
  times?: number;
  /** Announce this many more bytes than the file has (HEAD and GET). */
  extraLength?: number;
  /** Give this sha256 instead of the file's. */
  sha256?: string;
}

export interface Request {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface HubServer {
  url: string;
  requests: Request[];
  faults: Fault[];
  close(): Promise<void>;
}

export async function startHub(repos: Record<string, string>, dataDir: string): Promise<HubServer> {
  const requests: Request[] = [];
  const faults: Fault[] = [];
  const hashes = new Map<string, string>();
  const drops = new Map<Fault, number>();
  const sha256 = (path: string) => {
    let h = hashes.get(path);
    if (!h) hashes.set(path, (h = createHash('sha256').update(readFileSync(path)).digest('hex')));
    return h;
  };

  const fileFor = (path: string): string | null => {
    const parts = decodeURIComponent(path).split('/').slice(1);
    if (parts.some((p) => p === '..')) return null;
    if (parts[0] === 'data') return join(dataDir, ...parts.slice(1));
    const [org, name, resolve, , ...file] = parts;
    const folder = repos[`${org}/${name}`];
    if (!folder || resolve !== 'resolve' || file.length === 0) return null;
    return join(folder, ...file);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? '', path, range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });
    const file = fileFor(path);
    const stat = file ? statSync(file, { throwIfNoEntry: false }) : undefined;
    if (!file || !stat?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const fault = faults.find((f) => path.endsWith(f.file));
    const size = stat.size + (fault?.extraLength ?? 0);
    const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', etag: `"${fault?.sha256 ?? sha256(file)}"`, 'content-type': 'application/octet-stream' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': size }).end();
      return;
    }
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
    } else res.writeHead(200, { ...headers, 'content-length': size });
    let dropAt = Infinity;
    if (fault?.dropAfter !== undefined && end - start + 1 > fault.dropAfter) {
      const done = drops.get(fault) ?? 0;
      if (done < (fault.times ?? Infinity)) {
        drops.set(fault, done + 1);
        dropAt = fault.dropAfter;
      }
    }
    if (start >= stat.size) {
      res.socket?.destroy(); // the announced bytes past the real end never come
      return;
    }
    let sent = 0;
    const stream = createReadStream(file, { start, end: Math.min(end, stat.size - 1) });
    stream.on('data', (data: string | Buffer) => {
      const chunk = data as Buffer;
      if (sent + chunk.length > dropAt) {
        res.write(chunk.subarray(0, dropAt - sent));
        stream.destroy();
        // Let the bytes go out, then cut the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      sent += chunk.length;
      res.write(chunk);
    });
    // A lying Content-Length: the body ends short; close the connection so the client sees it.
    stream.on('end', () => (size > stat.size ? res.socket?.destroy() : res.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
