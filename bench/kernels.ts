// Kernel bench: check every fast kernel against its _ref on random data, then time them.
//
//   npm run build:wasm && npx tsx bench/kernels.ts [--quick]
//
// Instantiates build/fairy2i.wasm with plain WebAssembly.instantiate over a shared memory of its
// own (the module imports one: it is built with threads) and manages memory itself from
// heap_base(), as the host does. Bandwidth numbers count bytes of packed
// codes read per second (cmatvec at S = 2 reads 2 bits per real weight); the roofline is
// bandwidth_read streaming a buffer larger than the last-level cache. Each timed call of a
// quantized kernel reads a different copy of its codes (96 MiB of copies in all), so the codes come
// from memory as in decode, where every layer's weights are read once per token, not from the
// 32 MiB L3 a single 4-11 MiB matrix would stay in. Kernels and the roofline are timed in
// interleaved rounds (see rounds()): the machine is shared, and ratios within a run are what can
// be compared.

import { readFileSync } from "node:fs";

const quick = process.argv.includes("--quick");
// --batch: only the batch section (after the checks)
const quickBatch = process.argv.includes("--batch");
const wasmArg = process.argv.indexOf("--wasm");
const wasmPath = wasmArg > 0 ? process.argv[wasmArg + 1] : new URL("../build/fairy2i.wasm", import.meta.url);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {
  env: { memory: new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true }) },
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const k = instance.exports as any;
const memory = k.memory as WebAssembly.Memory;

// ---- memory: a bump allocator above the module's static data ----
let top = align(k.heap_base() as number, 64);
function align(p: number, a: number): number {
  return Math.ceil(p / a) * a;
}
function alloc(bytes: number): number {
  const p = top;
  top = align(top + bytes, 64);
  const need = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
  if (need > 0) memory.grow(need);
  return p;
}
const f32 = (p: number, n: number) => new Float32Array(memory.buffer, p, n);
const u8 = (p: number, n: number) => new Uint8Array(memory.buffer, p, n);
const u16 = (p: number, n: number) => new Uint16Array(memory.buffer, p, n);

// ---- deterministic random data (mulberry32) ----
let seed = 0x2f6e2b1;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const fillF32 = (p: number, n: number, s = 1) => { const v = f32(p, n); for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * s; };
const fillU8 = (p: number, n: number) => { const v = u8(p, n); for (let i = 0; i < n; i++) v[i] = (rand() * 256) | 0; };
const fillF16 = (p: number, n: number) => { const v = u16(p, n); for (let i = 0; i < n; i++) v[i] = k.f32_to_f16_bits((rand() * 2 - 1) * 0.1); };
const codesBytes = (n: number, m: number, S: number) => Math.ceil(n / 16) * 16 * Math.ceil(m / 2) * S; // layout 2

// ---- check ----
// Fast and _ref sum in different orders. For n summed terms each of them is within
// gamma_n = n·u/(1 − n·u) · Σ|terms| of the exact sum (Higham, Accuracy and Stability, eq. 4.4),
// u = 2^-24, so they differ by at most 2·gamma_n·Σ|terms|; we compare against that with n the
// number of terms per output plus a few for the final combination.
const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);
let failures = 0;
function compare(name: string, got: Float32Array, want: Float32Array, bound: (i: number) => number): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const b = bound(i);
    if (!(d <= b)) { failures++; console.log(`MISMATCH ${name} [${i}]: fast ${got[i]} ref ${want[i]} bound ${b}`); return; }
    if (b > 0) worst = Math.max(worst, d / b);
  }
  if (!quick) console.log(`  ok ${name}  (worst |fast-ref| = ${worst.toExponential(1)} of the bound)`);
}

const QMAX: Record<number, number> = { 1: 127, 3: 1040319 };

