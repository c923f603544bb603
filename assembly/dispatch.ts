// The engine's dispatch: which kernel a linear layer runs (set_kernel, the linear_codes_* calls over
// cmatvec.ts and cmatbatch.ts) and how a linear or attention is split between threads (threads.ts
// hands out the chunks, run_chunk computes one). Kernel files hold kernels; forward.ts is one
// forward pass over these calls.

import { cmatvec, cmatvec_prepare, cmatvec_prepare_blocks, cmatvec_ref, cmatvec_tables_bytes, cmatmul, cmatmul_ref, tableBlocks } from './cmatvec';
import { BATCH_LANES, batch_width, cmatbatch, cmatbatch_scratch_bytes, cmatbatch_tables, cmatbatch_tables_bytes } from './cmatbatch';
import { matvec_f16, matvec_f32, matmul_f16, matmul_f32 } from './matvec';
import { attention_heads, attention_heads_f16kv } from './attention';
import { batch_row_parts, chunk_r0, chunk_r1, chunk_rows, job_arg, parallel, set_job_arg, thread_index } from './threads';
import { D_ATT, D_CTX, D_HEAD_DIM, D_HEADS, D_KV, D_KV_F16, D_KV_HEADS, D_KV_STRIDE, D_LAYERS, LIN_CODES, LIN_F16 } from '../src/descriptor';

// ---- Kernel selection ---------------------------------------------------------------------------

/**
 * Table levels the engine's linears use: 1 (int8 tables, the default, "fast"), 3 ("exact"), or 0
 * for the scalar f32 reference. A set-once configuration of this instance: the calling thread writes it
 * into each linear's tables header (linear_codes_begin), which is what other threads read.
 */
let KERNEL: i32 = 1;

export function set_kernel(k: i32): void {
  // k: 1 the table kernel on int8 tables (the default), 3 at 3 digit levels (~20 bits, within
  // 3e-5 of the float64 goldens), 0 the exact scalar reference (tests compare them)
  KERNEL = k == 0 || k == 3 ? k : 1;
}

