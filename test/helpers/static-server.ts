/**
 * A static file server for tests: node:http on 127.0.0.1 and a port the OS picks, serving one or more folders
 * under URL prefixes, with the MIME types browsers insist on (application/wasm for streaming compilation,
 * text/javascript for module scripts), single-range `Range` requests (206 / 416) and optional extra headers
 * (e.g. COOP/COEP for cross-origin isolation). Every request is logged in `requests`, so a test can assert what
 * was (not) fetched.
 *
 *   const server = await startStaticServer({ mounts: { '/': 'examples/script-tag', '/model/': dataPath('…') } });
 *   await page.goto(`${server.url}/index.html`);  …  await server.close();
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

export interface StaticServerOptions {
  /** URL prefix (starting and ending with '/', or '/') → folder. The longest matching prefix wins. */
  mounts: Record<string, string>;
  /** Headers added to every response. */
  headers?: Record<string, string>;
  /** Headers for COOP/COEP (cross-origin isolation, needed for SharedArrayBuffer) added to every response. */
  crossOriginIsolated?: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  range: string | null;
  status: number;
}

export interface StaticServer {
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  port: number;
  requests: RequestRecord[];
  close(): Promise<void>;
}

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts)
    .map(([prefix, dir]) => ({ prefix: prefix.endsWith('/') ? prefix : `${prefix}/`, dir: resolve(dir) }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const extra = { ...(options.crossOriginIsolated ? ISOLATION_HEADERS : {}), ...options.headers };
  const requests: RequestRecord[] = [];

  const server = createServer((req, res) => {
    const record: RequestRecord = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range ?? null, status: 0 };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    serve(req, res, mounts, extra).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e.message));
    });
  });
  // Keep-alive sockets would hold close() open until the browser lets them go.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, mounts: { prefix: string; dir: string }[], extra: Record<string, string>): Promise<void> {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'Accept-Ranges': 'bytes', 'Access-Control-Allow-Origin': '*', ...extra };
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...headers, 'Access-Control-Allow-Headers': '*', 'Access-Control-Allow-Methods': 'GET, HEAD' });
    res.end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, headers);
    res.end();
    return;
  }
  let pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (pathname.endsWith('/')) pathname += 'index.html';
  const mount = mounts.find((m) => pathname.startsWith(m.prefix) || `${pathname}/` === m.prefix);
  const file = mount ? resolve(join(mount.dir, pathname.slice(mount.prefix.length))) : null;
  // Refuse anything that escapes the mounted folder (../ in the URL).
  const info = file && (file === mount!.dir || file.startsWith(mount!.dir + sep)) ? await stat(file).catch(() => null) : null;
  if (!file || !info?.isFile()) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
    res.end(`not found: ${pathname}`);
    return;
  }
  headers['Content-Type'] = MIME[extname(file)] ?? 'application/octet-stream';
  const size = info.size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2])); // suffix range: the last N bytes
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= size || start > end) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  headers['Content-Length'] = String(end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}
