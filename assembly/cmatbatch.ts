// Batched quantized linears on int8 tables (1 level, precision 'fast'): 16 input vectors at a time, for prompts.
//
// cmatvec (cmatvec.ts) looks up 16 rows of one vector's tables with i8x16.swizzle; its cost is per
// vector, so a batch of them costs as much as that many decode steps. Here the 16 lanes are 16
// vectors instead, and a row's code byte is read once for all of them:
//   1. batch tables (cmatbatch_tables, shared by the threads): the 16 vectors' tables transposed, so
//      that for one nibble value e the 16 vectors' entries are one 16-byte load;
//   2. expanded tables (per thread, a chunk of 16 records at a time): for every byte value c, the sum
//      of the low nibble's and the high nibble's biased entries as u16, per part (Re, Im) and vector —
//      64 bytes, one cache line, per byte value, 16 KiB per record;
//   3. per code byte: its one line, 4 loads and 4 i16 adds (the row's Re and Im sums of 16 vectors).
// A chunk's expansion is paid once per group of up to 4096 rows. The integer sums are cmatvec's
// (integer addition in another order) and the f32 operations too, so each vector's result is
// cmatvec's bit for bit.
//
// Batch tables (one group of 16 vectors, from their cmatvec_prepare tables at L = 1):
//     d:       f32 [blocks][16]: block b's scale d_b of each vector          (blocks · 64 bytes)
//     records: per input pair p and stage s, 1024 bytes: byte i·16 + v = byte i of vector v's record
//              (i = part·32 + half·16 + e), i.e. [part][half][e][vector]
//
//     group_bytes = up64(blocks · 64) + ceil(m/2) · S · 1024
//
// Expanded tables (a thread's scratch): record j of the chunk at j · 16 KiB, byte value c at + c · 64,
// part k at + k · 32, vector v at + 2v (u16): rec[k][0][c & 15][v] + rec[k][1][c >> 4][v]

import { BLOCK_PAIRS, TAB_HEADER, cmatvec_tables_bytes, entriesOffset, tableBlocks, up64 } from './cmatvec';

/** Vectors per group (the lanes of a v128 of bytes). */
export const BATCH_LANES: i32 = 16;
/**
 * Records (pair and stage) per chunk: their expanded tables (256 KiB) stay in L2 while the group's rows
 * run through them, each row's 8 sums in registers across the chunk. Measured at 7B shapes, S = 2,
 * per call against two lookups a byte: 4 records 1.3x, 8 1.2-1.3x, 16 1.55x, 32 1.52x.
 */
const CHUNK_RECORDS: i32 = 16;
/**
 * Rows per group: each chunk's expansion is paid once per group, and the group's i16 and f32 sums
 * (256 B a row) stream past each chunk. 1024 rows: 1.46x; 4096: 1.56x (same measurement).
 */
const GROUP_ROWS: i32 = 4096;
/** Bytes of one record's expanded tables: 256 byte values × 2 parts × 16 vectors × u16. */
const EXPANDED_RECORD: usize = 16384;
/** Bytes of a group's row sums: per row, 4 i16x8 sums (64 bytes, at a 128-byte stride) and 32 f32 sums (16 vectors, Re and Im). */
const ROW_SUMS: usize = 256;

export function cmatbatch_scratch_bytes(): i32 {
  // -> bytes of scratch a thread running cmatbatch needs of its own: a chunk's expanded tables, then
  // a row group's sums
  return <i32>(<usize>CHUNK_RECORDS * EXPANDED_RECORD + <usize>GROUP_ROWS * ROW_SUMS);
}

export function cmatbatch_tables_bytes(m: i32, S: i32): i32 {
  // -> bytes of one group's batch tables for m complex inputs and S stages
  return <i32>(up64(<usize>tableBlocks(m) << 6) + <usize>((m + 1) >> 1) * <usize>S * 1024);
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
  const stride = <usize>cmatvec_tables_bytes(m, S, 1);
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
    const src = ent + (<usize>r << 6), dst = recs + (<usize>r << 10);
    if (simd) {
      for (let c = 0; c < 4; c++) transpose16(dst + (<usize>c << 8), src + (<usize>c << 4), stride);
    } else {
      for (let i = 0; i < 64; i++) {
        for (let v = 0; v < BATCH_LANES; v++) store<u8>(dst + (<usize>i << 4) + <usize>v, load<u8>(src + <usize>v * stride + <usize>i));
      }
    }
  }
}

export function cmatbatch_tables(bt: usize, tables: usize, m: i32, S: i32, p0: i32, p1: i32): void {
  // tables: 16 vectors' cmatvec_prepare tables at L = 1, cmatvec_tables_bytes(m, S, 1) apart
  // -> bt (cmatbatch_tables_bytes(m, S)): the batch tables' pairs [p0, p1) (block scales with p0 = 0)
  batchTables(bt, tables, m, S, p0, p1, true);
}

export function cmatbatch_tables_ref(bt: usize, tables: usize, m: i32, S: i32, p0: i32, p1: i32): void {
  // as cmatbatch_tables, a byte at a time: the same bytes
  batchTables(bt, tables, m, S, p0, p1, false);
}

// ---- the kernel ----

