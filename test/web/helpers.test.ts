/**
 * The browser and static-server helpers themselves: a page served with COOP/COEP is cross-origin isolated, .wasm
 * comes as application/wasm (so streaming compilation works), Range requests answer 206 with the right bytes, and
 * nothing outside a mounted folder is served.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

const ROOT = resolve(__dirname, '../..');

describeBrowser('test helpers: static server + Chromium', () => {
  let dir: string;
  let server: StaticServer;
  let browser: TestBrowser;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-static-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title><p>hello</p>');
    await writeFile(join(dir, 'bytes.bin'), Uint8Array.from({ length: 256 }, (_, i) => i));
    server = await startStaticServer({ mounts: { '/': dir, '/build/': join(ROOT, 'build') }, crossOriginIsolated: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves pages cross-origin isolated, wasm as application/wasm, and byte ranges', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    const r = await page.evaluate(async () => {
      const wasm = await fetch('/build/weft-simd.wasm');
      const { instance } = await WebAssembly.instantiateStreaming(wasm, { env: { memory: new WebAssembly.Memory({ initial: 256, maximum: 65536 }), abort() {} } });
      const ranged = await fetch('/bytes.bin', { headers: { Range: 'bytes=10-13' } });
      const suffix = await fetch('/bytes.bin', { headers: { Range: 'bytes=-2' } });
      const beyond = await fetch('/bytes.bin', { headers: { Range: 'bytes=300-' } });
      return {
        isolated: crossOriginIsolated,
        text: document.querySelector('p')?.textContent,
        exports: Object.keys(instance.exports).length,
        rangeStatus: ranged.status,
        rangeBytes: [...new Uint8Array(await ranged.arrayBuffer())],
        contentRange: ranged.headers.get('content-range'),
        suffixBytes: [...new Uint8Array(await suffix.arrayBuffer())],
        beyond: beyond.status,
        escape: (await fetch('/%2e%2e/%2e%2e/etc/passwd')).status,
        missing: (await fetch('/nope.txt')).status,
      };
    });
    expect(r).toEqual({
      isolated: true,
      text: 'hello',
      exports: expect.any(Number),
      rangeStatus: 206,
      rangeBytes: [10, 11, 12, 13],
      contentRange: 'bytes 10-13/256',
      suffixBytes: [254, 255],
      beyond: 416,
      escape: 404,
      missing: 404,
    });
    expect(r.exports).toBeGreaterThan(10);
    expect(server.requests.some((q) => q.path === '/build/weft-simd.wasm' && q.status === 200)).toBe(true);
  });

  it('refuses a raw ../ path (browsers normalise those away, so ask from Node)', async () => {
    const status = await new Promise<number>((ok, fail) =>
      get({ host: '127.0.0.1', port: server.port, path: '/../../../etc/passwd' }, (res) => {
        res.resume();
        ok(res.statusCode ?? 0);
      }).on('error', fail),
    );
    expect(status).toBe(404);
  });
});
