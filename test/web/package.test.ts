/**
 * The package as users get it: `npm pack` the project, install the tarball into a fresh temporary project (its
 * runtime dependency, @huggingface/jinja, and the app's Vite from the registry or npm's cache), then from plain Node:
 *   - `import 'weftjs'` and generate llama2.c's greedy story with the embedded stories260K, found through the
 *     package's exports (`weftjs/assets/…`) — a file missing from `files`, or an export missing, fails here;
 *   - the `weft` bin runs the embedded model;
 *   - no published source map points at a file that is not in the package (Vite warns about each one);
 *   - the script-tag build and its wasm are in the tarball;
 * and as a Vite app that imports 'weftjs' with no Vite config at all:
 *   - `vite` (dev server, which pre-bundles weftjs into node_modules/.vite/deps) serves a page on which Chromium
 *     loads stories260K by URL and generates llama2.c's greedy story (the wasm URL used to become
 *     `.vite/deps/undefined`);
 *   - `vite build` prints no warning at all, and the built app, served statically, gives the same story.
 * It packs dist/ and build/ as `npm run build` (run by `npm ci`'s prepare) left them: `--ignore-scripts` keeps the
 * test from rebuilding the whole project (about a minute here).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dataPath, describeData } from '../helpers/data.js';
import { startProcess } from '../helpers/spawn.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The app's Vite: the version the project itself develops with. */
const VITE_VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.vite;

/** The Vite app: one page that imports weftjs and reports into #out. */
const APP_HTML = `<!doctype html><html><body><pre id="out">loading</pre><script type="module" src="/main.js"></script></body></html>`;
const APP_MAIN = `import { loadModel, generate } from 'weftjs';
const out = document.getElementById('out');
try {
  const lm = await loadModel(new URLSearchParams(location.search).get('model'));
  out.textContent = (await generate(lm, '', { max_new_tokens: 200, temperature: 0 })).text;
} catch (e) {
  out.textContent = 'error: ' + e.message;
}
`;

describeData('npm pack → install → import from Node', () => {
  let tmp: string;
  let project: string;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/index.js')) || !existsSync(join(ROOT, 'dist/weft.iife.js'))) throw new Error('dist/ is not built: run `npm run build`');
    tmp = await mkdtemp(join(tmpdir(), 'weft-pack-'));
    const { stdout } = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT });
    const tarball = join(tmp, (JSON.parse(stdout) as { filename: string }[])[0].filename);
    project = join(tmp, 'app');
    await run('mkdir', ['-p', project]);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'weft-pack-test', private: true, type: 'module' }));
    await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `vite@${VITE_VERSION}`], { cwd: project });
    await writeFile(join(project, 'index.html'), APP_HTML);
    await writeFile(join(project, 'main.js'), APP_MAIN);
  }, 180_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('imports weftjs from plain Node and generates the greedy story with the embedded model', async () => {
    await writeFile(
      join(project, 'node.js'),
      `import { loadModel, generate, Runtime } from 'weftjs';
import { fileURLToPath } from 'node:url';
const lm = await loadModel(fileURLToPath(import.meta.resolve('weftjs/assets/stories260K.bin')));
const r = await generate(lm, '', { max_new_tokens: 200, temperature: 0 });
console.log(JSON.stringify({ text: r.text, runtime: typeof Runtime.create }));
`,
    );
    const { stdout } = await run(process.execPath, ['node.js'], { cwd: project });
    const out = JSON.parse(stdout) as { text: string; runtime: string };
    expect(out.text).toBe(await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.txt'), 'utf8'));
    expect(out.runtime).toBe('function');
  });

  it('runs the weft bin with the embedded model', async () => {
    const { stdout } = await run(join(project, 'node_modules/.bin/weft'), ['generate', '--max-new-tokens', '200', '--temperature', '0', '--json'], { cwd: project });
    const want = await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.txt'), 'utf8');
    expect((JSON.parse(stdout) as { text: string }).text).toBe(want);
  });

  it('ships the script-tag build with its wasm, and every source map resolves inside the package', async () => {
    const pkg = join(project, 'node_modules/weftjs');
    for (const f of ['dist/weft.iife.js', 'dist/weft-simd.wasm', 'dist/weft-relaxed.wasm', 'build/weft-simd.wasm', 'build/weft-relaxed.wasm']) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    const maps = (await readdir(join(pkg, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    const unresolved: string[] = [];
    for (const m of maps) {
      const map = JSON.parse(await readFile(join(pkg, 'dist', m), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      map.sources.forEach((s, i) => {
        if (typeof map.sourcesContent?.[i] !== 'string' && !existsSync(resolve(dirname(join(pkg, 'dist', m)), s))) unresolved.push(`${m} → ${s}`);
      });
    }
    expect(unresolved).toEqual([]);
  });

  describeBrowser('a Vite app importing weftjs', () => {
    let browser: TestBrowser;
    let models: StaticServer;
    let expected: string;
    beforeAll(async () => {
      browser = await launchBrowser();
      models = await startStaticServer({ mounts: { '/': dataPath('llama2c-stories260k') } });
      expected = await readFile(dataPath('llama2c-stories260k/expected_greedy_bos_200.txt'), 'utf8');
    });
    afterAll(async () => {
      await browser?.close();
      await models?.close();
    });

    async function pageResult(url: string): Promise<string> {
      const page = await browser.newPage();
      try {
        await page.goto(`${url}?model=${models.url}/stories260K.gguf`);
        await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'loading', null, { timeout: 30_000 });
        return (await page.textContent('#out')) ?? '';
      } finally {
        await page.close();
      }
    }

    it('works under `vite` (dev server, dependencies pre-bundled)', async () => {
      const vite = await startProcess(join(project, 'node_modules/.bin/vite'), ['--host', '127.0.0.1', '--port', '0', '--force'], {
        cwd: project,
        env: { ...process.env, NO_COLOR: '1' },
        ready: /Local:\s+(http:\/\/127\.0\.0\.1:\d+)/,
      });
      try {
        expect(await pageResult(`${vite.match[1]}/`), browser.log.join('\n')).toBe(expected);
        // the dependency really was pre-bundled, which is what used to break the wasm URL
        expect(existsSync(join(project, 'node_modules/.vite/deps/weftjs.js'))).toBe(true);
      } finally {
        await vite.stop();
      }
    });

    it('works after `vite build`, which prints no warning', async () => {
      const { stdout, stderr } = await run(join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env: { ...process.env, NO_COLOR: '1' } });
      // no warning (about source maps, node: modules, …): only the build's own progress lines
      expect((stdout + stderr).split('\n').filter((l) => /warn|\[plugin|sourcemap/i.test(l))).toEqual([]);
      expect((await readdir(join(project, 'dist/assets'))).filter((f) => f.endsWith('.wasm'))).toHaveLength(4); // simd, relaxed and their shared-memory (threads) twins: a page fetches one
      const server = await startStaticServer({ mounts: { '/': join(project, 'dist') } });
      try {
        expect(await pageResult(`${server.url}/`), browser.log.join('\n')).toBe(expected);
      } finally {
        await server.close();
      }
    });
  });
});
