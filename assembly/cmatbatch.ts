// Batched quantized linears on int8 tables (1 level, precision 'fast'): a group of 8 or 16 input
// vectors at a time, for prompts and for several sequences decoding together.
//
// cmatvec (cmatvec.ts) looks up 16 rows of one vector's tables with i8x16.swizzle; its cost is per
// vector (~24 vector ops per 16 code bytes), so a batch of them costs as much as that many decode
// steps. Here the lanes are a group's W vectors instead, and a row's code byte is read once for all:
//   1. batch tables (cmatbatch_tables, shared by the threads): the W vectors' tables transposed, so
//      that for one nibble entry (half, e) the W vectors' Re and Im bytes are 2W consecutive bytes;
//   2. expanded tables (per thread, a chunk of records at a time): for every byte value c, the sum
//      of the low nibble's and the high nibble's biased entries as u16, per part (Re, Im) and vector:
//      4W bytes per byte value, 1 KiB · W per record;
//   3. per code byte: one scalar byte load, its 4W-byte line (W/4 loads) and W/4 i16 adds: the row's
//      Re and Im sums of all W vectors (cmatvec: 1.5 vector ops per code byte and vector).
// A chunk's expansion is paid once per group of up to GROUP_ROWS rows. The integer sums are cmatvec's
// (integer addition in another order) and the f32 operations too (per block, y += d_b · f32(Σ), blocks
// in order from 0), so each vector's result is cmatvec's bit for bit: a sequence decoding in a batch
// gets the bits it gets alone.
//
// Batch tables (one group of W vectors, from their cmatvec_prepare tables at L = 1):
//     d:       f32 [blocks][W]: block b's scale d_b of each vector                  (blocks · 4W bytes)
//     records: per input pair p and stage s, 64·W bytes: byte ((half·16 + e)·2 + part)·W + v = byte
//              part·32 + half·16 + e of vector v's record, i.e. [half][e][part][vector]
//
//     group_bytes(W) = up64(blocks · 4W) + ceil(m/2) · S · 64 · W
//
// Expanded tables (a thread's scratch): record j of the chunk at j · 1 KiB · W, byte value c at
// + c · 4W, part k at + k · 2W, vector v at + 2v (u16): rec[0][c & 15][k][v] + rec[1][c >> 4][k][v].
//
// Lanes past the group's vectors repeat its last vector (no reads outside the tables; never stored).
//
// Measured (npx tsx bench/kernels.ts --batch, 2026-12-02, one thread, CPU ms per vector, S = 2, codes
// from memory, batch tables included; bench/results/kernels-batch.txt has the tables). B = 2, 4 here
// are groups of 8 holding 2 / 4 vectors, which dispatch.ts does not run (cmatmul does those):
//   B                                   1       2       4       8       16      64
//   simd128  4096x4096   cmatvec      0.889   0.836   0.848   0.858   0.913   1.065
//                        cmatmul      0.906   0.767   0.723   0.651   0.784   0.925
//                        cmatbatch      -     2.143   1.081   0.531   0.547   0.636  (1.62-1.67x cmatvec at 8+)
//            11008x4096  cmatvec      2.314   2.304   2.342   2.254   3.299   2.352
//                        cmatmul      2.630   2.105   1.879   1.802   2.733   2.674
//                        cmatbatch      -     6.004   2.775   1.342   1.842   1.596  (1.47-1.79x)
//   relaxed  4096x4096   cmatvec      0.720   0.716   0.718   0.679   0.744   0.778
//                        cmatmul      0.893   0.674   0.529   0.513   0.528   0.791
//                        cmatbatch      -     2.127   1.095   0.539   0.538   0.684  (1.14-1.38x)
//            11008x4096  cmatvec      1.932   1.832   2.004   1.967   2.529   2.281
//                        cmatmul      2.167   1.717   1.642   1.476   1.759   1.958
//                        cmatbatch      -     5.554   3.186   1.510   1.766   1.680  (1.30-1.43x)
// So a group costs about its width's worth of the lanes whatever it holds: below 5 vectors cmatmul
// (cmatvec's lookups for each vector over one tile group's codes in L2) is cheaper, and the relaxed
// build's swizzle (no paddusb) brings cmatmul level with cmatbatch there. Groups of 4 (one v128 line
// per code byte) measured no better than cmatmul at B = 4 and were removed. Why not int8 dot products
// on codes decoded to {−1, 0, +1}: each vector's result must be cmatvec's bits (a sequence decoding in
// a batch equals itself alone), and cmatvec's entries round(inv·(A_u + B_w)) quantize the U and W
// parts together, so no sum of separately quantized a/b activations gives the same integers.