function checkCmatvec(n: number, m: number, S: number, T: number, L: number): void {
  // The table kernel at L digit levels against its scalar twin (bit for bit) and against the exact
  // reference (within the table rounding: per lookup d_b/2 = max|entry| of its 64-input block / (2·Q),
  // Q = 8127 at 2 levels, 1040319 at 3; see assembly/cmatvec.ts; plus f32 rounding).
  const cb = codesBytes(n, m, S);
  const codes = alloc(cb); fillU8(codes, cb);
  const scales = alloc(16 * S); { const s = f32(scales, 4 * S); for (let i = 0; i < 4 * S; i++) s[i] = 0.01 + rand() * 0.05; }
  const x = alloc(8 * m * T); fillF32(x, 2 * m * T);
  const tb = k.cmatvec_tables_bytes(m, S, L);
  const tables = alloc(tb * T);
  for (let t = 0; t < T; t++) k.cmatvec_prepare(tables + t * tb, x + 8 * m * t, scales, m, S, L);
  const y1 = alloc(8 * n * T), y2 = alloc(8 * n * T), y3 = alloc(8 * n * T);
  const sc = f32(scales, 4 * S);
  let ssum = 0; for (let i = 0; i < 4 * S; i++) ssum += sc[i];
  const bounds: number[] = [];
  for (let t = 0; t < T; t++) {
    const v = f32(x + 8 * m * t, 2 * m); let s = 0; for (const e of v) s += Math.abs(e);
    const d = f32(tables + t * tb + 64, Math.ceil(Math.ceil(m / 2) / 32));
    let q = 0; d.forEach((db, b) => { q += (Math.min(m, 64 * b + 64) - 64 * b) * S * (db / 2 + 5 * U * db * 1040319); });
    bounds.push(q + 2 * gamma(2 * m + 8 * S + 4) * ssum * s);
  }
  const name = (T === 1 ? `cmatvec n=${n} m=${m} S=${S}` : `cmatmul n=${n} m=${m} S=${S} T=${T}`) + ` L=${L}`;
  if (T === 1) {
    k.cmatvec(y1, tables, codes, scales, n, m, S, 0, n);
    k.cmatvec_lut_ref(y2, tables, codes, scales, n, m, S, 0, n);
    k.cmatvec_ref(y3, x, codes, scales, n, m, S, 0, n);
  } else {
    k.cmatmul(y1, tables, codes, scales, n, m, S, T, 0, n);
    for (let t = 0; t < T; t++) k.cmatvec_lut_ref(y2 + 8 * n * t, tables + t * tb, codes, scales, n, m, S, 0, n);
    k.cmatmul_ref(y3, x, codes, scales, n, m, S, T, 0, n);
  }
  compare(`${name} vs lut_ref`, f32(y1, 2 * n * T), f32(y2, 2 * n * T), () => 0);
  if (T === 1) { // the SIMD table build against the scalar one, byte for byte
    const t2 = alloc(tb);
    u8(t2, tb).set(u8(tables, tb)); // header and scale padding are not written
    k.cmatvec_prepare_ref(t2, x, scales, m, S, L);
    const a = u8(tables, tb), b = u8(t2, tb);
    const d = a.findIndex((v, i) => v !== b[i]);
    if (d >= 0) { failures++; console.log(`MISMATCH cmatvec_prepare m=${m} S=${S}: byte ${d} of the tables differs from cmatvec_prepare_ref`); }
  }
  compare(`${name} vs exact ref`, f32(y1, 2 * n * T), f32(y3, 2 * n * T), (i) => bounds[Math.floor(i / (2 * n))]);
}

function checkMatvec(kind: "f32" | "f16", nOut: number, nIn: number, T: number): void {
  const wb = kind === "f32" ? 4 : 2;
  const w = alloc(nOut * nIn * wb);
  if (kind === "f32") fillF32(w, nOut * nIn, 0.1); else fillF16(w, nOut * nIn);
  const x = alloc(4 * nIn * T); fillF32(x, nIn * T);
  const y1 = alloc(4 * nOut * T), y2 = alloc(4 * nOut * T);
  const bound = () => 2 * gamma(nIn + 2) * 0.1 * nIn; // |w| <= 0.1, |x| <= 1
  if (T === 1) {
    k[`matvec_${kind}`](y1, x, w, nOut, nIn, 0, nOut);
    k[`matvec_${kind}_ref`](y2, x, w, nOut, nIn, 0, nOut);
  } else {
    k[`matmul_${kind}`](y1, x, w, nOut, nIn, T, 0, nOut);
    k[`matmul_${kind}_ref`](y2, x, w, nOut, nIn, T, 0, nOut);
  }
  compare(`mat${T === 1 ? "vec" : "mul"}_${kind} ${nOut}x${nIn} T=${T}`, f32(y1, nOut * T), f32(y2, nOut * T), bound);
}

