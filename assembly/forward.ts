// The LLaMA decoder in wasm (after llama2.c run.c `forward`), driven by a model descriptor that the
// host writes into memory (src/layout.ts is its only writer). Everything is addresses into the one
// linear memory: weights used in place from the loaded file, the KV cache, and scratch.
//
// forward runs one token (decode); forward_batch runs T tokens at consecutive positions (prefill)
// with matrix × matrix linears, so each weight block is read once per batch. With a thread pool
// (descriptor slot D_CTRL, threads.ts) every linear is split by output rows and attention by heads;
// a row's (a head's) value is computed by the same code whichever thread runs it, so the results do
// not depend on the number of threads.

import { cmatvec_prepare_blocks, cmatvec_tables_bytes, linear_codes_batch, tableBlocks, linear_codes_begin, linear_codes_groups, linear_codes_prepare, linear_codes_rows, linear_codes_unit, linear_codes_units } from './cmatvec';
import { matvec_f16, matvec_f32, matmul_f16, matmul_f32 } from './matvec';
import { rmsnorm } from './norm';
import { rope } from './rope';
import { attention_heads, attention_heads_f16kv } from './attention';
import { swiglu, add } from './act';
import { embed_f16, embed_f32, store_f32_to_f16 } from './f16';
import { batch_row_parts, chunk_r0, chunk_r1, chunk_rows, job_arg, parallel, set_job_arg, thread_index } from './threads';
import { cmatbatch_scratch_bytes } from './cmatbatch';

// Descriptor slots (u32, 4 bytes each). Keep in sync with src/layout.ts.
const D_DIM: i32 = 0;
const D_LAYERS: i32 = 1;
const D_HEADS: i32 = 2;
const D_KV_HEADS: i32 = 3;
const D_HEAD_DIM: i32 = 4;
const D_FFN: i32 = 5;
const D_VOCAB: i32 = 6;
const D_CTX: i32 = 7;
const D_STAGES: i32 = 8;
const D_KV_F16: i32 = 9;
const D_RMS_EPS: i32 = 10; // f32 bits
const D_ROPE_THETA: i32 = 11; // f32 bits
const D_EMBD: i32 = 12;
const D_EMBD_F16: i32 = 13;
const D_OUT_NORM: i32 = 14;
const D_OUTPUT: i32 = 15; // linear record (4 slots)
const D_KV: i32 = 19; // key cache base; values follow after n_layers * ctx * kv_dim elements
// Scratch, max_batch rows each: x, xb (dim), xb2 (max(dim, q_dim)), q (q_dim), k, v (kv_dim),
// hb, hb2 (ffn); att (heads * ctx) once.
const D_X: i32 = 20;
const D_XB: i32 = 21;
const D_XB2: i32 = 22;
const D_Q: i32 = 23;
const D_K: i32 = 24;
const D_V: i32 = 25;
const D_ATT: i32 = 26;
const D_HB: i32 = 27;
const D_HB2: i32 = 28;
const D_CTRL: i32 = 29; // thread pool control block (threads.ts), 0 without a pool
const D_MAX_BATCH: i32 = 30; // rows of the scratch buffers: the largest T of forward_batch
const D_THREAD_SCRATCH: i32 = 31; // per-thread scratch: thread i's at + i · cmatbatch_scratch_bytes()
const D_LAYER0: i32 = 32;
// Per layer: attn_norm, ffn_norm, then 7 linear records of 4 slots (q, k, v, o, gate, up, down).
const L_SLOTS: i32 = 30;
const L_ATTN_NORM: i32 = 0;
const L_FFN_NORM: i32 = 1;
const L_LINEAR0: i32 = 2;

// Linear record: kind, a, b, c. kind 0: f32 weight at a; 1: f16 weight at a; 2: codes at a, scales at b and
// scratch for the kernel's activation tables at c (MAX_BATCH × cmatvec_tables_bytes(m, S, 3), shared by all records).
const LIN_F32: u32 = 0;
const LIN_F16: u32 = 1;
const LIN_CODES: u32 = 2;

// Thread pool jobs (threads.ts JOB_QUIT is 1).
const JOB_LINEAR: i32 = 2;
const JOB_ATTENTION: i32 = 3;
const JOB_PREPARE: i32 = 4; // a batch's tables, by whole vectors
const JOB_PREPARE_BLOCKS: i32 = 5; // one vector's tables, by blocks of 64 inputs
const JOB_BATCH_TABLES: i32 = 6; // a batch's groups of 16 vectors' tables transposed (cmatbatch.ts), by input pairs
const JOB_LINEAR_UNITS: i32 = 7; // a batch's rows pass by groups of 16 vectors (and row parts)

/** Rows a thread's share of a quantized linear is a multiple of (cmatvec.ts: GROUP_TILES · TILE). */
const CODE_ROWS_ALIGN: i32 = 64;