import { BLOCK_PAIRS, TAB_HEADER, cmatvec_tables_bytes, entriesOffset, tableBlocks, up64 } from './cmatvec';

/** Vectors of the widest group (the lanes of a v128 of bytes). */
export const BATCH_LANES: i32 = 16;
/** Bytes of expanded tables per chunk: they stay in L2 while the group's rows run through them. */
const CHUNK_BYTES: i32 = 256 << 10;
/** Rows per group: each chunk's expansion is paid once per group, and the group's sums stream past each chunk. */
const GROUP_ROWS: i32 = 4096;
/** Bytes of a group's row sums per row at W = 16: i16 sums (4W) and f32 sums (8W). */
const ROW_SUMS: usize = 12 * 16;

/** Group width for r vectors (r <= 16): 8 or 16, the narrower that holds them. */
// @ts-ignore: decorator
@inline
export function batch_width(r: i32): i32 {
  return r > 8 ? 16 : 8;
}

export function cmatbatch_scratch_bytes(): i32 {
  // -> bytes of scratch a thread running cmatbatch needs of its own: a chunk's expanded tables, then
  // a row group's sums
  return CHUNK_BYTES + <i32>(<usize>GROUP_ROWS * ROW_SUMS);
}

export function cmatbatch_tables_bytes(m: i32, S: i32, W: i32): i32 {
  // -> bytes of one group's batch tables for m complex inputs, S stages, W vectors (8 or 16)
  return <i32>(up64(<usize>(tableBlocks(m) * W) << 2) + <usize>((m + 1) >> 1) * <usize>S * <usize>(W << 6));
}

// ---- batch tables ----

// @ts-ignore: decorator
@inline function lo8(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23); }
// @ts-ignore: decorator
@inline function hi8(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31); }
// @ts-ignore: decorator
@inline function lo16(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23); }
// @ts-ignore: decorator
@inline function hi16(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31); }
// @ts-ignore: decorator
@inline function lo32(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); }
// @ts-ignore: decorator
@inline function hi32(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); }
// @ts-ignore: decorator
@inline function lo64(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); }
// @ts-ignore: decorator
@inline function hi64(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); }

/**
 * Address of row r (0..15) of the 16 × 16 byte matrix whose transpose gives, for one nibble half,
 * the group's bytes at [e][part][v] (W = 16: one part of 16 vectors; W = 8: Re then Im of 8
 * vectors). tok: the vectors' tables entries for the record, `stride` apart; nv: vectors present
 * (lanes past them repeat the last).
 */
// @ts-ignore: decorator
@inline
function rowAddr(tok: usize, stride: usize, W: i32, nv: i32, part: i32, half: i32, r: i32): usize {
  if (W == 16) return tok + <usize>min(r, nv - 1) * stride + <usize>(part << 5) + <usize>(half << 4);
  return tok + <usize>min(r & 7, nv - 1) * stride + <usize>((r >> 3) << 5) + <usize>(half << 4);
}

/**
 * The transposed 16 × 16 byte matrix of rowAddr(.., part, half, r), stored as the batch record at
 * dst (layout above): four rounds of interleaving at 1, 2, 4 and 8 bytes, in locals (no scratch, so
 * any thread may run it). Output row e holds byte e of every matrix row.
 */
