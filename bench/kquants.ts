/**
 * `npm run bench:kquants [-- --json]`: the K-quant and IQ4_XS matmuls (assembly/quants/kquants.ts) beside their
 * scalar `_ref` twins at decode shapes (one activation row) and a prefill shape (64 rows, where the 4-row tile
 * decodes each weight chunk once for four rows), with the Q8_K activation quantization timed apart, and the weight
 * stream as GB/s and as a fraction of the read probe measured in the same run. SIMD and _ref alternate round by
 * round; figures are medians of the per-round ratio. Times are the process's CPU time (process.cpuUsage), not wall
 * time: on a machine shared with other jobs, wall time also counts the slices the scheduler gave to them (measured
 * here with a load of ~15 on 2 cores: wall-time medians 2-25× the CPU time for the same call).
 */
import { actRowBytes, QUANT_TYPES, quantBytes, type QuantType } from '../src/runtime/quant.js';
import { Runtime } from '../src/runtime/runtime.js';
import { JSON_OUTPUT, log, median, printTable, ReadProbe, xorshift32 } from './util.js';

const rt = await Runtime.create({ relaxedSimd: process.argv.includes('--simd') ? false : 'auto' });
const k = rt.kernels;
log(`weft K-quant kernels: ${rt.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'} build, Node ${process.version}, one thread.\n`);

const TYPES: QuantType[] = ['Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_XS'];
/** [rows, inF, outF]: SmolLM2-135M's ffn_down (inF 1536; its 576-wide rows are not K-quantizable), a 7B-class square matrix, a prefill batch. */
const SHAPES: Array<[number, number, number]> = [
  [1, 1536, 576],
  [1, 4096, 4096],
  [64, 1536, 576],
];
/** Offsets of the f16 scale fields per block, set to sane values so random bytes never make inf/nan scales. */
const SCALE_FIELDS: Record<string, number[]> = { Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208], IQ4_XS: [0] };

const nextBits = xorshift32();

/** CPU seconds per call of fn: calls repeated for at least `minMs` of wall time, CPU time divided by the count. */
function cpuSeconds(fn: () => void, minMs = 20): number {
  const start = process.cpuUsage();
  const wall = performance.now();
  let n = 0;
  do {
    fn();
    n++;
  } while (performance.now() - wall < minMs);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6 / n;
}

/** Per function, CPU seconds per call in `rounds` alternating rounds (after one warm-up call each). */
function alternate(fns: ReadonlyArray<() => void>, rounds: number): number[][] {
  for (const fn of fns) fn();
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) fns.forEach((fn, i) => times[i].push(cpuSeconds(fn)));
  return times;
}

const probe = new ReadProbe(rt);
const readGBs = probe.bytesPerSecond() / 1e9;
log(`read probe: ${readGBs.toFixed(1)} GB/s\n`);

const rows: Array<Array<string | number>> = [];
const json: unknown[] = [];
for (const [nRows, inF, outF] of SHAPES) {
  const x = rt.alloc('f32', [nRows * inF]);
  const xf = rt.f32View(x);
  for (let i = 0; i < xf.length; i++) xf[i] = nextBits() / 2 ** 31 - 1;
  const xq = rt.heap.alloc(nRows * actRowBytes('Q8_K', inF));
  const y = rt.alloc('f32', [nRows * outF]);
  const quantize = median(alternate([() => k.quantizeActQ8_K(x.offset, xq, inF, 0, nRows)], 5)[0]);
  for (const type of TYPES) {
    const q = QUANT_TYPES[type];
    const bytes = quantBytes(type, outF, inF);
    const w = rt.heap.alloc(bytes);
    const u8 = rt.u8;
    for (let i = 0; i < bytes; i++) u8[w + i] = nextBits() & 255;
    const view = new DataView(rt.memory.buffer);
    for (let b = 0; b < bytes / q.typeSize; b++) for (const at of SCALE_FIELDS[type]) view.setUint16(w + b * q.typeSize + at, 0x2000 + (nextBits() & 0x3ff), true);
    const simd = () => q.linear(k)(xq, w, 0, y.offset, nRows, inF, outF, 0, outF);
    const ref = () => q.linearRef(k)(xq, w, 0, y.offset, nRows, inF, outF, 0, outF);
    const [ts, tr] = alternate([simd, ref], 7);
    const tSimd = median(ts);
    const ratio = median(tr.map((t, i) => t / ts[i]));
    const gbs = bytes / tSimd / 1e9;
    const shape = `${nRows}×${inF}×${outF}`;
    rows.push([type, shape, tSimd * 1e3, median(tr) * 1e3, ratio, (nRows * inF * outF * 2) / tSimd / 1e9, gbs, gbs / readGBs, quantize * 1e3]);
    json.push({ type, rows: nRows, inF, outF, simd_ms: tSimd * 1e3, ref_ms: median(tr) * 1e3, ref_over_simd: ratio, gops: (nRows * inF * outF * 2) / tSimd / 1e9, weight_gbs: gbs, read_fraction: gbs / readGBs, quantize_act_ms: quantize * 1e3 });
    rt.heap.release(w);
  }
  rt.heap.release(xq);
  rt.free(x);
  rt.free(y);
}
printTable('K-quant matmul (xq · Wᵀ), SIMD vs scalar _ref', ['type', 'rows×inF×outF', 'SIMD ms', '_ref ms', '_ref ÷ SIMD', 'Gop/s', 'weights GB/s', '× read probe', 'quantize x ms'], rows);
if (JSON_OUTPUT) process.stdout.write(JSON.stringify({ read_gbs: readGBs, kernels: json }, null, 1) + '\n');
