// Batched quantized linears at 2 digit levels: 16 input vectors at a time, for prompts.
//
// cmatvec (cmatvec.ts) looks up 16 rows of one vector's tables with i8x16.swizzle; its cost is per
// vector, so a batch of them costs as much as that many decode steps. Here the 16 lanes are 16
// vectors instead: the tables of 16 vectors are transposed so that, for one row's code nibble e, the
// 16 vectors' entries are one 16-byte load, and a row's code byte is read once for all of them. Per
// code byte: 8 loads, 4 u8 adds and 12 ops to accumulate (as pass2's raw-lane sums), for 16 vectors,
// against pass2's 39 vector ops per 16 code bytes per vector: ~1.5x faster per vector than cmatvec
// (bench/kernels.ts), where the scalar work per code byte (its address, the loop) and the tables'
// traffic from L2/L3 take the rest. The integer sums, their order and the
// f32 operations are cmatvec's, so each vector's result is cmatvec's bit for bit.
//
// Batch tables (one group of 16 vectors, from their cmatvec_prepare tables at L = 2):
//     d:       f32 [blocks][16]: block b's scale d_b of each vector          (blocks · 64 bytes)
//     records: per input pair p and stage s, 2048 bytes: byte i·16 + v = byte i of vector v's record
//              (i = (part·2 + level)·32 + half·16 + e), i.e. [part·2 + level][half][e][vector]
//
//     group_bytes = up64(blocks · 64) + ceil(m/2) · S · 2048

import { BLOCK_PAIRS, TAB_HEADER, cmatvec_tables_bytes, entriesOffset, evenSums, rowsHigh, rowsLow, tableBlocks, up64 } from './cmatvec';

/** Vectors per group (the lanes of a v128 of bytes). */
export const BATCH_LANES: i32 = 16;
/**
 * Pairs per chunk: a chunk's batch records (8 pairs · S stages · 2 KiB, 32 KiB at S = 2) stay near
 * while a row group runs through them (measured at 4096 × 4096, S = 2: 2, 4, 8, 16, 32 pairs gave
 * 1.21, 1.45, 1.51, 1.33, 1.25x cmatvec per vector).
 */
const CHUNK_PAIRS: i32 = 8;
/**
 * Rows per group: the group runs through all the batch tables once (4 MiB for 16 vectors at m = 2048,
 * S = 2, from L3), chunk by chunk, its rows' i16 and f32 sums (256 B a row) beside. Per vector
 * against cmatvec: 64 rows 1.07x (the tables' traffic), 256 rows 1.36x, 1024 rows 1.45x, 4096 1.31x.
 */
const GROUP_ROWS: i32 = 1024;