// @ts-ignore: decorator
@inline
function transpose16(dst: usize, tok: usize, stride: usize, W: i32, nv: i32, part: i32, half: i32): void {
  const r0 = v128.load(rowAddr(tok, stride, W, nv, part, half, 0));
  const r1 = v128.load(rowAddr(tok, stride, W, nv, part, half, 1));
  const r2 = v128.load(rowAddr(tok, stride, W, nv, part, half, 2));
  const r3 = v128.load(rowAddr(tok, stride, W, nv, part, half, 3));
  const r4 = v128.load(rowAddr(tok, stride, W, nv, part, half, 4));
  const r5 = v128.load(rowAddr(tok, stride, W, nv, part, half, 5));
  const r6 = v128.load(rowAddr(tok, stride, W, nv, part, half, 6));
  const r7 = v128.load(rowAddr(tok, stride, W, nv, part, half, 7));
  const r8 = v128.load(rowAddr(tok, stride, W, nv, part, half, 8));
  const r9 = v128.load(rowAddr(tok, stride, W, nv, part, half, 9));
  const r10 = v128.load(rowAddr(tok, stride, W, nv, part, half, 10));
  const r11 = v128.load(rowAddr(tok, stride, W, nv, part, half, 11));
  const r12 = v128.load(rowAddr(tok, stride, W, nv, part, half, 12));
  const r13 = v128.load(rowAddr(tok, stride, W, nv, part, half, 13));
  const r14 = v128.load(rowAddr(tok, stride, W, nv, part, half, 14));
  const r15 = v128.load(rowAddr(tok, stride, W, nv, part, half, 15));
  const s0 = lo8(r0, r1), s1 = hi8(r0, r1);
  const s2 = lo8(r2, r3), s3 = hi8(r2, r3);
  const s4 = lo8(r4, r5), s5 = hi8(r4, r5);
  const s6 = lo8(r6, r7), s7 = hi8(r6, r7);
  const s8 = lo8(r8, r9), s9 = hi8(r8, r9);
  const s10 = lo8(r10, r11), s11 = hi8(r10, r11);
  const s12 = lo8(r12, r13), s13 = hi8(r12, r13);
  const s14 = lo8(r14, r15), s15 = hi8(r14, r15);
  const t0 = lo16(s0, s2), t1 = hi16(s0, s2);
  const t2 = lo16(s1, s3), t3 = hi16(s1, s3);
  const t4 = lo16(s4, s6), t5 = hi16(s4, s6);
  const t6 = lo16(s5, s7), t7 = hi16(s5, s7);
  const t8 = lo16(s8, s10), t9 = hi16(s8, s10);
  const t10 = lo16(s9, s11), t11 = hi16(s9, s11);
  const t12 = lo16(s12, s14), t13 = hi16(s12, s14);
  const t14 = lo16(s13, s15), t15 = hi16(s13, s15);
  const u0 = lo32(t0, t4), u1 = hi32(t0, t4);
  const u2 = lo32(t1, t5), u3 = hi32(t1, t5);
  const u4 = lo32(t2, t6), u5 = hi32(t2, t6);
  const u6 = lo32(t3, t7), u7 = hi32(t3, t7);
  const u8 = lo32(t8, t12), u9 = hi32(t8, t12);
  const u10 = lo32(t9, t13), u11 = hi32(t9, t13);
  const u12 = lo32(t10, t14), u13 = hi32(t10, t14);
  const u14 = lo32(t11, t15), u15 = hi32(t11, t15);
  storeRow(dst, W, part, half, 0, lo64(u0, u8));
  storeRow(dst, W, part, half, 1, hi64(u0, u8));
  storeRow(dst, W, part, half, 2, lo64(u1, u9));
  storeRow(dst, W, part, half, 3, hi64(u1, u9));
  storeRow(dst, W, part, half, 4, lo64(u2, u10));
  storeRow(dst, W, part, half, 5, hi64(u2, u10));
  storeRow(dst, W, part, half, 6, lo64(u3, u11));
  storeRow(dst, W, part, half, 7, hi64(u3, u11));
  storeRow(dst, W, part, half, 8, lo64(u4, u12));
  storeRow(dst, W, part, half, 9, hi64(u4, u12));
  storeRow(dst, W, part, half, 10, lo64(u5, u13));
  storeRow(dst, W, part, half, 11, hi64(u5, u13));
  storeRow(dst, W, part, half, 12, lo64(u6, u14));
  storeRow(dst, W, part, half, 13, hi64(u6, u14));
  storeRow(dst, W, part, half, 14, lo64(u7, u15));
  storeRow(dst, W, part, half, 15, hi64(u7, u15));
}

/** Output row e of transpose16 into the batch record at dst: byte ((half·16 + e)·2 + part)·W + v. */
// @ts-ignore: decorator
@inline
function storeRow(dst: usize, W: i32, part: i32, half: i32, e: i32, v: v128): void {
  if (W == 16) v128.store(dst + <usize>((((half << 4) + e) << 1) + part) * 16, v);
  else v128.store(dst + <usize>((half << 4) + e) * 16, v); // Re and Im of 8 vectors
}