// @ts-ignore: decorator
@inline function slot(d: usize, i: i32): u32 {
  return load<u32>(d + (<usize>i << 2));
}

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
  const pairs = linear_codes_groups(T, L) * ((m + 1) >> 1);
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
function linear(ctrl: usize, y: usize, x: usize, rec: usize, out: i32, inp: i32, S: i32, T: i32, ts: usize): void {
  linear_prepare(ctrl, x, rec, out, inp, S, T);
  const codes = load<u32>(rec) == LIN_CODES;
  const rows = codes ? out >> 1 : out;
  const units = codes ? linear_codes_units(T, linear_codes_levels(rec)) : 0;
  const parts = units > 0 ? batch_row_parts(ctrl, units) : 0;
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
 * Heads [h0, h1) of the attention of T queries at positions pos0 .. pos0 + T − 1 (query t sees cache
 * positions 0 .. pos0 + t): q (T, q_dim) -> out (T, q_dim); head h's scores in att + h·ctx floats.
 */
// @ts-ignore: decorator
@inline function attention_rows(out: usize, q: usize, kc: usize, vc: usize, att: usize, nHeads: i32, nKv: i32,
  hd: i32, pos0: i32, T: i32, half: bool, ctx: i32, h0: i32, h1: i32): void {
  const qStride = <usize>(nHeads * hd) << 2;
  for (let t = 0; t < T; t++) {
    const o = out + <usize>t * qStride, qt = q + <usize>t * qStride;
    if (half) attention_heads_f16kv(o, qt, kc, vc, att, nHeads, nKv, hd, pos0 + t + 1, h0, h1, ctx);
    else attention_heads(o, qt, kc, vc, att, nHeads, nKv, hd, pos0 + t + 1, h0, h1, ctx);
  }
}

function attention_all(ctrl: usize, out: usize, q: usize, kc: usize, vc: usize, att: usize, nHeads: i32, nKv: i32,
  hd: i32, pos0: i32, T: i32, half: bool, ctx: i32): void {
  // Work units per head: a dot product and a weighted sum of hd per attended position.
  const work = 2 * hd * T * (pos0 + (T + 1) / 2);
  const cr = chunk_rows(ctrl, nHeads, work, 1);
  if (cr >= nHeads) {
    attention_rows(out, q, kc, vc, att, nHeads, nKv, hd, pos0, T, half, ctx, 0, nHeads);
    return;
  }
  set_job_arg(ctrl, 0, <u32>out);
  set_job_arg(ctrl, 1, <u32>q);
  set_job_arg(ctrl, 2, <u32>kc);
  set_job_arg(ctrl, 3, <u32>vc);
  set_job_arg(ctrl, 4, <u32>att);
  set_job_arg(ctrl, 5, <u32>nHeads);
  set_job_arg(ctrl, 6, <u32>nKv);
  set_job_arg(ctrl, 7, <u32>hd);
  set_job_arg(ctrl, 8, <u32>pos0);
  set_job_arg(ctrl, 9, <u32>T);
  set_job_arg(ctrl, 10, half ? 1 : 0);
  set_job_arg(ctrl, 11, <u32>ctx);
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
    attention_rows(<usize>job_arg(ctrl, 0), <usize>job_arg(ctrl, 1), <usize>job_arg(ctrl, 2), <usize>job_arg(ctrl, 3),
      <usize>job_arg(ctrl, 4), <i32>job_arg(ctrl, 5), <i32>job_arg(ctrl, 6), <i32>job_arg(ctrl, 7), <i32>job_arg(ctrl, 8),
      <i32>job_arg(ctrl, 9), job_arg(ctrl, 10) != 0, <i32>job_arg(ctrl, 11), r0, r1);
  }
}

// ---- The decoder -----------------------------------------------------------------------------------

/**
 * Runs tokens[0 .. T) at positions pos0 .. pos0 + T − 1 through the model (1 ≤ T ≤ max batch; the
 * KV cache must hold positions 0 .. pos0 − 1), storing their keys and values in the cache. Logits:
 * none when `logits` is 0; with `all` false the last position's (vocab floats); with `all` true
 * every position's ((T, vocab) floats). Row t of the scratch buffers holds token t.
 */
