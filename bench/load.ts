/**
 * Peak JS memory while loading a large model (SmolLM2-135M shape, random f32 weights, ~540 MB: make-random-model.ts)
 * from a path, from a local HTTP server without the cache (Range requests straight into wasm memory) and with the
 * cache (download to disk, verified, then read from it). The weights go into wasm memory, which is not JS heap:
 * what this shows is what the loader holds in JS on the way (heapUsed + arrayBuffers, above the level before the
 * load), sampled every 5 ms and at every progress event. Each case runs in a fresh Runtime.
 *
 * Usage: npm run bench:load [-- --json] [-- --model gpt2-124m]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/models/load.js';
import { Runtime } from '../src/runtime/runtime.js';
import { startHub } from '../test/web-sources/hub-server.js';
import { ensureBenchModel } from './make-random-model.js';
import { JSON_OUTPUT, log, printTable } from './util.js';

const name = process.argv.includes('--model') ? process.argv[process.argv.indexOf('--model') + 1] : 'smollm2-135m';
const { dir } = await ensureBenchModel(name);
const hub = await startHub({ 'bench/model': dir }, {});
const cacheDir = await mkdtemp(join(tmpdir(), 'weft-bench-cache-'));
const MB = 1e6;

const jsBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
if (!global.gc) throw new Error('run with --expose-gc (npm run bench:load does): each case must start from a collected heap');

async function measure(label: string, source: string, options: { cache?: boolean; cacheDir?: string }) {
  global.gc?.();
  const rt = await Runtime.create();
  const base = jsBytes();
  let peak = base;
  const sample = () => (peak = Math.max(peak, jsBytes()));
  const timer = setInterval(sample, 5);
  const start = performance.now();
  let total = 0;
  try {
    const lm = await loadModel(source, { runtime: rt, ...options, onProgress: (p) => ((total = p.total), sample()) });
    lm.model.dispose();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - start) / 1000;
  const row = { label, fileMB: total / MB, seconds, peakJsAboveBaseMB: (peak - base) / MB, wasmMemoryMB: rt.memory.buffer.byteLength / MB };
  rt.dispose();
  log(`${label}: ${row.peakJsAboveBaseMB.toFixed(1)} MB peak JS above baseline, ${seconds.toFixed(2)} s`);
  return row;
}

try {
  const url = `${hub.url}/bench/model/resolve/main/`;
  const rows = [
    await measure('URL, no cache (Range → wasm)', url, { cache: false }),
    await measure('path', dir, {}),
    await measure('URL, cache (download → disk → wasm)', url, { cacheDir }),
    await measure('URL, cache hit', url, { cacheDir }),
  ];
  if (JSON_OUTPUT) console.log(JSON.stringify({ model: name, rows }, null, 2));
  printTable(
    `Peak JS memory (heapUsed + arrayBuffers above the level before the load) loading ${name}; machine shared and noisy`,
    ['source', 'files MB', 'seconds', 'peak JS MB', 'wasm memory MB'],
    rows.map((r) => [r.label, r.fileMB.toFixed(0), r.seconds.toFixed(2), r.peakJsAboveBaseMB.toFixed(1), r.wasmMemoryMB.toFixed(0)]),
  );
} finally {
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
}