/** One record of the batch tables (W vectors from tok, `stride` apart) by shuffles. */
// @ts-ignore: decorator
@inline
function recordFast(dst: usize, tok: usize, stride: usize, W: i32, nv: i32): void {
  if (W == 16) {
    transpose16(dst, tok, stride, 16, nv, 0, 0);
    transpose16(dst, tok, stride, 16, nv, 0, 1);
    transpose16(dst, tok, stride, 16, nv, 1, 0);
    transpose16(dst, tok, stride, 16, nv, 1, 1);
  } else {
    transpose16(dst, tok, stride, 8, nv, 0, 0);
    transpose16(dst, tok, stride, 8, nv, 0, 1);
  }
}

/**
 * Batch tables of W vectors (nv of them present) from their cmatvec tables (at `tables`,
 * cmatvec_tables_bytes(m, S, 1) apart), for input pairs [p0, p1) (and the block scales when p0 is 0):
 * threads split the pairs. simd false: the scalar byte loop (the reference; the same bytes).
 */
function batchTables(bt: usize, tables: usize, m: i32, S: i32, W: i32, nv: i32, p0: i32, p1: i32, simd: bool): void {
  const stride = <usize>cmatvec_tables_bytes(m, S, 1);
  const blocks = tableBlocks(m);
  if (p0 == 0) {
    for (let b = 0; b < blocks; b++) {
      for (let v = 0; v < W; v++) {
        store<f32>(bt + (<usize>(b * W + v) << 2), load<f32>(tables + <usize>min(v, nv - 1) * stride + TAB_HEADER + (<usize>b << 2)));
      }
    }
  }
  const recs = bt + up64(<usize>(blocks * W) << 2);
  const ent = tables + entriesOffset(m);
  const recBytes = <usize>(W << 6);
  for (let r = p0 * S; r < p1 * S; r++) {
    const src = ent + (<usize>r << 6), dst = recs + <usize>r * recBytes;
    if (simd) {
      if (W == 16) recordFast(dst, src, stride, 16, nv);
      else recordFast(dst, src, stride, 8, nv);
    } else {
      for (let i = 0; i < 64; i++) {
        const part = i >> 5, half = (i >> 4) & 1, e = i & 15;
        const o = <usize>((((half << 4) + e) << 1) + part) * <usize>W;
        for (let v = 0; v < W; v++) store<u8>(dst + o + <usize>v, load<u8>(src + <usize>min(v, nv - 1) * stride + <usize>i));
      }
    }
  }
}

export function cmatbatch_tables(bt: usize, tables: usize, m: i32, S: i32, W: i32, nv: i32, p0: i32, p1: i32): void {
  // tables: nv (1..W) vectors' cmatvec_prepare tables at L = 1, cmatvec_tables_bytes(m, S, 1) apart
  // -> bt (cmatbatch_tables_bytes(m, S, W)): the batch tables' pairs [p0, p1) (block scales with p0 = 0)
  batchTables(bt, tables, m, S, W, nv, p0, p1, true);
}

export function cmatbatch_tables_ref(bt: usize, tables: usize, m: i32, S: i32, W: i32, nv: i32, p0: i32, p1: i32): void {
  // as cmatbatch_tables, a byte at a time: the same bytes
  batchTables(bt, tables, m, S, W, nv, p0, p1, false);
}

// ---- the kernel ----

/** v128 j (of W/4) of the u16 widening of the 2W bytes at p: [part][v]. */
// @ts-ignore: decorator
@inline
function widen(p: usize, W: i32, j: i32): v128 {
  const x = v128.load(p + (<usize>(j >> 1) << 4));
  return (j & 1) == 0 ? i16x8.extend_low_i8x16_u(x) : i16x8.extend_high_i8x16_u(x);
}

/** The expanded tables of `cnt` consecutive batch records at rec, into xt (layout above). */
// @ts-ignore: decorator
@inline
function expand(xt: usize, rec: usize, cnt: i32, W: i32): void {
  const recBytes = <usize>(W << 6), line = <usize>(W << 2);
  for (let j = 0; j < cnt; j++) {
    for (let h = 0; h < 16; h++) {
      const hp = rec + <usize>(16 + h) * <usize>(W << 1);
      const h0 = widen(hp, W, 0), h1 = widen(hp, W, 1);
      const h2 = W == 16 ? widen(hp, W, 2) : h0;
      const h3 = W == 16 ? widen(hp, W, 3) : h0;
      let dst = xt + <usize>(h << 4) * line, lp = rec;
      for (let l = 0; l < 16; l++) {
        v128.store(dst, i16x8.add(widen(lp, W, 0), h0));
        v128.store(dst, i16x8.add(widen(lp, W, 1), h1), 16);
        if (W == 16) {
          v128.store(dst, i16x8.add(widen(lp, W, 2), h2), 32);
          v128.store(dst, i16x8.add(widen(lp, W, 3), h3), 48);
        }
        dst += line;
        lp += <usize>(W << 1);
      }
    }
    rec += recBytes;
    xt += recBytes << 4;
  }
}