export function forward_batch(d: usize, tokens: usize, T: i32, pos0: i32, logits: usize, all: bool): void {
  const dim = <i32>slot(d, D_DIM);
  const nLayers = <i32>slot(d, D_LAYERS);
  const nHeads = <i32>slot(d, D_HEADS);
  const nKv = <i32>slot(d, D_KV_HEADS);
  const hd = <i32>slot(d, D_HEAD_DIM);
  const ffn = <i32>slot(d, D_FFN);
  const vocab = <i32>slot(d, D_VOCAB);
  const ctx = <i32>slot(d, D_CTX);
  const S = <i32>slot(d, D_STAGES);
  const kvF16 = slot(d, D_KV_F16) != 0;
  const eps = reinterpret<f32>(slot(d, D_RMS_EPS));
  const theta = <f64>reinterpret<f32>(slot(d, D_ROPE_THETA));
  const ctrl = <usize>slot(d, D_CTRL);
  const ts = <usize>slot(d, D_THREAD_SCRATCH);
  if (T < 1 || T > <i32>slot(d, D_MAX_BATCH) || pos0 < 0 || pos0 + T > ctx) unreachable();
  const x = <usize>slot(d, D_X), xb = <usize>slot(d, D_XB), xb2 = <usize>slot(d, D_XB2);
  const q = <usize>slot(d, D_Q), k = <usize>slot(d, D_K), v = <usize>slot(d, D_V);
  const att = <usize>slot(d, D_ATT), hb = <usize>slot(d, D_HB), hb2 = <usize>slot(d, D_HB2);
  const qDim = nHeads * hd, kvDim = nKv * hd;
  // Row strides in bytes.
  const sd = <usize>dim << 2, sq = <usize>qDim << 2, skv = <usize>kvDim << 2, sf = <usize>ffn << 2;
  const elem: usize = kvF16 ? 2 : 4;
  const kvBase = <usize>slot(d, D_KV);
  const layerKv = <usize>ctx * <usize>kvDim * elem;
  const vBase = kvBase + <usize>nLayers * layerKv;
  const embd = <usize>slot(d, D_EMBD);
  const embdF16 = slot(d, D_EMBD_F16) != 0;

  for (let t = 0; t < T; t++) {
    const token = load<i32>(tokens + (<usize>t << 2));
    if (embdF16) embed_f16(x + <usize>t * sd, embd, token, dim);
    else embed_f32(x + <usize>t * sd, embd, token, dim);
  }

  for (let l = 0; l < nLayers; l++) {
    const L = d + (<usize>(D_LAYER0 + l * L_SLOTS) << 2);
    const rec = L + (<usize>L_LINEAR0 << 2);
    const attnNorm = <usize>load<u32>(L + (<usize>L_ATTN_NORM << 2));
    const ffnNorm = <usize>load<u32>(L + (<usize>L_FFN_NORM << 2));
    for (let t = 0; t < T; t++) rmsnorm(xb + <usize>t * sd, x + <usize>t * sd, attnNorm, dim, eps);
    linear(ctrl, q, xb, rec, qDim, dim, S, T, ts);
    linear(ctrl, k, xb, rec + 16, kvDim, dim, S, T, ts);
    linear(ctrl, v, xb, rec + 32, kvDim, dim, S, T, ts);
    const kc = kvBase + <usize>l * layerKv, vc = vBase + <usize>l * layerKv;
    for (let t = 0; t < T; t++) {
      const pos = pos0 + t;
      const qt = q + <usize>t * sq, kt = k + <usize>t * skv, vt = v + <usize>t * skv;
      rope(qt, nHeads, hd, pos, theta);
      rope(kt, nKv, hd, pos, theta);
      const at = <usize>pos * <usize>kvDim * elem;
      if (kvF16) {
        store_f32_to_f16(kc + at, kt, kvDim);
        store_f32_to_f16(vc + at, vt, kvDim);
      } else {
        memory.copy(kc + at, kt, skv);
        memory.copy(vc + at, vt, skv);
      }
    }
    attention_all(ctrl, xb2, q, kc, vc, att, nHeads, nKv, hd, pos0, T, kvF16, ctx);
    linear(ctrl, xb, xb2, rec + 48, dim, qDim, S, T, ts);
    for (let t = 0; t < T; t++) {
      const xt = x + <usize>t * sd, xbt = xb + <usize>t * sd;
      add(xt, xt, xbt, dim);
      rmsnorm(xbt, xt, ffnNorm, dim, eps);
    }
    linear(ctrl, hb, xb, rec + 64, ffn, dim, S, T, ts);
    linear(ctrl, hb2, xb, rec + 80, ffn, dim, S, T, ts);
    for (let t = 0; t < T; t++) swiglu(hb + <usize>t * sf, hb + <usize>t * sf, hb2 + <usize>t * sf, ffn);
    linear(ctrl, xb, hb, rec + 96, dim, ffn, S, T, ts);
    for (let t = 0; t < T; t++) add(x + <usize>t * sd, x + <usize>t * sd, xb + <usize>t * sd, dim);
  }
  if (logits == 0) return;
  const outNorm = <usize>slot(d, D_OUT_NORM);
  const head = d + (<usize>D_OUTPUT << 2);
  if (all) {
    for (let t = 0; t < T; t++) rmsnorm(x + <usize>t * sd, x + <usize>t * sd, outNorm, dim, eps);
    linear(ctrl, logits, x, head, vocab, dim, S, T, ts);
  } else {
    const last = x + <usize>(T - 1) * sd;
    rmsnorm(last, last, outNorm, dim, eps);
    linear(ctrl, logits, last, head, vocab, dim, S, 1, ts);
  }
}

/**
 * Runs token `token` at position `pos` through the model, storing its keys/values in the cache,
 * and writes the logits (vocab floats) to `logits` unless it is 0 (prefill positions skip lm_head).
 * This is forward_batch with T = 1: the token id goes through the first word of the att scratch,
 * which forward_batch reads before attention overwrites it.
 */
export function forward(d: usize, token: i32, pos: i32, logits: usize): void {
  const att = <usize>slot(d, D_ATT);
  store<i32>(att, token);
  forward_batch(d, att, 1, pos, logits, false);
}
