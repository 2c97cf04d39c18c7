/**
 * examples/cloudflare-worker in workerd (npm `workerd`, Cloudflare's open-source runtime), on 127.0.0.1:
 *   - the Worker is bundled the way Wrangler bundles it (esbuild; `.wasm` imports become compiled wasm modules,
 *     which is the only way Workers accept wasm), with 'weftjs' taken from this checkout's sources;
 *   - its model, stories260K.gguf, comes from a URL served by the test;
 *   - `POST /generate` with an empty prompt, 200 tokens, temperature 0 streams server-sent events whose text is
 *     llama2.c's greedy story byte for byte, and the wasm memory stays far below the 128 MB isolate limit;
 *   - two requests at once both get the story (generations take turns on the one model);
 *   - bad requests get a 400 naming the field.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../helpers/data.js';
import { startProcess, type Server } from '../helpers/spawn.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

const ROOT = resolve(__dirname, '../..');
const WORKERD = join(ROOT, 'node_modules/.bin/workerd');

/** A free port on 127.0.0.1 (workerd takes its socket address from the config). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** Parse a text/event-stream body into events. */
function parseSse(body: string): { event: string; data: unknown }[] {
  return body
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return { event, data: JSON.parse(data) };
    });
}

describeData('Cloudflare Worker example in workerd', () => {
  let tmp: string;
  let models: StaticServer;
  let workerd: Server;
  let base: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'weft-workerd-'));
    models = await startStaticServer({ mounts: { '/': dataPath('llama2c-stories260k') } });
    // Bundle as Wrangler does: one ES module, `.wasm` imports left as separate modules of the Worker.
    await build({
      entryPoints: [join(ROOT, 'examples/cloudflare-worker/src/index.ts')],
      outfile: join(tmp, 'worker.js'),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      external: ['node:*'],
      logLevel: 'error',
      plugins: [
        {
          name: 'weftjs-from-checkout',
          setup(b) {
            b.onResolve({ filter: /^weftjs\/build\/.*\.wasm$/ }, (a) => ({ path: `./${a.path.split('/').pop()}`, external: true }));
            b.onResolve({ filter: /^weftjs$/ }, () => ({ path: join(ROOT, 'src/index.ts') }));
          },
        },
      ],
    });
    const port = await freePort();
    // workerd embeds files relative to the config only
    for (const f of ['weft-simd.wasm', 'weft-relaxed.wasm']) await copyFile(join(ROOT, 'build', f), join(tmp, f));
    await writeFile(
      join(tmp, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "weft-simd.wasm", wasm = embed "weft-simd.wasm"),
    (name = "weft-relaxed.wasm", wasm = embed "weft-relaxed.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "MODEL_URL", text = "${models.url}/stories260K.gguf")],
  globalOutbound = "loopback",
);
`,
    );
    workerd = await startProcess(WORKERD, ['serve', join(tmp, 'config.capnp'), '--verbose'], {
      cwd: tmp,
      env: { ...process.env, PWD: tmp },
      ready: /Listening on (http:\/\/127\.0\.0\.1:\d+)/,
      timeoutMs: 60_000,
    });
    base = workerd.match[1];
  }, 120_000);
  afterAll(async () => {
    await workerd?.stop();
    await models?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("POST /generate streams llama2.c's greedy story as server-sent events", async () => {
    const res = await fetch(`${base}/generate`, { method: 'POST', body: JSON.stringify({ prompt: '', max_new_tokens: 200, temperature: 0 }) });
    expect(res.status, `${await res.clone().text()}\n${workerd.output()}`).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    const errors = events.filter((e) => e.event === 'error');
    expect(errors, workerd.output()).toEqual([]);
    const text = events.filter((e) => e.event === 'token').map((e) => (e.data as { text: string }).text).join('');
    expect(text).toBe(await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.txt'), 'utf8'));
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ finishReason: 'length', tokens: 200 });
    expect((done.data as { wasmBytes: number }).wasmBytes).toBeLessThan(64 << 20);
    // the model was fetched from the test's server
    expect(models.requests.some((r) => r.path === '/stories260K.gguf')).toBe(true);
  });

  it('serves two requests at once, one generation after the other', async () => {
    const want = await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.txt'), 'utf8');
    const texts = await Promise.all(
      [0, 1].map(async () => {
        const res = await fetch(`${base}/generate`, { method: 'POST', body: JSON.stringify({ max_new_tokens: 200, temperature: 0 }) });
        return parseSse(await res.text())
          .filter((e) => e.event === 'token')
          .map((e) => (e.data as { text: string }).text)
          .join('');
      }),
    );
    expect(texts).toEqual([want, want]);
  });

  describe('bad requests', () => {
    it.each([
      ['not JSON', '{', /bad request/],
      ['an unknown field', '{"max_tokens": 5}', /unknown field "max_tokens"/],
      ['a prompt that is not a string', '{"prompt": 5}', /"prompt" must be a string/],
      ['too many tokens', '{"max_new_tokens": 100000}', /"max_new_tokens" must be a number/],
    ])('%s → 400', async (_name, body, message) => {
      const res = await fetch(`${base}/generate`, { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(message);
    });
    it('GET → 405, another path → 404', async () => {
      expect((await fetch(`${base}/generate`)).status).toBe(405);
      expect((await fetch(`${base}/nope`, { method: 'POST' })).status).toBe(404);
    });
  });
});
