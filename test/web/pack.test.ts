/**
 * The package as users get it: `npm pack` the project, install the tarball into a fresh temporary project (its
 * runtime dependency, @huggingface/jinja, from the registry or npm's cache), then from plain Node:
 *   - `import 'weftjs'` and generate llama2.c's greedy story with the embedded stories260K, found through the
 *     package's exports (`weftjs/assets/…`) — a file missing from `files`, or an export missing, fails here;
 *   - the `weft` bin runs the embedded model;
 *   - no published source map points at a file that is not in the package (Vite warns about each one);
 *   - the script-tag build and its wasm are in the tarball.
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
import { dataPath, describeData } from '../helpers/data.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

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
    await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], { cwd: project });
  }, 180_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('imports weftjs from plain Node and generates the greedy story with the embedded model', async () => {
    await writeFile(
      join(project, 'main.js'),
      `import { loadModel, generate, Runtime } from 'weftjs';
import { fileURLToPath } from 'node:url';
const lm = await loadModel(fileURLToPath(import.meta.resolve('weftjs/assets/stories260K.bin')));
const r = await generate(lm, '', { max_new_tokens: 200, temperature: 0 });
console.log(JSON.stringify({ text: r.text, runtime: typeof Runtime.create }));
`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: project });
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
});