const mark = top;
for (const [n, m] of [[7, 101], [17, 129], [64, 2048], [33, 5504]]) {
  for (const L of [1, 3]) {
    for (const S of [1, 2, 3, 4]) checkCmatvec(n, m, S, 1, L);
    checkCmatvec(n, m, 2, 5, L);
  }
}
for (const kind of ["f32", "f16"] as const) for (const T of [1, 3, 8]) checkMatvec(kind, 33, 4099, T);
top = mark;
if (failures > 0 && !process.argv.includes("--time-only")) {
  console.log(`${failures} kernel(s) do not match their _ref: not timing them`);
  process.exit(1);
}
console.log("all results match");
if (quick) process.exit(0);

// ---- timing ----
function time(fn: () => void, minMs: number, maxReps: number): number {
  fn(); // warm up (JIT tier-up, page faults)
  const ts: number[] = [];
  const t0 = performance.now();
  while (ts.length < maxReps && (ts.length < 3 || performance.now() - t0 < minMs)) {
    const a = performance.now();
    fn();
    ts.push(performance.now() - a);
  }
  ts.sort((p, q) => p - q);
  return ts[Math.floor(ts.length / 2)]; // median, ms
}
const gbs = (bytes: number, ms: number) => bytes / ms / 1e6;

const rooflineBytes = 64 << 20;
const rbuf = alloc(rooflineBytes); fillU8(rbuf, rooflineBytes);

/**
 * CPU time of this process in ms (µs resolution): a call of several ms on a loaded machine is
 * preempted in most rounds, so the fastest wall time favours short calls; CPU time does not count
 * the time other processes ran.
 */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/**
 * Fastest call of each variant over interleaved rounds (each round calls every variant once), ms.
 * The minimum, not the median: on a shared machine other processes only ever add time, and a
 * call of several ms is preempted more often than one of 0.5 ms, which would skew the ratios.
 */
function rounds(variants: (() => void)[], minMs: number, maxRounds: number, clock = () => performance.now()): number[] {
  for (const v of variants) v(); // warm up
  const ts = variants.map(() => [] as number[]);
  const t0 = performance.now();
  for (let r = 0; r < maxRounds && (r < 3 || performance.now() - t0 < minMs); r++) {
    variants.forEach((v, i) => { const a = clock(); v(); ts[i].push(clock() - a); });
  }
  return ts.map((t) => Math.min(...t));
}

{
  const [roofMs] = rounds([() => k.bandwidth_read(rbuf, rooflineBytes, 1)], 300, 20);
  console.log(`\nbandwidth_read ${rooflineBytes >> 20} MiB: ${gbs(rooflineBytes, roofMs).toFixed(2)} GB/s (memory roofline, fastest of the rounds)`);
}

console.log(`
quantized linears at LLaMA-2-7B shapes (real out x in), one thread: GB/s of packed codes, % of the roofline
  tables1: the engine's default kernel (precision 'fast'), int8 tables; prepare: its per-vector table build
  tables3: precision 'exact', 3 digit levels (~20-bit tables)
  ref: the exact scalar reference
  in cache: tables1 on one copy of the codes every call (from L2/L3): the kernel's own speed
  build: ${typeof wasmPath === "string" ? wasmPath : "build/fairy2i.wasm"}`);