/** Adds `cnt` code bytes' lines (Re, Im of W vectors) of a row to its sums at acc. */
// @ts-ignore: decorator
@inline
function rowPass(acc: usize, cp: usize, xt: usize, cnt: i32, W: i32): void {
  const shift = W == 8 ? 5 : 6;
  const xr = <usize>(W << 10);
  let a0 = v128.load(acc), a1 = v128.load(acc, 16);
  let a2 = W == 16 ? v128.load(acc, 32) : a0;
  let a3 = W == 16 ? v128.load(acc, 48) : a0;
  let i = 0;
  for (; i + 2 <= cnt; i += 2) { // two records a step: their loads are independent
    const e = xt + (<usize>load<u8>(cp) << shift), f = xt + xr + (<usize>load<u8>(cp, 16) << shift);
    a0 = i16x8.add(a0, i16x8.add(v128.load(e), v128.load(f)));
    a1 = i16x8.add(a1, i16x8.add(v128.load(e, 16), v128.load(f, 16)));
    if (W == 16) {
      a2 = i16x8.add(a2, i16x8.add(v128.load(e, 32), v128.load(f, 32)));
      a3 = i16x8.add(a3, i16x8.add(v128.load(e, 48), v128.load(f, 48)));
    }
    cp += 32;
    xt += xr << 1;
  }
  if (i < cnt) {
    const e = xt + (<usize>load<u8>(cp) << shift);
    a0 = i16x8.add(a0, v128.load(e));
    a1 = i16x8.add(a1, v128.load(e, 16));
    if (W == 16) {
      a2 = i16x8.add(a2, v128.load(e, 32));
      a3 = i16x8.add(a3, v128.load(e, 48));
    }
  }
  v128.store(acc, a0);
  v128.store(acc, a1, 16);
  if (W == 16) { v128.store(acc, a2, 32); v128.store(acc, a3, 48); }
}

/** f[0..4) += d[0..4) · f32(q) for one half (hi) of i16 sums q. */
// @ts-ignore: decorator
@inline
function flush4(f: usize, q: v128, d: usize, hi: bool): void {
  const w = hi ? i32x4.extend_high_i16x8_s(q) : i32x4.extend_low_i16x8_s(q);
  v128.store(f, f32x4.add(v128.load(f), f32x4.mul(v128.load(d), f32x4.convert_i32x4_s(w))));
}

/**
 * One row's block sums (at acc, i16 [part][v] biased) into its f32 sums f ([part][v]), scaled by the
 * block's d (W f32): element k = 4q + i of [part][v] is vector k % W.
 */
// @ts-ignore: decorator
@inline
function flushRow(f: usize, acc: usize, d: usize, bias: v128, W: i32): void {
  for (let j = 0; j < (W >> 2); j++) {
    const q = i16x8.sub(v128.load(acc + (<usize>j << 4)), bias);
    flush4(f + (<usize>j << 5), q, d + (<usize>(((j << 3)) % W) << 2), false);
    flush4(f + (<usize>j << 5) + 16, q, d + (<usize>(((j << 3) + 4) % W) << 2), true);
  }
}

/**
 * cmatbatch at one width W = sizeof<Lane>() (u64: 8, v128: 16): a function per width, so W is a
 * compile-time constant in its loops.
 */