/** The expanded tables of `cnt` consecutive batch records at rec, into xt (layout above). */
function expand(xt: usize, rec: usize, cnt: i32): void {
  for (let j = 0; j < cnt; j++) {
    for (let h = 0; h < 16; h++) {
      const hp = rec + 256 + (<usize>h << 4);
      const hr = v128.load(hp), hi = v128.load(hp, 512);
      const hr0 = i16x8.extend_low_i8x16_u(hr), hr1 = i16x8.extend_high_i8x16_u(hr);
      const hi0 = i16x8.extend_low_i8x16_u(hi), hi1 = i16x8.extend_high_i8x16_u(hi);
      let dst = xt + (<usize>h << 10), lp = rec;
      for (let l = 0; l < 16; l++) {
        const lr = v128.load(lp), li = v128.load(lp, 512);
        v128.store(dst, i16x8.add(i16x8.extend_low_i8x16_u(lr), hr0));
        v128.store(dst, i16x8.add(i16x8.extend_high_i8x16_u(lr), hr1), 16);
        v128.store(dst, i16x8.add(i16x8.extend_low_i8x16_u(li), hi0), 32);
        v128.store(dst, i16x8.add(i16x8.extend_high_i8x16_u(li), hi1), 48);
        dst += 64;
        lp += 16;
      }
    }
    rec += 1024;
    xt += EXPANDED_RECORD;
  }
}

/** Adds `cnt` code bytes' lines (Re, Im of 16 vectors) of a row to its sums at acc. */
// @ts-ignore: decorator
@inline
function rowPass(acc: usize, cp: usize, xt: usize, cnt: i32): void {
  let r0 = v128.load(acc), r1 = v128.load(acc, 16), r2 = v128.load(acc, 32), r3 = v128.load(acc, 48);
  for (let i = 0; i < cnt; i++) {
    const e = xt + (<usize>load<u8>(cp) << 6);
    r0 = i16x8.add(r0, v128.load(e));
    r1 = i16x8.add(r1, v128.load(e, 16));
    r2 = i16x8.add(r2, v128.load(e, 32));
    r3 = i16x8.add(r3, v128.load(e, 48));
    cp += 16;
    xt += EXPANDED_RECORD;
  }
  v128.store(acc, r0); v128.store(acc, r1, 16); v128.store(acc, r2, 32); v128.store(acc, r3, 48);
}

/** f[0..8) += d · f32(q − bias) for 8 vectors' i16 sums q, d of each vector's block (8 f32 at dp). */
// @ts-ignore: decorator
@inline
function flush8(f: usize, q: v128, dp: usize, bias: v128): void {
  q = i16x8.sub(q, bias);
  v128.store(f, f32x4.add(v128.load(f), f32x4.mul(v128.load(dp), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)))));
  v128.store(f, f32x4.add(v128.load(f, 16), f32x4.mul(v128.load(dp, 16), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)))), 16);
}

/** One row's block sums (at acc) into its f32 sums f (Re 16 vectors, then Im 16), scaled by the block's d (16 f32). */
// @ts-ignore: decorator
@inline
function flushRow(f: usize, acc: usize, d: usize, bias: v128): void {
  flush8(f, v128.load(acc), d, bias);
  flush8(f + 32, v128.load(acc, 16), d + 32, bias);
  flush8(f + 64, v128.load(acc, 32), d, bias);
  flush8(f + 96, v128.load(acc, 48), d + 32, bias);
}

export function cmatbatch(Y: usize, bt: usize, codes: usize, n: i32, m: i32, S: i32, v0: i32, nv: i32, r0: i32, r1: i32, scratch: usize): void {
  // codes layout 2; bt: batch tables of vectors v0 .. v0 + 15 (cmatbatch_tables) -> Y f32 (T, 2n),
  // rows [r0, r1) of y_v0 .. y_(v0 + nv − 1) written (nv <= 16), each equal to cmatvec's bits.
  // scratch: cmatbatch_scratch_bytes() bytes of the calling thread's own.
  const P = (m + 1) >> 1;
  const blocks = tableBlocks(m);
  const tileBytes = <usize>(P * S) << 4;
  const recs = bt + up64(<usize>blocks << 6);
  const ys = <usize>n << 3;
  for (let g0 = r0; g0 < r1; g0 += GROUP_ROWS) {
    const g1 = min(r1, g0 + GROUP_ROWS);
    const xt = scratch, iacc = xt + <usize>CHUNK_RECORDS * EXPANDED_RECORD, facc = iacc + (<usize>GROUP_ROWS << 7);
    memory.fill(facc, 0, <usize>(g1 - g0) << 7);
    for (let b = 0; b < blocks; b++) {
      memory.fill(iacc, 0, <usize>(g1 - g0) << 7);
      // records (p·S + s) of the block's pairs
      const rb = b * BLOCK_PAIRS * S, re = min(P, (b + 1) * BLOCK_PAIRS) * S;
      for (let c0 = rb; c0 < re; c0 += CHUNK_RECORDS) {
        const cnt = min(re, c0 + CHUNK_RECORDS) - c0;
        expand(xt, recs + (<usize>c0 << 10), cnt);
        for (let r = g0; r < g1; r++) {
          const cp = codes + <usize>(r >> 4) * tileBytes + (<usize>c0 << 4) + <usize>(r & 15);
          rowPass(iacc + (<usize>(r - g0) << 7), cp, xt, cnt);
        }
      }
      const bias = i16x8.splat(<i16>((re - rb) << 8));
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