export function cmatbatch_tables_bytes(m: i32, S: i32): i32 {
  // -> bytes of one group's batch tables for m complex inputs and S stages
  return <i32>(up64(<usize>tableBlocks(m) << 6) + <usize>((m + 1) >> 1) * <usize>S * 2048);
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
 * dst[c·16 + r] = src_r[c] for a 16 × 16 byte matrix whose row r is at src + r·srcStride: four
 * rounds of interleaving at 1, 2, 4 and 8 bytes, in locals (no scratch, so any thread may run it).
 */
// @ts-ignore: decorator
@inline
function transpose16(dst: usize, src: usize, srcStride: usize): void {
  const r0 = v128.load(src + 0 * srcStride);
  const r1 = v128.load(src + 1 * srcStride);
  const r2 = v128.load(src + 2 * srcStride);
  const r3 = v128.load(src + 3 * srcStride);
  const r4 = v128.load(src + 4 * srcStride);
  const r5 = v128.load(src + 5 * srcStride);
  const r6 = v128.load(src + 6 * srcStride);
  const r7 = v128.load(src + 7 * srcStride);
  const r8 = v128.load(src + 8 * srcStride);
  const r9 = v128.load(src + 9 * srcStride);
  const r10 = v128.load(src + 10 * srcStride);
  const r11 = v128.load(src + 11 * srcStride);
  const r12 = v128.load(src + 12 * srcStride);
  const r13 = v128.load(src + 13 * srcStride);
  const r14 = v128.load(src + 14 * srcStride);
  const r15 = v128.load(src + 15 * srcStride);
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
  v128.store(dst, lo64(u0, u8), 0);
  v128.store(dst, hi64(u0, u8), 16);
  v128.store(dst, lo64(u1, u9), 32);
  v128.store(dst, hi64(u1, u9), 48);
  v128.store(dst, lo64(u2, u10), 64);
  v128.store(dst, hi64(u2, u10), 80);
  v128.store(dst, lo64(u3, u11), 96);
  v128.store(dst, hi64(u3, u11), 112);
  v128.store(dst, lo64(u4, u12), 128);
  v128.store(dst, hi64(u4, u12), 144);
  v128.store(dst, lo64(u5, u13), 160);
  v128.store(dst, hi64(u5, u13), 176);
  v128.store(dst, lo64(u6, u14), 192);
  v128.store(dst, hi64(u6, u14), 208);
  v128.store(dst, lo64(u7, u15), 224);
  v128.store(dst, hi64(u7, u15), 240);
}

/**
 * Batch tables of 16 vectors from their cmatvec tables (at `tables`, cmatvec_tables_bytes(m, S, 2)
 * apart), for input pairs [p0, p1) (and the block scales when p0 is 0): threads split the pairs.
 * simd false: the scalar byte loop (the reference; the same bytes).
 */
function batchTables(bt: usize, tables: usize, m: i32, S: i32, p0: i32, p1: i32, simd: bool): void {
  const stride = <usize>cmatvec_tables_bytes(m, S, 2);
  const blocks = tableBlocks(m);
  if (p0 == 0) {
    for (let b = 0; b < blocks; b++) {
      for (let v = 0; v < BATCH_LANES; v++) {
        store<f32>(bt + (<usize>b << 6) + (<usize>v << 2), load<f32>(tables + <usize>v * stride + TAB_HEADER + (<usize>b << 2)));
      }
    }
  }
  const recs = bt + up64(<usize>blocks << 6);
  const ent = tables + entriesOffset(m);
  for (let r = p0 * S; r < p1 * S; r++) {
    const src = ent + (<usize>r << 7), dst = recs + (<usize>r << 11);
    if (simd) {
      for (let c = 0; c < 8; c++) transpose16(dst + (<usize>c << 8), src + (<usize>c << 4), stride);
    } else {
      for (let i = 0; i < 128; i++) {
        for (let v = 0; v < BATCH_LANES; v++) store<u8>(dst + (<usize>i << 4) + <usize>v, load<u8>(src + <usize>v * stride + <usize>i));
      }
    }
  }
}

export function cmatbatch_tables(bt: usize, tables: usize, m: i32, S: i32, p0: i32, p1: i32): void {
  // tables: 16 vectors' cmatvec_prepare tables at L = 2, cmatvec_tables_bytes(m, S, 2) apart
  // -> bt (cmatbatch_tables_bytes(m, S)): the batch tables' pairs [p0, p1) (block scales with p0 = 0)
  batchTables(bt, tables, m, S, p0, p1, true);
}

export function cmatbatch_tables_ref(bt: usize, tables: usize, m: i32, S: i32, p0: i32, p1: i32): void {
  // as cmatbatch_tables, a byte at a time: the same bytes
  batchTables(bt, tables, m, S, p0, p1, false);
}

// ---- the kernel ----

/** Adds one code byte's 4 lookups (Re, Im × 2 levels) for 16 vectors to the raw/odd sums at acc. */
// @ts-ignore: decorator
@inline
function rowPass(acc: usize, cp: usize, rec: usize, cnt: i32): void {
  let r0 = v128.load(acc), o0 = v128.load(acc, 16), r1 = v128.load(acc, 32), o1 = v128.load(acc, 48);
  let r2 = v128.load(acc, 64), o2 = v128.load(acc, 80), r3 = v128.load(acc, 96), o3 = v128.load(acc, 112);
  for (let i = 0; i < cnt; i++) {
    const byte = <usize>load<u8>(cp);
    const tl = rec + ((byte & 15) << 4), th = rec + 256 + ((byte >> 4) << 4);
    let v = i8x16.add(v128.load(tl), v128.load(th));
    r0 = i16x8.add(r0, v); o0 = i16x8.add(o0, i16x8.shr_u(v, 8));
    v = i8x16.add(v128.load(tl, 512), v128.load(th, 512));
    r1 = i16x8.add(r1, v); o1 = i16x8.add(o1, i16x8.shr_u(v, 8));
    v = i8x16.add(v128.load(tl, 1024), v128.load(th, 1024));
    r2 = i16x8.add(r2, v); o2 = i16x8.add(o2, i16x8.shr_u(v, 8));
    v = i8x16.add(v128.load(tl, 1536), v128.load(th, 1536));
    r3 = i16x8.add(r3, v); o3 = i16x8.add(o3, i16x8.shr_u(v, 8));
    cp += 16;
    rec += 2048;
  }
  v128.store(acc, r0); v128.store(acc, o0, 16); v128.store(acc, r1, 32); v128.store(acc, o1, 48);
  v128.store(acc, r2, 64); v128.store(acc, o2, 80); v128.store(acc, r3, 96); v128.store(acc, o3, 112);
}

/** Vectors 0..7 (lo) or 8..15 of an i16 level sum from its raw-lane and odd-lane sums, bias removed (as pass2's rows). */
// @ts-ignore: decorator
@inline
function level(acc: usize, k: i32, bias: v128, high: bool): v128 {
  const raw = v128.load(acc + (<usize>k << 5)), odd = v128.load(acc + (<usize>k << 5), 16);
  const e = i16x8.sub(evenSums(raw, odd), bias), o = i16x8.sub(odd, bias);
  return high ? rowsHigh(e, o) : rowsLow(e, o);
}

/** f[0..4) += d · f32(128 · hi + lo) for 4 vectors (as cmatvec.ts flush2). */
// @ts-ignore: decorator
@inline
function flush4(f: usize, hi: v128, lo: v128, d: v128): void {
  const q = i32x4.add(i32x4.shl(hi, 7), lo);
  v128.store(f, f32x4.add(v128.load(f), f32x4.mul(d, f32x4.convert_i32x4_s(q))));
}

/** One row's block sums (at acc) into its f32 sums f (Re 16 vectors, then Im 16), scaled by the block's d (16 f32). */
// @ts-ignore: decorator
@inline
function flushRow(f: usize, acc: usize, d: usize, bias: v128): void {
  for (let part = 0; part < 2; part++) {
    for (let h = 0; h < 2; h++) {
      const hi = level(acc, part * 2, bias, h == 1), lo = level(acc, part * 2 + 1, bias, h == 1);
      const fp = f + (<usize>(part * 16 + h * 8) << 2), dp = d + (<usize>(h * 8) << 2);
      flush4(fp, i32x4.extend_low_i16x8_s(hi), i32x4.extend_low_i16x8_s(lo), v128.load(dp));
      flush4(fp + 16, i32x4.extend_high_i16x8_s(hi), i32x4.extend_high_i16x8_s(lo), v128.load(dp, 16));
    }
  }
}

export function cmatbatch_work_bytes(n: i32): i32 {
  // -> bytes of cmatbatch's work area for n rows: each row's i16 sums (128 B) and f32 sums (128 B)
  return n << 8;
}

export function cmatbatch(Y: usize, bt: usize, codes: usize, n: i32, m: i32, S: i32, v0: i32, nv: i32, r0: i32, r1: i32, work: usize): void {
  // codes layout 2; bt: batch tables of vectors v0 .. v0 + 15 (cmatbatch_tables) -> Y f32 (T, 2n),
  // rows [r0, r1) of y_v0 .. y_(v0 + nv − 1) written (nv <= 16), each equal to cmatvec's bits.
  // work: cmatbatch_work_bytes(n) bytes, row r's part only used by the call that writes row r (so
  // calls on other threads for other rows may share it).
  const P = (m + 1) >> 1;
  const blocks = tableBlocks(m);
  const tileBytes = <usize>(P * S) << 4;
  const recs = bt + up64(<usize>blocks << 6);
  const ys = <usize>n << 3;
  for (let g0 = r0; g0 < r1; g0 += GROUP_ROWS) {
    const g1 = min(r1, g0 + GROUP_ROWS);
    const iacc = work + (<usize>g0 << 7), facc = work + (<usize>(n + g0) << 7);
    memory.fill(facc, 0, <usize>(g1 - g0) << 7);
    for (let b = 0; b < blocks; b++) {
      memory.fill(iacc, 0, <usize>(g1 - g0) << 7);
      const pb = b * BLOCK_PAIRS, pe = min(P, pb + BLOCK_PAIRS);
      for (let c0 = pb; c0 < pe; c0 += CHUNK_PAIRS) {
        const cnt = (min(pe, c0 + CHUNK_PAIRS) - c0) * S;
        const rec = recs + (<usize>(c0 * S) << 11);
        for (let r = g0; r < g1; r++) {
          const cp = codes + <usize>(r >> 4) * tileBytes + (<usize>(c0 * S) << 4) + <usize>(r & 15);
          rowPass(iacc + (<usize>(r - g0) << 7), cp, rec, cnt);
        }
      }
      const bias = i16x8.splat(<i16>(((pe - pb) * S) << 7));
      const d = bt + (<usize>b << 6);
      for (let r = g0; r < g1; r++) flushRow(facc + (<usize>(r - g0) << 7), iacc + (<usize>(r - g0) << 7), d, bias);
    }
    for (let r = g0; r < g1; r++) {
      const f = facc + (<usize>(r - g0) << 7);
      for (let v = 0; v < nv; v++) {
        const y = Y + <usize>(v0 + v) * ys;
        store<f32>(y + (<usize>r << 2), load<f32>(f + (<usize>v << 2)));
        store<f32>(y + (<usize>(n + r) << 2), load<f32>(f + (<usize>(16 + v) << 2)));
      }
    }
  }
}