function batchW<Lane>(Y: usize, bt: usize, codes: usize, n: i32, m: i32, S: i32, v0: i32, nv: i32, r0: i32, r1: i32, scratch: usize): void {
  const W = <i32>sizeof<Lane>();
  const P = (m + 1) >> 1;
  const blocks = tableBlocks(m);
  const tileBytes = <usize>(P * S) << 4;
  const recs = bt + up64(<usize>(blocks * W) << 2);
  const recBytes = <usize>(W << 6);
  const ys = <usize>n << 3;
  const chunk = CHUNK_BYTES / (W << 10);
  const iw = <usize>(W << 2), fw = <usize>(W << 3);
  for (let g0 = r0; g0 < r1; g0 += GROUP_ROWS) {
    const g1 = min(r1, g0 + GROUP_ROWS);
    const xt = scratch, iacc = xt + <usize>CHUNK_BYTES, facc = iacc + <usize>GROUP_ROWS * iw;
    memory.fill(facc, 0, <usize>(g1 - g0) * fw);
    for (let b = 0; b < blocks; b++) {
      memory.fill(iacc, 0, <usize>(g1 - g0) * iw);
      // records (p·S + s) of the block's pairs
      const rb = b * BLOCK_PAIRS * S, re = min(P, (b + 1) * BLOCK_PAIRS) * S;
      for (let c0 = rb; c0 < re; c0 += chunk) {
        const cnt = min(re, c0 + chunk) - c0;
        expand(xt, recs + <usize>c0 * recBytes, cnt, W);
        for (let r = g0; r < g1; r++) {
          const cp = codes + <usize>(r >> 4) * tileBytes + (<usize>c0 << 4) + <usize>(r & 15);
          rowPass(iacc + <usize>(r - g0) * iw, cp, xt, cnt, W);
        }
      }
      const bias = i16x8.splat(<i16>((re - rb) << 8));
      const d = bt + (<usize>(b * W) << 2);
      for (let r = g0; r < g1; r++) flushRow(facc + <usize>(r - g0) * fw, iacc + <usize>(r - g0) * iw, d, bias, W);
    }
    for (let r = g0; r < g1; r++) {
      const f = facc + <usize>(r - g0) * fw;
      for (let v = 0; v < nv; v++) {
        const y = Y + <usize>(v0 + v) * ys;
        store<f32>(y + (<usize>r << 2), load<f32>(f + (<usize>v << 2)));
        store<f32>(y + (<usize>(n + r) << 2), load<f32>(f + (<usize>(W + v) << 2)));
      }
    }
  }
}

export function cmatbatch(Y: usize, bt: usize, codes: usize, n: i32, m: i32, S: i32, W: i32, v0: i32, nv: i32, r0: i32, r1: i32, scratch: usize): void {
  // codes layout 2; bt: batch tables of W vectors v0 .. v0 + W − 1 (cmatbatch_tables; W 8 or 16)
  // -> Y f32 (T, 2n), rows [r0, r1) of y_v0 .. y_(v0 + nv − 1) written (nv <= W), each equal to
  // cmatvec's bits. scratch: cmatbatch_scratch_bytes() bytes of the calling thread's own.
  if (W == 16) batchW<v128>(Y, bt, codes, n, m, S, v0, nv, r0, r1, scratch);
  else batchW<u64>(Y, bt, codes, n, m, S, v0, nv, r0, r1, scratch);
}

export function cmatbatch_ref(Y: usize, bt: usize, codes: usize, n: i32, m: i32, S: i32, W: i32, v0: i32, nv: i32, r0: i32, r1: i32): void {
  // as cmatbatch, scalar, straight from the batch tables: per row, vector and block the integer sum
  // of the looked-up entries, then y += d_b · f32(sum) block by block (cmatvec's operations)
  const P = (m + 1) >> 1;
  const blocks = tableBlocks(m);
  const tileBytes = <usize>(P * S) << 4;
  const recs = bt + up64(<usize>(blocks * W) << 2);
  const ys = <usize>n << 3;
  for (let r = r0; r < r1; r++) {
    for (let v = 0; v < nv; v++) {
      let yr: f32 = 0, yi: f32 = 0;
      for (let b = 0; b < blocks; b++) {
        let qr = 0, qi = 0;
        for (let c = b * BLOCK_PAIRS * S; c < min(P, (b + 1) * BLOCK_PAIRS) * S; c++) {
          const byte = <i32>load<u8>(codes + <usize>(r >> 4) * tileBytes + (<usize>c << 4) + <usize>(r & 15));
          const rec = recs + <usize>c * <usize>(W << 6);
          for (let half = 0; half < 2; half++) {
            const e = (byte >> (half << 2)) & 15;
            const o = rec + <usize>((((half << 4) + e) << 1)) * <usize>W + <usize>v;
            qr += <i32>load<u8>(o) - 128;
            qi += <i32>load<u8>(o + <usize>W) - 128;
          }
        }
        const d = load<f32>(bt + (<usize>(b * W + v) << 2));
        yr += d * <f32>qr;
        yi += d * <f32>qi;
      }
      store<f32>(Y + <usize>(v0 + v) * ys + (<usize>r << 2), yr);
      store<f32>(Y + <usize>(v0 + v) * ys + (<usize>(n + r) << 2), yi);
    }
  }
}