const EVICT = 96 << 20;
for (const S of quickBatch ? [] : [2, 1]) {
  console.log(`S = ${S}\nshape          codes MiB   tables1 ms  GB/s   %roof   tables3 ms  GB/s   %roof   prepare ms   ref ms  in cache GB/s`);
  for (const [outR, inR] of [[4096, 4096], [11008, 4096], [4096, 11008]]) {
    const n = outR / 2, m = inR / 2;
    const bytes = codesBytes(n, m, S);
    const copies = Math.max(1, Math.ceil(EVICT / bytes));
    const cs = Array.from({ length: copies }, () => { const c = alloc(bytes); fillU8(c, bytes); return c; });
    const scales = alloc(16 * S); fillF32(scales, 4 * S, 0.05);
    const x = alloc(8 * m); fillF32(x, 2 * m);
    const y = alloc(8 * n);
    const t3 = alloc(k.cmatvec_tables_bytes(m, S, 3)), t1 = alloc(k.cmatvec_tables_bytes(m, S, 1));
    k.cmatvec_prepare(t1, x, scales, m, S, 1);
    k.cmatvec_prepare(t3, x, scales, m, S, 3);
    let i3 = 0, i1 = 0;
    const [roofMs, ms1, ms3, prep, hot1] = rounds([
      () => k.bandwidth_read(rbuf, rooflineBytes, 1),
      () => k.cmatvec(y, t1, cs[i1++ % copies], scales, n, m, S, 0, n),
      () => k.cmatvec(y, t3, cs[i3++ % copies], scales, n, m, S, 0, n),
      () => k.cmatvec_prepare(t1, x, scales, m, S, 1),
      () => k.cmatvec(y, t1, cs[0], scales, n, m, S, 0, n), // the same copy every time: codes from L2/L3
    ], 1500, 60);
    const ref = outR === 4096 && inR === 4096 ? time(() => k.cmatvec_ref(y, x, cs[0], scales, n, m, S, 0, n), 0, 3) : NaN;
    const r = gbs(rooflineBytes, roofMs);
    const col = (ms: number) => `${ms.toFixed(2).padStart(10)} ${gbs(bytes, ms).toFixed(2).padStart(6)} ${(gbs(bytes, ms) / r * 100).toFixed(0).padStart(6)}%`;
    console.log(`${`${outR}x${inR}`.padEnd(14)} ${(bytes / 2 ** 20).toFixed(2).padStart(9)} ${col(ms1)} ${col(ms3)} ${prep.toFixed(2).padStart(12)} ${Number.isNaN(ref) ? '        ' : ref.toFixed(0).padStart(8)}` +
      ` ${gbs(bytes, hot1).toFixed(2).padStart(10)}   (roofline this run ${r.toFixed(1)} GB/s)`);
    top = cs[0];
  }
}