export function kernel_build(): i32 {
  // -> 1 for the relaxed-SIMD build (build/fairy2i-relaxed.wasm: relaxed_swizzle for the table
  // lookups), 0 for the SIMD128 build (build/fairy2i.wasm)
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** Starts a linear's tables on the calling thread: writes its levels into the header and returns them (0: reference). */
export function linear_codes_begin(tables: usize): i32 {
  store<u32>(tables, KERNEL);
  return KERNEL;
}

/**
 * Tables for x_0 .. x_{T−1} (rows of X, 2m floats each) at tables + t·cmatvec_tables_bytes(m, S, L),
 * L the levels linear_codes_begin wrote at `tables` (the first vector's header).
 */
export function linear_codes_prepare(tables: usize, X: usize, scales: usize, m: i32, S: i32, T: i32, L: i32): void {
  const stride = <usize>cmatvec_tables_bytes(m, S, L);
  for (let t = 0; t < T; t++) cmatvec_prepare(tables + <usize>t * stride, X + (<usize>(t * m) << 3), scales, m, S, L);
}

// A batch of T >= BATCH_MIN vectors on int8 tables runs through cmatbatch.ts: groups of 16 vectors,
// then the rest as one group of 8 or 16 where there are at least BATCH_MIN of them, else through
// cmatmul. Its scratch follows the T vectors' tables: each group's batch tables (src/layout.ts plans
// the total); each thread has cmatbatch_scratch_bytes() of its own.

/**
 * Fewest vectors a group runs through cmatbatch: at 4 vectors in a group of 8, cmatbatch costs per
 * vector what cmatmul (cmatvec's lookups, one tile's codes for every vector) does; at 5, 1.2-1.4x less
 * (bench/results/kernels-batch.txt).
 */
const BATCH_MIN: i32 = 5;

/**
 * Fewest rows a linear runs through cmatbatch: each share of its rows pays a chunk's expansion (256
 * lines per record), which at TinyLlama's k, v (128 rows) costs more than cmatmul's whole pass; at
 * 1024 rows in two shares cmatbatch is 1.1x cmatmul, at 2816 1.4x (bench/results/kernels-batch.txt).
 */
const BATCH_MIN_ROWS: i32 = 1024;

/**
 * Groups a batch of T at L levels runs through cmatbatch for a linear of n complex rows (0: none):
 * the full groups of 16 and a last narrower one.
 */
export function linear_codes_groups(T: i32, L: i32, n: i32): i32 {
  if (L != 1 || n < BATCH_MIN_ROWS) return 0;
  return (T >> 4) + ((T & 15) >= BATCH_MIN ? 1 : 0);
}

/** Width of group g (4, 8 or 16) of a batch of T. */
// @ts-ignore: decorator
@inline
function groupWidth(T: i32, g: i32): i32 {
  return g < (T >> 4) ? BATCH_LANES : batch_width(T & 15);
}

/** Vectors in group g of a batch of T. */
// @ts-ignore: decorator
@inline
function groupVectors(T: i32, g: i32): i32 {
  return min(BATCH_LANES, T - g * BATCH_LANES);
}

/**
 * Units of a batch's rows pass (0 when it has no groups): each group, and the vectors after the last
 * group together (through cmatmul), each over any row range.
 */
export function linear_codes_units(T: i32, L: i32, n: i32): i32 {
  const G = linear_codes_groups(T, L, n);
  return G == 0 ? 0 : G + (T > G * BATCH_LANES ? 1 : 0);
}

/** Where group g's batch tables start, for T vectors at L levels (groups before g are 16 wide). */
// @ts-ignore: decorator
@inline
function groupTables(tables: usize, m: i32, S: i32, T: i32, L: i32, g: i32): usize {
  return tables + <usize>T * <usize>cmatvec_tables_bytes(m, S, L) + <usize>g * <usize>cmatbatch_tables_bytes(m, S, BATCH_LANES);
}

export function linear_codes_scratch_bytes(m: i32, S: i32, T: i32): i32 {
  // -> bytes of a linear's tables scratch for T vectors (m complex inputs, S stages):
  // the most either precision uses
  const exact = T * cmatvec_tables_bytes(m, S, 3);
  const G = linear_codes_groups(T, 1, I32.MAX_VALUE);
  const fast = G == 0 ? T * cmatvec_tables_bytes(m, S, 1) : <i32>groupTables(0, m, S, T, 1, G - 1) + cmatbatch_tables_bytes(m, S, groupWidth(T, G - 1));
  return max(exact, fast);
}

/** Pairs [u0, u1) of the batch tables, counting pairs of all groups in a row (P per group): one thread's share. */
export function linear_codes_batch(tables: usize, m: i32, S: i32, T: i32, u0: i32, u1: i32): void {
  const P = (m + 1) >> 1;
  const stride = <usize>cmatvec_tables_bytes(m, S, 1);
  while (u0 < u1) {
    const g = u0 / P, p0 = u0 - g * P, p1 = min(P, p0 + u1 - u0);
    cmatbatch_tables(groupTables(tables, m, S, T, 1, g), tables + <usize>(g * BATCH_LANES) * stride, m, S, groupWidth(T, g), groupVectors(T, g), p0, p1);
    u0 += p1 - p0;
  }
}

/**
 * Unit u (linear_codes_units) of a batch's rows [r0, r1): group u's vectors through cmatbatch, or
 * the vectors after the last group through cmatmul. scratch: the calling thread's own.
 */
export function linear_codes_unit(Y: usize, tables: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, u: i32, r0: i32, r1: i32, scratch: usize): void {
  const L = <i32>load<u32>(tables);
  const G = linear_codes_groups(T, L, n);
  if (u < G) {
    cmatbatch(Y, groupTables(tables, m, S, T, L, u), codes, n, m, S, groupWidth(T, u), u * BATCH_LANES, groupVectors(T, u), r0, r1, scratch);
  } else {
    const done = G * BATCH_LANES;
    cmatmul(Y + <usize>done * (<usize>n << 3), tables + <usize>done * <usize>cmatvec_tables_bytes(m, S, L), codes, scales, n, m, S, T - done, r0, r1);
  }
}

/**
 * Rows [r0, r1) of Y (T, 2n) = the layer applied to X (T, 2m), on any thread, after linear_codes_prepare
 * (and _batch); scratch: the calling thread's own cmatbatch_scratch_bytes().
 */
// @ts-ignore: decorator
@inline
export function linear_codes_rows(Y: usize, X: usize, tables: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, r0: i32, r1: i32, scratch: usize): void {
  const L = <i32>load<u32>(tables);
  const units = linear_codes_units(T, L, n);
  if (L == 0) {
    if (T == 1) cmatvec_ref(Y, X, codes, scales, n, m, S, r0, r1);
    else cmatmul_ref(Y, X, codes, scales, n, m, S, T, r0, r1);
  } else if (T == 1) {
    cmatvec(Y, tables, codes, scales, n, m, S, r0, r1);
  } else if (units == 0) {
    cmatmul(Y, tables, codes, scales, n, m, S, T, r0, r1);
  } else {
    for (let u = 0; u < units; u++) linear_codes_unit(Y, tables, codes, scales, n, m, S, T, u, r0, r1, scratch);
  }
}

// Thread pool jobs (threads.ts JOB_QUIT is 1).
const JOB_LINEAR: i32 = 2;
const JOB_ATTENTION: i32 = 3;
const JOB_PREPARE: i32 = 4; // a batch's tables, by whole vectors
const JOB_PREPARE_BLOCKS: i32 = 5; // one vector's tables, by blocks of 64 inputs
const JOB_BATCH_TABLES: i32 = 6; // a batch's groups of 16 vectors' tables transposed (cmatbatch.ts), by input pairs
const JOB_LINEAR_UNITS: i32 = 7; // a batch's rows pass by groups of 16 vectors (and row parts)

/** Rows a thread's share of a quantized linear is a multiple of (cmatvec.ts: GROUP_TILES · TILE). */
const CODE_ROWS_ALIGN: i32 = 64;

/** The calling thread's part of the per-thread scratch at ts (descriptor slot D_THREAD_SCRATCH). */
// @ts-ignore: decorator
@inline function own_scratch(ts: usize): usize {
  return ts + <usize>thread_index() * <usize>cmatbatch_scratch_bytes();
}

// ---- Linear layers -----------------------------------------------------------------------------
// A linear is y = W x for T input rows (x (T, inp) -> y (T, out), row-major; T = 1 in decode).
// linear() runs linear_prepare (per-input work, itself shared between threads where it is worth it),
// then splits the rows: linear_rows is the one place the kernels are called, for a range of rows,
// on any thread.

/**
 * Work done once per linear call before its rows are split between threads: the quantized kernel's
 * activation tables (cmatvec.ts), in the record's scratch, one set per input vector. With a pool,
 * threads share the build: decode's one vector by blocks of 64 inputs, a batch's by whole vectors.
 * The kernel setting (set_kernel: table levels, or 0 for the reference with no tables) belongs to
 * the calling thread's instance, so that thread writes it into the first header
 * (linear_codes_begin), and every thread's share of the build and of the rows reads it there.
 */
function linear_prepare(ctrl: usize, x: usize, rec: usize, out: i32, inp: i32, S: i32, T: i32): void {
  if (load<u32>(rec) != LIN_CODES) return;
  const m = inp >> 1;
  const tables = <usize>load<u32>(rec, 12), scales = <usize>load<u32>(rec, 8);
  const L = linear_codes_begin(tables);
  if (L == 0) return;
  // Decode splits its one vector by 64-input blocks, a batch by whole vectors. Work in the kernel's
  // units (one code, ~60 ps): a block's tables take ~1.2 µs per stage (16 entries (Re, Im) for each of
  // 64 inputs at 2 digit levels, measured), ~2^14 units.
  const units = T == 1 ? tableBlocks(m) : T;
  const blockWork = (1 << 14) * S;
  const chunk = chunk_rows(ctrl, units, T == 1 ? blockWork : blockWork * ((m + 63) >> 6), 1);
  if (chunk >= units) {
    linear_codes_prepare(tables, x, scales, m, S, T, L);
  } else {
    set_job_arg(ctrl, 0, <u32>x);
    set_job_arg(ctrl, 1, <u32>rec);
    set_job_arg(ctrl, 2, <u32>m);
    set_job_arg(ctrl, 3, <u32>S);
    parallel(ctrl, T == 1 ? JOB_PREPARE_BLOCKS : JOB_PREPARE, units, chunk);
  }
  // Batch tables: per input pair and group, 2 KiB per stage transposed (~0.1 µs per stage, ~2^11 units).
  const pairs = linear_codes_groups(T, L, out >> 1) * ((m + 1) >> 1);
  if (pairs == 0) return;
  const pc = chunk_rows(ctrl, pairs, (1 << 11) * S, 1);
  if (pc >= pairs) {
    linear_codes_batch(tables, m, S, T, 0, pairs);
    return;
  }
  set_job_arg(ctrl, 1, <u32>rec);
  set_job_arg(ctrl, 2, <u32>m);
  set_job_arg(ctrl, 3, <u32>S);
  set_job_arg(ctrl, 4, <u32>T);
  parallel(ctrl, JOB_BATCH_TABLES, pairs, pc);
}

/** Table levels linear_prepare wrote for the codes record at `rec` (0: the reference). */
// @ts-ignore: decorator
@inline function linear_codes_levels(rec: usize): i32 {
  return <i32>load<u32>(<usize>load<u32>(rec, 12));
}

/** Vectors [t0, t1) of linear_prepare's tables (one thread's share), at the levels in the first header. */
// @ts-ignore: decorator
@inline function prepare_vectors(x: usize, rec: usize, m: i32, S: i32, t0: i32, t1: i32): void {
  const tables = <usize>load<u32>(rec, 12);
  const L = linear_codes_levels(rec);
  const stride = <usize>cmatvec_tables_bytes(m, S, L);
  linear_codes_prepare(tables + <usize>t0 * stride, x + (<usize>(t0 * m) << 3), <usize>load<u32>(rec, 8), m, S, t1 - t0, L);
}

/**
 * Rows [r0, r1) of the linear at `rec`: complex rows (y_re[r], y_im[r]) for codes, real rows for
 * float weights. Every thread's share goes through this call; a row's value must not depend on
 * r0, r1 (nor on T: batched prefill is checked against decode within float tolerance).
 * ts: the per-thread scratch (descriptor slot D_THREAD_SCRATCH).
 */
// @ts-ignore: decorator
@inline function linear_rows(y: usize, x: usize, rec: usize, out: i32, inp: i32, S: i32, T: i32, r0: i32, r1: i32, ts: usize): void {
  const kind = load<u32>(rec);
  const a = <usize>load<u32>(rec, 4);
  if (kind == LIN_CODES) {
    const b = <usize>load<u32>(rec, 8);
    linear_codes_rows(y, x, <usize>load<u32>(rec, 12), a, b, out >> 1, inp >> 1, S, T, r0, r1, own_scratch(ts));
  } else if (kind == LIN_F16) {
    if (T == 1) matvec_f16(y, x, a, out, inp, r0, r1);
    else matmul_f16(y, x, a, out, inp, T, r0, r1);
  } else {
    if (T == 1) matvec_f32(y, x, a, out, inp, r0, r1);
    else matmul_f32(y, x, a, out, inp, T, r0, r1);
  }
}

/** y (T, out) = linear(x (T, inp)) for the record at `rec`; out/in are real sizes; ts as linear_rows. */
export function linear(ctrl: usize, y: usize, x: usize, rec: usize, out: i32, inp: i32, S: i32, T: i32, ts: usize): void {
  linear_prepare(ctrl, x, rec, out, inp, S, T);
  const codes = load<u32>(rec) == LIN_CODES;
  const rows = codes ? out >> 1 : out;
  const units = codes ? linear_codes_units(T, linear_codes_levels(rec), rows) : 0;
  // One row share per thread and unit (batch_row_parts gives two: ceil(2·threads / units)): each
  // share of a group pays its own expansions, so fewer shares over more rows are cheaper
  // (TinyLlama's q at 4 shares: 0.6x the time of 1; bench/kernels.ts --parts).
  const parts = units > 0 ? batch_row_parts(ctrl, 2 * units) : 0;
  if (parts > 0) {
    linear_units(ctrl, y, rec, rows, inp >> 1, S, T, units, parts, ts);
    return;
  }
  // Work units: additions per row (per complex row: m inputs × 2S planes = inp · S).
  // Codes: whole groups of 4 tiles of 16 rows (cmatvec.ts GROUP_TILES × TILE): the kernel streams
  // each input vector's tables once per group, so smaller chunks would multiply that traffic.
  const cr = chunk_rows(ctrl, rows, inp * (codes ? S : 1) * T, codes ? CODE_ROWS_ALIGN : 16);
  if (cr >= rows) {
    linear_rows(y, x, rec, out, inp, S, T, 0, rows, ts);
    return;
  }
  set_job_arg(ctrl, 0, <u32>y);
  set_job_arg(ctrl, 1, <u32>x);
  set_job_arg(ctrl, 2, <u32>rec);
  set_job_arg(ctrl, 3, <u32>out);
  set_job_arg(ctrl, 4, <u32>inp);
  set_job_arg(ctrl, 5, <u32>S);
  set_job_arg(ctrl, 6, <u32>T);
  set_job_arg(ctrl, 7, <u32>ts);
  parallel(ctrl, JOB_LINEAR, rows, cr);
}

/**
 * A batch through cmatbatch, split between threads by its units (linear_codes_units: groups of 16
 * vectors) and, where there are fewer units than two per thread, by row parts too. A cmatbatch call
 * pays for its expanded tables once per call, so whole groups over all rows are the cheapest shares:
 * with row chunks (two per thread), 2 threads ran a 7B prompt no faster than 1 thread.
 */
function linear_units(ctrl: usize, y: usize, rec: usize, rows: i32, m: i32, S: i32, T: i32, units: i32, parts: i32, ts: usize): void {
  const per = ((rows + parts - 1) / parts + CODE_ROWS_ALIGN - 1) / CODE_ROWS_ALIGN * CODE_ROWS_ALIGN;
  set_job_arg(ctrl, 0, <u32>y);
  set_job_arg(ctrl, 1, <u32>rec);
  set_job_arg(ctrl, 2, <u32>rows);
  set_job_arg(ctrl, 3, <u32>S);
  set_job_arg(ctrl, 4, <u32>T);
  set_job_arg(ctrl, 5, <u32>ts);
  set_job_arg(ctrl, 6, <u32>parts);
  set_job_arg(ctrl, 7, <u32>per);
  set_job_arg(ctrl, 8, <u32>m);
  parallel(ctrl, JOB_LINEAR_UNITS, units * parts, 1);
}

/** Share i of linear_units' job: unit i / parts over row part i % parts. */
function linear_unit_share(i: i32, y: usize, rec: usize, rows: i32, S: i32, T: i32, ts: usize, parts: i32, per: i32, m: i32): void {
  const r0 = (i % parts) * per, r1 = min(rows, r0 + per);
  if (r0 >= r1) return;
  const tables = <usize>load<u32>(rec, 12), codes = <usize>load<u32>(rec, 4), scales = <usize>load<u32>(rec, 8);
  linear_codes_unit(y, tables, codes, scales, rows, m, S, T, i / parts, r0, r1, own_scratch(ts));
}

// ---- Attention -----------------------------------------------------------------------------------

/**
 * Where layer l's keys of sequence s start (its values follow n_layers · ctx · kv_dim elements
 * later): sequence s's cache is at D_KV + s · D_KV_STRIDE, keys of every layer, then values.
 */
// @ts-ignore: decorator
@inline export function kv_layer(d: usize, s: i32, l: i32): usize {
  const elem: usize = load<u32>(d + (<usize>D_KV_F16 << 2)) != 0 ? 2 : 4;
  const layerKv = <usize>load<u32>(d + (<usize>D_CTX << 2)) * <usize>load<u32>(d + (<usize>D_KV_HEADS << 2)) * <usize>load<u32>(d + (<usize>D_HEAD_DIM << 2)) * elem;
  return <usize>load<u32>(d + (<usize>D_KV << 2)) + <usize>s * <usize>load<u32>(d + (<usize>D_KV_STRIDE << 2)) + <usize>l * layerKv;
}

export function attention_tokens(d: usize, out: usize, q: usize, l: i32, T: i32, pos: usize, seqs: usize, h0: i32, h1: i32): void {
  // q f32 (T, q_dim), token t at position pos[t] (i32) of sequence seqs[t] (i32) -> out f32 (T, q_dim),
  // heads [h0, h1) written: token t attends positions 0 .. pos[t] of its own sequence's layer-l cache;
  // head h's scores in the descriptor's att scratch + h·ctx floats
  const nHeads = <i32>load<u32>(d + (<usize>D_HEADS << 2)), nKv = <i32>load<u32>(d + (<usize>D_KV_HEADS << 2));
  const hd = <i32>load<u32>(d + (<usize>D_HEAD_DIM << 2)), ctx = <i32>load<u32>(d + (<usize>D_CTX << 2));
  const nLayers = <usize>load<u32>(d + (<usize>D_LAYERS << 2));
  const half = load<u32>(d + (<usize>D_KV_F16 << 2)) != 0;
  const att = <usize>load<u32>(d + (<usize>D_ATT << 2));
  const vOff = nLayers * <usize>ctx * <usize>(nKv * hd) * (half ? 2 : 4);
  const qStride = <usize>(nHeads * hd) << 2;
  for (let t = 0; t < T; t++) {
    const o = out + <usize>t * qStride, qt = q + <usize>t * qStride;
    const kc = kv_layer(d, load<i32>(seqs + (<usize>t << 2)), l), vc = kc + vOff;
    const n = load<i32>(pos + (<usize>t << 2)) + 1;
    if (half) attention_heads_f16kv(o, qt, kc, vc, att, nHeads, nKv, hd, n, h0, h1, ctx);
    else attention_heads(o, qt, kc, vc, att, nHeads, nKv, hd, n, h0, h1, ctx);
  }
}

/** Layer l's attention of a batch (attention_tokens), split between threads by heads. */
export function attention_all(ctrl: usize, d: usize, out: usize, q: usize, l: i32, T: i32, pos: usize, seqs: usize): void {
  const nHeads = <i32>load<u32>(d + (<usize>D_HEADS << 2)), hd = <i32>load<u32>(d + (<usize>D_HEAD_DIM << 2));
  // Work units per head: a dot product and a weighted sum of hd per attended position.
  let work = 0;
  for (let t = 0; t < T; t++) work += 2 * hd * (load<i32>(pos + (<usize>t << 2)) + 1);
  const cr = chunk_rows(ctrl, nHeads, work, 1);
  if (cr >= nHeads) {
    attention_tokens(d, out, q, l, T, pos, seqs, 0, nHeads);
    return;
  }
  set_job_arg(ctrl, 0, <u32>d);
  set_job_arg(ctrl, 1, <u32>out);
  set_job_arg(ctrl, 2, <u32>q);
  set_job_arg(ctrl, 3, <u32>l);
  set_job_arg(ctrl, 4, <u32>T);
  set_job_arg(ctrl, 5, <u32>pos);
  set_job_arg(ctrl, 6, <u32>seqs);
  parallel(ctrl, JOB_ATTENTION, nHeads, cr);
}

/** Chunk i of the current job of the pool at `ctrl` (threads.ts claims, this computes). */
export function run_chunk(ctrl: usize, kind: i32, i: i32): void {
  const r0 = chunk_r0(ctrl, i), r1 = chunk_r1(ctrl, i);
  if (kind == JOB_LINEAR) {
    linear_rows(<usize>job_arg(ctrl, 0), <usize>job_arg(ctrl, 1), <usize>job_arg(ctrl, 2), <i32>job_arg(ctrl, 3),
      <i32>job_arg(ctrl, 4), <i32>job_arg(ctrl, 5), <i32>job_arg(ctrl, 6), r0, r1, <usize>job_arg(ctrl, 7));
  } else if (kind == JOB_LINEAR_UNITS) {
    for (let u = r0; u < r1; u++) {
      linear_unit_share(u, <usize>job_arg(ctrl, 0), <usize>job_arg(ctrl, 1), <i32>job_arg(ctrl, 2), <i32>job_arg(ctrl, 3),
        <i32>job_arg(ctrl, 4), <usize>job_arg(ctrl, 5), <i32>job_arg(ctrl, 6), <i32>job_arg(ctrl, 7), <i32>job_arg(ctrl, 8));
    }
  } else if (kind == JOB_PREPARE) {
    prepare_vectors(<usize>job_arg(ctrl, 0), <usize>job_arg(ctrl, 1), <i32>job_arg(ctrl, 2), <i32>job_arg(ctrl, 3), r0, r1);
  } else if (kind == JOB_PREPARE_BLOCKS) {
    const rec = <usize>job_arg(ctrl, 1);
    cmatvec_prepare_blocks(<usize>load<u32>(rec, 12), <usize>job_arg(ctrl, 0), <usize>load<u32>(rec, 8), <i32>job_arg(ctrl, 2),
      <i32>job_arg(ctrl, 3), linear_codes_levels(rec), r0, r1);
  } else if (kind == JOB_BATCH_TABLES) {
    linear_codes_batch(<usize>load<u32>(<usize>job_arg(ctrl, 1) + 12), <i32>job_arg(ctrl, 2), <i32>job_arg(ctrl, 3), <i32>job_arg(ctrl, 4), r0, r1);
  } else if (kind == JOB_ATTENTION) {
    attention_tokens(<usize>job_arg(ctrl, 0), <usize>job_arg(ctrl, 1), <usize>job_arg(ctrl, 2), <i32>job_arg(ctrl, 3),
      <i32>job_arg(ctrl, 4), <usize>job_arg(ctrl, 5), <usize>job_arg(ctrl, 6), r0, r1);
  }
}