{
  // Batches (prompts, several sequences decoding together) at LLaMA-2-7B's 4096x4096 and 11008x4096
  // (codes copies as above, so they come from memory), per vector against one cmatvec: cmatmul (the
  // swizzle kernel per vector over one tile's codes) and cmatbatch (groups of 4, 8 or 16 vectors in
  // the lanes, cmatbatch.ts, grouped as assembly/dispatch.ts groups them), with the table builds
  // each needs. Checked bit for bit against cmatvec first.
  const S = 2;
  // --shapes OUTxIN,..: other shapes (TinyLlama's: 2048x2048,256x2048,5632x2048,2048x5632); --parts P:
  // each call over P row ranges one after the other, as P shares of the rows on threads would be
  const shapeArg = process.argv.indexOf("--shapes"), partsArg = process.argv.indexOf("--parts");
  const shapes = shapeArg > 0 ? process.argv[shapeArg + 1].split(",").map((x) => x.split("x").map(Number)) : [[4096, 4096], [11008, 4096]];
  const parts = partsArg > 0 ? Number(process.argv[partsArg + 1]) : 1;
  const forced = Number(process.env.BATCH_WIDTH ?? 0); // a fixed group width, to compare widths
  const width = (r: number) => forced || (r > 8 ? 16 : 8);
  console.log(`\nbatches, S = ${S}, int8 tables, CPU ms per vector (one thread, fastest of interleaved rounds); cmatbatch's batch tables included`);
  console.log(`shape        B   cmatvec   cmatmul  cmatbatch  batch/cmatvec  (tables per vector ms)`);
  const Bs = [1, 2, 4, 8, 16, 64];
  for (const [outR, inR] of shapes) {
    const n = outR / 2, m = inR / 2;
    const share = Math.ceil(n / parts / 64) * 64; // a share's rows, as dispatch.ts aligns them
    const bytes = codesBytes(n, m, S);
    const copies = Math.max(1, Math.ceil(EVICT / bytes));
    const cs = Array.from({ length: copies }, () => { const c = alloc(bytes); fillU8(c, bytes); return c; });
    const scales = alloc(16 * S); fillF32(scales, 4 * S, 0.05);
    const Tmax = 64;
    const X = alloc(8 * m * Tmax); fillF32(X, 2 * m * Tmax);
    const tb = k.cmatvec_tables_bytes(m, S, 1), bb = k.cmatbatch_tables_bytes(m, S, 16);
    const tables = alloc(tb * Tmax), bt = alloc(bb * (Tmax / 4)), xt = alloc(k.cmatbatch_scratch_bytes());
    const Y = alloc(8 * n * Tmax), Y2 = alloc(8 * n * Tmax);
    for (let t = 0; t < Tmax; t++) k.cmatvec_prepare(tables + t * tb, X + 8 * m * t, scales, m, S, 1);
    for (const T of Bs) {
      const groups: [number, number][] = []; // [first vector, vectors]
      for (let v = 0; v < T; v += 16) groups.push([v, Math.min(16, T - v)]);
      const batchPrep = () => groups.forEach(([v, nv], g) => k.cmatbatch_tables(bt + g * bb, tables + v * tb, m, S, width(nv), nv, 0, Math.ceil(m / 2)));
      const batch = (c: number) => groups.forEach(([v, nv], g) => {
        if (nv === 1) k.cmatvec(Y2 + 8 * n * v, tables + v * tb, c, scales, n, m, S, 0, n);
        else for (let r0 = 0; r0 < n; r0 += share) k.cmatbatch(Y2, bt + g * bb, c, n, m, S, width(nv), v, nv, r0, Math.min(n, r0 + share), xt);
      });
      batchPrep(); batch(cs[0]);
      for (let t = 0; t < T; t++) k.cmatvec(Y + 8 * n * t, tables + t * tb, cs[0], scales, n, m, S, 0, n);
      const d = f32(Y, 2 * n * T).findIndex((v, i) => v !== f32(Y2, 2 * n * T)[i]);
      if (d >= 0) { console.log(`MISMATCH cmatbatch vs cmatvec at B=${T} [${d}]`); process.exit(1); }
      let i1 = 0, i2 = 0, i3 = 0;
      // cmatvec twice in a round (first and last), the faster counted: the first call of a round
      // follows the batch tables' build, which evicts its tables from L2
      const [one0, mm, bat, p2, one1] = rounds([
        () => k.cmatvec(Y, tables, cs[i1++ % copies], scales, n, m, S, 0, n),
        () => k.cmatmul(Y, tables, cs[i2++ % copies], scales, n, m, S, T, 0, n),
        () => batch(cs[i3++ % copies]),
        batchPrep,
        () => k.cmatvec(Y, tables, cs[i1++ % copies], scales, n, m, S, 0, n),
      ], quickBatch ? 400 : 1000, 20, cpuMs);
      const one = Math.min(one0, one1);
      const per = (bat + p2) / T;
      console.log(`${`${outR}x${inR}`.padEnd(11)} ${String(T).padStart(3)} ${one.toFixed(3).padStart(9)} ${(mm / T).toFixed(3).padStart(9)} ${per.toFixed(3).padStart(10)} ${(one / per).toFixed(2).padStart(10)}x   (${(p2 / T).toFixed(3)})`);
    }
    top = cs[0];
  }
}
if (quickBatch) process.exit(0);

for (const kind of ["f32", "f16"] as const) {
  const nOut = 4096, nIn = 4096, wb = kind === "f32" ? 4 : 2;
  const w = alloc(nOut * nIn * wb);
  if (kind === "f32") fillF32(w, nOut * nIn, 0.1); else fillF16(w, nOut * nIn);
  const x = alloc(4 * nIn); fillF32(x, nIn);
  const y = alloc(4 * nOut);
  const fast = time(() => k[`matvec_${kind}`](y, x, w, nOut, nIn, 0, nOut), 300, 30);
  const ref = time(() => k[`matvec_${kind}_ref`](y, x, w, nOut, nIn, 0, nOut), 0, 3);
  const bytes = nOut * nIn * wb;
  console.log(`matvec_${kind} 4096x4096: fast ${fast.toFixed(2)} ms ${gbs(bytes, fast).toFixed(2)} GB/s, ref ${ref.toFixed(2)} ms ${gbs(bytes, ref).toFixed(2)} GB/s, ${(ref / fast).toFixed(1)}x`);
  top = w;
}
