// Packed {±1, ±i} residual-stage linear layers: y = Σ_s U_s z + W_s conj(z).
//
// Code layout 2 of docs/format.md (the only description of it; repeated here where it bites):
// code k means multiplication by i^k, dequantized per stage as
//     0: +s_re    1: +i·s_im    2: −s_re    3: −i·s_im
// Rows come in tiles of 16 (one per lane of an i8x16.swizzle). A tile holds, for each input
// pair p (inputs 2p, 2p + 1) and stage s, 16 bytes, byte k for row 16t + k: its low nibble is
// u | w << 2 for input 2p (u the U code, w the W code of stage s), its high nibble the same for
// input 2p + 1. Rows past n and input m (odd m) are padding.
//
//     tile_bytes = 16 · ceil(m/2) · S
//     byte(t, p, s, k) = codes[t·tile_bytes + (p·S + s)·16 + k]
//
// Kernels, all with the row range [r0, r1) the threads split on:
//   cmatvec_ref      exact f32, scalar: the engine's reference path (set_kernel(0)).
//   cmatvec_prepare  per input vector: activation tables (below) into a scratch region.
//   cmatvec          the fast path: table lookups with i8x16.swizzle (relaxed_swizzle in the
//                    relaxed-SIMD build), integer accumulation.
//   cmatvec_lut_ref  scalar twin of cmatvec on the same tables: bit-identical results.
//   cmatmul / _ref   T vectors over the codes of a tile while it is in cache.
//
// Why tables (T-MAC, bitnet.cpp; the iFairy fork of llama.cpp packs two complex codes per
// nibble likewise): with z_j = a + ib, one (u, w) pair of one input and one stage contributes
//     U part: q_U(u)·z_j   (q(0) = s_re, q(1) = i·s_im, q(2) = −s_re, q(3) = −i·s_im)
//     W part: q_W(w)·conj(z_j)
// so a 16-entry table per input and stage (scales folded in, built once per input vector)
// turns each nibble into one lookup: a swizzle looks up 16 rows at once, for Re and for Im.
//
// Exactness. Table entries are integers v = round(T/d_b) with one scale d_b = max|T| / Q per block
// of 64 inputs (32 pairs), the entry's scales folded in. Two arithmetics (set_kernel):
//   L = 1, precision 'fast' (the default): int8 entries at the full ±127 range (Q = 127), stored
//     v + 128 (1..255). Each looked-up byte sums in i16 on its own (pass1), d_b·f32(Σ) per block.
//     Per lookup at most d_b/2 off. This is how the field runs low-bit weights (llama.cpp's TQ2_0
//     and bitnet.cpp quantize activations to int8, T-MAC its tables) and it is judged the same way:
//     on the bundled trained QAT W2 model against 'exact' (bench/precision.ts, all 20 319 held-out
//     positions and 1792 of English prose; test/precision.test.ts checks a sample): perplexity
//     +0.045 % / −0.001 %, mean KL 2.3e-4 / 2.7e-4 nats, top-1 agreement 98.9 % / 98.4 % (the
//     issue's budget: 0.5 %, 0.003, 95 %). On the tiny post-training-quantized goldens only a
//     sanity check holds (perplexity within 2 %: 0.4-1.4 % measured; top-1 90-100 %).
//   L = 3, precision 'exact': Q = 1040319 (~20 bits) as three balanced base-128 digits in [−64, 63]
//     (most significant first, each byte digit + 64), v = Σ_l digit_l · 128^(2−l); a row sums each
//     level in i16 (a code vector's two digits added in u8 first), then the exact i32 Σ_l
//     sum_l·128^(2−l). Logits within 2.5e-5·max|logit| of the float64 goldens (the f32 reference:
//     2.7e-6; the engine tests allow 1e-3), same arg-max everywhere.
// Measured for the choice of 'fast' (2026-12-02, same model and texts; decode kernel at 4096x4096,
// S = 2, one thread, bench/kernels.ts, codes GB/s, fastest of interleaved rounds; the runs moved by
// ±20 % on the shared machine):
//   - 14-bit tables (2 digit levels, the previous 'fast', 39 vector ops per 16 code bytes): KL 6e-8,
//     top-1 100 %; 2.7-3.7 GB/s. Removed: no precision uses it.
//   - 7-bit entries (Q = 63) whose two lookups add in u8 before widening, one pass for Re and Im
//     (15 ops + 4 paddusb): KL 8.6e-4 / 1.0e-3, top-1 97.7 % / 97.5 %, perplexity +0.07 %;
//     7.2-7.6 GB/s (the same as ±127 within the noise of four alternating runs).
//   - ±127 entries averaged pairwise with i8x16.avgr_u (T-MAC's fast aggregation, the bias of its
//     rounding corrected by cnt/2): KL 2.2e-3 / 2.65e-3, top-1 96.4 % / 95.9 %, perplexity +0.33 %:
//     most entries of a block are small (its scale follows its largest input), so the parity of a
//     sum is not uniform and the correction leaves a bias; no faster than the 7-bit entries.
//   - ±127 entries, each lookup widened on its own (chosen: 19 ops + 4 paddusb): 6.3-7.8 GB/s, 2.3-2.8x
//     the 14-bit tables, with 4x less KL than the 7-bit entries for the same speed.
// Keeping the scales out of the entries (a plain ±a/±b per entry, one accumulator per scale) would
// need 4 accumulators per part and stage instead of 1: more ops per byte, not fewer.
//
// Cost per 16 code bytes (64 codes, 16 rows × 2 inputs × U and W) at L = 1 (pass1), read from
// `node --print-wasm-code` (Node 20, V8 11.3; TurboFan unrolls the loop, nothing spills): 5 loads
// (the code vector, 4 table halves), 3 ops for the nibbles (vpand; vpsrlw + vpand), 4 vpshufb, 8
// vpaddw and 4 vpsrlw for the sums: 19 vector ALU ops, plus a vpaddusb before every swizzle in the
// SIMD128 build (4, though there are only 2 distinct indices): 23. At L = 3 the 12 accumulators would
// spill, so Re and Im are two passes over the block's codes (at most 2 KiB, in L1), 62 ops.
//
// Decode's bound, measured 2026-12-02 (4096x4096, S = 2, one thread, interleaved rounds of both
// builds in one process; 2-core AMD EPYC, Zen 4 (family 25 model 17), shared: figures moved ±20 %):
//   - codes in cache: relaxed 8.5-11.1 GB/s of codes, SIMD128 6.1-7.9. Zen 4 has 4 vector ALU pipes,
//     shuffles and shifts on 2 of them (9 of the 19 ops): >= 4.75 cycles per 16 bytes, about what
//     this runs at. The kernel is bound by its vector ops.
//   - codes from memory (each call on another copy, 96 MiB in all, as in decode): relaxed 6.0-7.1
//     GB/s, SIMD128 4.7-5.4: 25-32 % and 21-24 % of the 21-24 GB/s read roofline. The time from memory
//     is about the time in cache plus the time to stream the codes (1/6.5 ≈ 1/9.4 + 1/24): at this
//     density of ops the reorder window (~450 ops) holds ~300 bytes of codes ahead, too few misses in
//     flight to hide DRAM latency beyond what the hardware prefetcher covers, and WebAssembly has no
//     prefetch instruction. 50 % of the roofline (11-12 GB/s from memory) would take <= ~10 vector ops
//     per 16 bytes (native TQ2_0's AVX2 loop does ~8 per 16 bytes, 256 bits at a time).
//   - in decode (TinyLlama-1.1B shape, relaxed, one thread, --cpu-prof): this kernel 60 % of the
//     samples, cmatvec_prepare 6.4 % (about a tenth of the kernel's time), the rest of the model ~1 %.
// Tried in those runs and left:
//   - odd-row sums by i16x8.extadd_pairwise_i8x16_u (vpmaddubsw, on the multiply pipes) instead of
//     the shifts, odd = (Σ pairwise − Σ lanes)·257 mod 2^16 (257 = −255⁻¹): same op count, 5-10 % slower.
//   - 7-bit entries whose two lookups add in u8 before widening (15 ops; KL ~9e-4, in budget): +13-25 %
//     in cache and +3-25 % from memory on the relaxed build, +13 % / ±10 % on SIMD128. The int8 tables
//     are also cmatbatch.ts's input and a batch's rows must equal decode's bit for bit, so this is a
//     change of both kernels (and of 'fast'), not of this one alone: not done here.
//   - scalar loads touching each tile's codes 1-8 blocks ahead (a software prefetch): +0-5 %, noise.
//   - GROUP_TILES 1, 2, 8: the same from memory (1 re-reads the tables from L2 per tile: slower in cache).



/** Rows per tile. */
const TILE: i32 = 16;
/** Tiles a kernel call runs through together, block by block (tilesFast). */
const GROUP_TILES: i32 = 4;
/** Tiles cmatmul runs all its vectors through together: 8 tiles' codes (256 KiB at m = 2048, 688 KiB at m = 5504, S = 2) stay in L2 while each vector's tables stream past once per group (with 4 tiles, 64 vectors' tables re-read from L3 made a batch 26 % slower per vector than decode; with 8, the same). */
const BATCH_GROUP_TILES: i32 = 8;

/** Input pairs per quantization block (64 inputs). */
export const BLOCK_PAIRS: i32 = 32;
/** 1.5·2^23 and its bits: see quant1. */
const MAGIC: f32 = 12582912.0;
const MAGIC_BITS: i32 = 0x4b400000;
/** Bytes of the tables header: u32 levels, u32 m, u32 S, u32 blocks. */
export const TAB_HEADER: usize = 64;

// @ts-ignore: decorator
@inline
export function up64(b: usize): usize {
  return (b + 63) & ~(<usize>63);
}

/** Quantization blocks (one scale each) of m complex inputs. */
// @ts-ignore: decorator
@inline
export function tableBlocks(m: i32): i32 {
  return (((m + 1) >> 1) + BLOCK_PAIRS - 1) / BLOCK_PAIRS;
}

/** Largest |v| of a table entry at L levels of balanced base-128 digits in [−64, 63]. */
// @ts-ignore: decorator
@inline
function qmax(L: i32): f32 {
  return L == 1 ? 127 : 1040319;
}

/** Offset of the entries in a tables region: header, then one f32 scale per block. */
// @ts-ignore: decorator
@inline
export function entriesOffset(m: i32): usize {
  return TAB_HEADER + up64(<usize>tableBlocks(m) << 2);
}

export function cmatvec_tables_bytes(m: i32, S: i32, levels: i32): i32 {
  // -> bytes cmatvec_prepare writes for m complex inputs, S stages, `levels` digit levels (1..3)
  return <i32>(entriesOffset(m) + <usize>((m + 1) >> 1) * <usize>S * <usize>(levels << 6));
}

// ---- tables ----

/** Re of q_U(u)·z + q_W(w)·conj z, z = a + ib, for one stage's scales. */
// @ts-ignore: decorator
@inline
function entryRe(a: f32, b: f32, u: i32, w: i32, sur: f32, sui: f32, swr: f32, swi: f32): f32 {
  const A: f32 = u == 0 ? sur * a : u == 1 ? -(sui * b) : u == 2 ? -(sur * a) : sui * b;
  const B: f32 = w == 0 ? swr * a : w == 1 ? swi * b : w == 2 ? -(swr * a) : -(swi * b);
  return A + B;
}

/** Im of the same. */
// @ts-ignore: decorator
@inline
function entryIm(a: f32, b: f32, u: i32, w: i32, sur: f32, sui: f32, swr: f32, swi: f32): f32 {
  const A: f32 = u == 0 ? sur * b : u == 1 ? sui * a : u == 2 ? -(sur * b) : -(sui * a);
  const B: f32 = w == 0 ? -(swr * b) : w == 1 ? swi * a : w == 2 ? swr * b : -(swi * a);
  return A + B;
}

/** Stores the L digits of v (|v| <= qmax(L)) at p, p + 32, p + 64 (most significant first). */
// @ts-ignore: decorator
@inline
function storeDigits(p: usize, v: i32, L: i32): void {
  if (L == 1) { // one entry at the full ±127 range, biased: 1..255
    store<u8>(p, <u8>(v + 128));
    return;
  }
  for (let l = L - 1; l >= 0; l--) {
    const d = ((v + 64) & 127) - 64;
    store<u8>(p + <usize>(l << 5), <u8>(d + 64)); // biased: 0..127
    v = (v - d) >> 7;
  }
}

/**
 * Transposes V_w (byte 4u + k: entry u + 4w of input k) into input k's 16 entries and stores
 * them at dst + (k >> 1)·pairStride + (k & 1)·16 (inputs k = 0..3 are pairs p, p + 1).
 */
// @ts-ignore: decorator
@inline
function store4x16(dst: usize, pairStride: usize, v0: v128, v1: v128, v2: v128, v3: v128): void {
  const wa = i8x16.shuffle(v0, v1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const wb = i8x16.shuffle(v0, v1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const wc = i8x16.shuffle(v2, v3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const wd = i8x16.shuffle(v2, v3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  v128.store(dst, i8x16.shuffle(wa, wc, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
  v128.store(dst, i8x16.shuffle(wa, wc, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 16);
  v128.store(dst + pairStride, i8x16.shuffle(wb, wd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
  v128.store(dst + pairStride, i8x16.shuffle(wb, wd, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 16);
}

/**
 * round(t·inv) to the nearest integer (ties to even) for |t·inv| < 2^22: adding 1.5·2^23 rounds
 * the sum to an integer in the mantissa's low bits. |t| <= mx and inv = Q/mx keep |t·inv| <=
 * Q·(1 + u) + ulp/2 < Q + 0.5, so no clamp is needed (NaN inputs give garbage, never a trap).
 */
// @ts-ignore: decorator
@inline
function quant1(t: f32, inv: f32): i32 {
  return reinterpret<i32>(t * inv + MAGIC) - MAGIC_BITS;
}

// One quantization serves every level: with w = v + 64·(1 + 128 + … + 128^(L−1)) (64, 8256 or
// 1056832, folded into quant1's magic constant), the biased digit of level l (0 = most significant)
// is (w >> 7·(L−1−l)) & 127, storeDigits's bytes (quantizing once per level instead took
// cmatvec_prepare 98 µs at L = 2 and 107 at L = 3 against 50 and 66; m = 2048, S = 2).

/** quant1(a + bw) + bias on 4 lanes: the same bits plus the bias. */
// @ts-ignore: decorator
@inline
function quantBiased(a: v128, bw: v128, inv: v128, bias: i32): v128 {
  return i32x4.sub(f32x4.add(f32x4.mul(f32x4.add(a, bw), inv), f32x4.splat(MAGIC)), i32x4.splat(MAGIC_BITS - bias));
}

/** (w >> shift) & 127 on 4 lanes; the top level (shift 7·(L−1)) needs no mask, the lowest no shift. */
// @ts-ignore: decorator
@inline
function digitLanes(w: v128, shift: i32, top: bool): v128 {
  const v = shift == 0 ? w : i32x4.shr_s(w, shift);
  return top ? v : v128.and(v, i32x4.splat(127));
}

/** Biased digit bytes (digitLanes) of 4 × 4 entries from their quantBiased values. */
// @ts-ignore: decorator
@inline
function digitBytes(w0: v128, w1: v128, w2: v128, w3: v128, shift: i32, top: bool): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(digitLanes(w0, shift, top), digitLanes(w1, shift, top)),
    i16x8.narrow_i32x4_s(digitLanes(w2, shift, top), digitLanes(w3, shift, top)));
}

/** Level bytes (shift, top: digitLanes) of entries u + 4w (u = 0..3) of 4 inputs for one w. */
// @ts-ignore: decorator
@inline
function levelRow(a0: v128, a1: v128, a2: v128, a3: v128, bw: v128, inv: v128, bias: i32, shift: i32, top: bool): v128 {
  return digitBytes(quantBiased(a0, bw, inv, bias), quantBiased(a1, bw, inv, bias), quantBiased(a2, bw, inv, bias), quantBiased(a3, bw, inv, bias), shift, top);
}

/** One level of a part: its 4 rows (w = 0..3) transposed and stored at dst. */
// @ts-ignore: decorator
@inline
function level4(dst: usize, pairStride: usize, a0: v128, a1: v128, a2: v128, a3: v128,
  b0: v128, b1: v128, b2: v128, b3: v128, inv: v128, bias: i32, shift: i32, top: bool): void {
  store4x16(dst, pairStride, levelRow(a0, a1, a2, a3, b0, inv, bias, shift, top), levelRow(a0, a1, a2, a3, b1, inv, bias, shift, top),
    levelRow(a0, a1, a2, a3, b2, inv, bias, shift, top), levelRow(a0, a1, a2, a3, b3, inv, bias, shift, top));
}

/**
 * One part (Re or Im) of 4 inputs (pairs p, p + 1) and one stage: A_u + B_w for all 16 (u, w), each
 * level's bytes. The levels' quantizations are the same expressions, computed once (binaryen's -O3
 * CSE, so in every engine; written as a loop over levels they were recomputed and the build took 1.7x).
 */
// @ts-ignore: decorator
@inline
function part4(dst: usize, pairStride: usize, a0: v128, a1: v128, a2: v128, a3: v128,
  b0: v128, b1: v128, b2: v128, b3: v128, inv: v128, L: i32): void {
  if (L == 1) {
    level4(dst, pairStride, a0, a1, a2, a3, b0, b1, b2, b3, inv, 128, 0, true);
  } else {
    level4(dst, pairStride, a0, a1, a2, a3, b0, b1, b2, b3, inv, 1056832, 14, true);
    level4(dst + 32, pairStride, a0, a1, a2, a3, b0, b1, b2, b3, inv, 1056832, 7, false);
    level4(dst + 64, pairStride, a0, a1, a2, a3, b0, b1, b2, b3, inv, 1056832, 0, false);
  }
}

/** The tables of inputs j .. j + 3 (all < m, j even) for all stages, SIMD: the same values as the scalar loop. */
// @ts-ignore: decorator
@inline
function entries4(ent: usize, x: usize, scales: usize, m: i32, S: i32, L: i32, j: i32, inv: v128): void {
  const a = v128.load(x + (<usize>j << 2)), b = v128.load(x + (<usize>(m + j) << 2));
  const rec = <usize>(L << 6);
  const pairStride = <usize>S * rec;
  for (let s = 0; s < S; s++) {
    const sc = scales + (<usize>s << 4);
    const sur = f32x4.splat(load<f32>(sc)), sui = f32x4.splat(load<f32>(sc, 4));
    const swr = f32x4.splat(load<f32>(sc, 8)), swi = f32x4.splat(load<f32>(sc, 12));
    const dst = ent + <usize>((j >> 1) * S + s) * rec;
    const ura = f32x4.mul(sur, a), uib = f32x4.mul(sui, b), wra = f32x4.mul(swr, a), wib = f32x4.mul(swi, b);
    // Re: A = (sur·a, −sui·b, −sur·a, sui·b), B = (swr·a, swi·b, −swr·a, −swi·b) (entryRe)
    part4(dst, pairStride, ura, f32x4.neg(uib), f32x4.neg(ura), uib,
      wra, wib, f32x4.neg(wra), f32x4.neg(wib), inv, L);
    const urb = f32x4.mul(sur, b), uia = f32x4.mul(sui, a), wrb = f32x4.mul(swr, b), wia = f32x4.mul(swi, a);
    // Im: A = (sur·b, sui·a, −sur·b, −sui·a), B = (−swr·b, swi·a, swr·b, −swi·a) (entryIm)
    part4(dst + (rec >> 1), pairStride, urb, uia, f32x4.neg(urb), f32x4.neg(uia),
      f32x4.neg(wrb), wia, wrb, f32x4.neg(wia), inv, L);
  }
}

/** cmatvec_prepare (simd) and cmatvec_prepare_ref (scalar): identical bytes. */
// @ts-ignore: decorator
@inline
function prepare(tables: usize, x: usize, scales: usize, m: i32, S: i32, levels: i32, simd: bool, b0: i32, b1: i32): void {
  const P = (m + 1) >> 1;
  const blocks = tableBlocks(m);
  if (b0 == 0) {
    store<u32>(tables, levels);
    store<u32>(tables, m, 4);
    store<u32>(tables, S, 8);
    store<u32>(tables, blocks, 12);
  }
  const Q = qmax(levels);
  const rec = <usize>(levels << 6);
  const ent = tables + entriesOffset(m);
  for (let bk = b0; bk < min(b1, blocks); bk++) {
    const j0 = bk * (BLOCK_PAIRS << 1);
    const j1 = min(m, j0 + (BLOCK_PAIRS << 1));
    // The block's largest |entry| over Re and Im: max|A_u| + max|B_w| (signs are independent).
    // max is exact, so the lane-wise maxima give the scalar loop's value.
    let mx: f32 = 0;
    let j = j0;
    if (simd) {
      let mv = f32x4.splat(0);
      for (; j + 4 <= j1; j += 4) {
        const a = f32x4.abs(v128.load(x + (<usize>j << 2))), b = f32x4.abs(v128.load(x + (<usize>(m + j) << 2)));
        for (let s = 0; s < S; s++) {
          const sc = scales + (<usize>s << 4);
          const sur = f32x4.splat(load<f32>(sc)), sui = f32x4.splat(load<f32>(sc, 4));
          const swr = f32x4.splat(load<f32>(sc, 8)), swi = f32x4.splat(load<f32>(sc, 12));
          mv = f32x4.max(mv, f32x4.add(f32x4.max(f32x4.mul(sur, a), f32x4.mul(sui, b)), f32x4.max(f32x4.mul(swr, a), f32x4.mul(swi, b))));
          mv = f32x4.max(mv, f32x4.add(f32x4.max(f32x4.mul(sur, b), f32x4.mul(sui, a)), f32x4.max(f32x4.mul(swr, b), f32x4.mul(swi, a))));
        }
      }
      mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    }
    for (; j < j1; j++) {
      const a = Mathf.abs(load<f32>(x + (<usize>j << 2))), b = Mathf.abs(load<f32>(x + (<usize>(m + j) << 2)));
      for (let s = 0; s < S; s++) {
        const sc = scales + (<usize>s << 4);
        const sur = load<f32>(sc), sui = load<f32>(sc, 4), swr = load<f32>(sc, 8), swi = load<f32>(sc, 12);
        mx = max(mx, max(sur * a, sui * b) + max(swr * a, swi * b));
        mx = max(mx, max(sur * b, sui * a) + max(swr * b, swi * a));
      }
    }
    store<f32>(tables + TAB_HEADER + (<usize>bk << 2), mx / Q);
    const inv: f32 = mx > 0 ? Q / mx : 0;
    const jEnd = min(j1 + (j1 & 1), P << 1); // an odd m's last pair gets a zero table for input m
    j = j0;
    if (simd) {
      const invv = f32x4.splat(inv);
      for (; j + 4 <= j1; j += 4) entries4(ent, x, scales, m, S, levels, j, invv);
    }
    for (; j < jEnd; j++) {
      const a: f32 = j < m ? load<f32>(x + (<usize>j << 2)) : 0;
      const b: f32 = j < m ? load<f32>(x + (<usize>(m + j) << 2)) : 0;
      for (let s = 0; s < S; s++) {
        const sc = scales + (<usize>s << 4);
        const sur = load<f32>(sc), sui = load<f32>(sc, 4), swr = load<f32>(sc, 8), swi = load<f32>(sc, 12);
        const r = ent + (<usize>((j >> 1) * S + s)) * rec + (<usize>(j & 1) << 4);
        for (let e = 0; e < 16; e++) {
          const u = e & 3, w = e >> 2;
          const vr = quant1(entryRe(a, b, u, w, sur, sui, swr, swi), inv);
          const vi = quant1(entryIm(a, b, u, w, sur, sui, swr, swi), inv);
          storeDigits(r + <usize>e, vr, levels);
          storeDigits(r + (rec >> 1) + <usize>e, vi, levels);
        }
      }
    }
  }
}

export function cmatvec_prepare(tables: usize, x: usize, scales: usize, m: i32, S: i32, levels: i32): void {
  // x f32 (2m,) = z (m complex as two halves), scales f32 (S, 4), levels 1, 2 or 3
  // -> tables (cmatvec_tables_bytes(m, S, levels) bytes): header u32 [levels, m, S, blocks]; f32 d_b
  // per block of 64 inputs; per input pair p and stage s a record of 64·levels bytes: Re digits
  // (per level, most significant first: input 2p [16], input 2p + 1 [16]), then Im digits.
  // SIMD over 4 inputs (lanes), then narrowed to bytes and transposed to one 16-entry row per input.
  prepare(tables, x, scales, m, S, levels, true, 0, I32.MAX_VALUE);
}

export function cmatvec_prepare_blocks(tables: usize, x: usize, scales: usize, m: i32, S: i32, levels: i32, b0: i32, b1: i32): void {
  // as cmatvec_prepare for input blocks [b0, b1) only (64 inputs each, ceil(ceil(m/2)/32) in all; the
  // block containing b0 == 0 also writes the header): threads can share one vector's tables
  prepare(tables, x, scales, m, S, levels, true, b0, b1);
}

export function cmatvec_prepare_ref(tables: usize, x: usize, scales: usize, m: i32, S: i32, levels: i32): void {
  // as cmatvec_prepare, scalar: the same bytes
  prepare(tables, x, scales, m, S, levels, false, 0, I32.MAX_VALUE);
}

// ---- the fast kernel ----

/**
 * One pass (Re or Im) of one block of a full tile at L = 3: y[0..16) += d · Σ over the block's
 * cnt code vectors of the looked-up entries. cp: the block's first code vector; tp: the Re (or
 * Im) part of its first table record (records are 192 bytes apart).
 *
 * Digits are stored biased (digit + 64, 0..127), so the two of a code vector (inputs 2p, 2p + 1)
 * add in u8 (0..254) and reach u16 without a shuffle: even rows (bytes 0, 2, ..) as v & 0x00ff,
 * odd rows as v >> 8 (i16 lanes), at most 254·128 < 2^15 over the at most 32·S <= 128 code
 * vectors of a block; the bias, 128 per code vector, comes off at the end. (Signed digits with
 * extend_low/high, three instructions on x86-64 to this one's two, were 6 % slower.)
 */
// @ts-ignore: decorator
@inline
function pass3(yp: usize, cp: usize, tp: usize, cnt: i32, d: f32): void {
  const M = i8x16.splat(15);
  const LOW = i16x8.splat(0xff);
  let e0 = i16x8.splat(0), o0 = i16x8.splat(0);
  let e1 = i16x8.splat(0), o1 = i16x8.splat(0);
  let e2 = i16x8.splat(0), o2 = i16x8.splat(0);
  for (let i = 0; i < cnt; i++) {
    const c = v128.load(cp);
    const lo = v128.and(c, M);
    const hi = v128.and(i16x8.shr_u(c, 4), M);
    let v = i8x16.add(lookup(v128.load(tp), lo), lookup(v128.load(tp, 16), hi));
    e0 = i16x8.add(e0, v128.and(v, LOW));
    o0 = i16x8.add(o0, i16x8.shr_u(v, 8));
    v = i8x16.add(lookup(v128.load(tp, 32), lo), lookup(v128.load(tp, 48), hi));
    e1 = i16x8.add(e1, v128.and(v, LOW));
    o1 = i16x8.add(o1, i16x8.shr_u(v, 8));
    v = i8x16.add(lookup(v128.load(tp, 64), lo), lookup(v128.load(tp, 80), hi));
    e2 = i16x8.add(e2, v128.and(v, LOW));
    o2 = i16x8.add(o2, i16x8.shr_u(v, 8));
    cp += 16;
    tp += 192;
  }
  const dv = f32x4.splat(d);
  const bias = i16x8.splat(<i16>(cnt << 7));
  e0 = i16x8.sub(e0, bias); o0 = i16x8.sub(o0, bias);
  e1 = i16x8.sub(e1, bias); o1 = i16x8.sub(o1, bias);
  e2 = i16x8.sub(e2, bias); o2 = i16x8.sub(o2, bias);
  flush3(yp, rowsLow(e0, o0), rowsLow(e1, o1), rowsLow(e2, o2), dv);
  flush3(yp + 32, rowsHigh(e0, o0), rowsHigh(e1, o1), rowsHigh(e2, o2), dv);
}

/** Rows 0..7 as i16 lanes from even rows (0, 2, .., 14) and odd rows (1, 3, .., 15). */
// @ts-ignore: decorator
@inline
function rowsLow(e: v128, o: v128): v128 {
  return i8x16.shuffle(e, o, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/** Rows 8..15, as rowsLow. */
// @ts-ignore: decorator
@inline
function rowsHigh(e: v128, o: v128): v128 {
  return i8x16.shuffle(e, o, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/** y[0..8) at yp += d · f32(Σ_l acc_l · 128^(2−l)) for 8 rows of i16 level sums. */
// @ts-ignore: decorator
@inline
function flush3(yp: usize, a0: v128, a1: v128, a2: v128, dv: v128): void {
  let q = i32x4.add(i32x4.shl(i32x4.add(i32x4.shl(i32x4.extend_low_i16x8_s(a0), 7), i32x4.extend_low_i16x8_s(a1)), 7), i32x4.extend_low_i16x8_s(a2));
  v128.store(yp, f32x4.add(v128.load(yp), f32x4.mul(dv, f32x4.convert_i32x4_s(q))));
  q = i32x4.add(i32x4.shl(i32x4.add(i32x4.shl(i32x4.extend_high_i16x8_s(a0), 7), i32x4.extend_high_i16x8_s(a1)), 7), i32x4.extend_high_i16x8_s(a2));
  v128.store(yp, f32x4.add(v128.load(yp, 16), f32x4.mul(dv, f32x4.convert_i32x4_s(q))), 16);
}

/**
 * Σ of the even bytes' u8 values per u16 lane, from raw (Σ of whole u16 lanes, even + 256·odd, mod
 * 2^16) and odd (Σ of the odd bytes): exact while that sum is below 2^15 (at most 128 adds of 254).
 */
// @ts-ignore: decorator
@inline
function evenSums(raw: v128, odd: v128): v128 {
  return i16x8.sub(raw, i16x8.shl(odd, 8));
}

/**
 * One block of a full tile at L = 1 (int8 entries at ±127, records 64 bytes apart: Re low/high
 * nibble, then Im), both parts in one pass over the codes. Each looked-up byte (v + 128, 1..255)
 * sums in i16 as pass2's raw lanes on its own: two full-range entries do not fit a byte together
 * (7-bit entries that add in u8 first, and T-MAC's avgr_u of the two, were measured and left; see
 * the header). At most 2·128 adds of 255 per lane: the even sums stay below 2^16, and with the bias
 * (256 per code vector) off they fit i16.
 */
// @ts-ignore: decorator
@inline
function pass1(yr: usize, yi: usize, cp: usize, tp: usize, cnt: i32, d: f32): void {
  const M = i8x16.splat(15);
  let e0 = i16x8.splat(0), o0 = i16x8.splat(0), f0 = i16x8.splat(0), p0 = i16x8.splat(0);
  for (let i = 0; i < cnt; i++) {
    const c = v128.load(cp);
    const lo = v128.and(c, M);
    const hi = v128.and(i16x8.shr_u(c, 4), M);
    let v = lookup(v128.load(tp), lo), w = lookup(v128.load(tp, 16), hi);
    e0 = i16x8.add(i16x8.add(e0, v), w);
    o0 = i16x8.add(i16x8.add(o0, i16x8.shr_u(v, 8)), i16x8.shr_u(w, 8));
    v = lookup(v128.load(tp, 32), lo); w = lookup(v128.load(tp, 48), hi);
    f0 = i16x8.add(i16x8.add(f0, v), w);
    p0 = i16x8.add(i16x8.add(p0, i16x8.shr_u(v, 8)), i16x8.shr_u(w, 8));
    cp += 16;
    tp += 64;
  }
  const bias = i16x8.splat(<i16>(cnt << 8));
  e0 = i16x8.sub(evenSums(e0, o0), bias); o0 = i16x8.sub(o0, bias);
  f0 = i16x8.sub(evenSums(f0, p0), bias); p0 = i16x8.sub(p0, bias);
  const dv = f32x4.splat(d);
  flush1(yr, rowsLow(e0, o0), dv);
  flush1(yr + 32, rowsHigh(e0, o0), dv);
  flush1(yi, rowsLow(f0, p0), dv);
  flush1(yi + 32, rowsHigh(f0, p0), dv);
}

/** y[0..8) at yp += d · f32(q) for 8 rows of i16 sums q. */
// @ts-ignore: decorator
@inline
function flush1(yp: usize, a: v128, dv: v128): void {
  v128.store(yp, f32x4.add(v128.load(yp), f32x4.mul(dv, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)))));
  v128.store(yp, f32x4.add(v128.load(yp, 16), f32x4.mul(dv, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)))), 16);
}

/**
 * Entry lookup of 16 rows: idx is always 0..15 (a nibble), where i8x16.relaxed_swizzle is
 * deterministic and equal to i8x16.swizzle; V8 lowers the latter with an extra paddusb on x86-64.
 */
// @ts-ignore: decorator
@inline
function lookup(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, idx);
  return i8x16.swizzle(table, idx);
}

/**
 * G full tiles (16·G rows, all in range) from tile t0: Re to yre[0..16G), Im to yim[0..16G).
 * Blocks outermost: one block's tables (32·S records, 12 KiB at S = 2, L = 3) stay in L1 while the
 * G tiles use them, instead of every tile streaming the whole tables (12 times its own codes)
 * from L2. Each row still adds its blocks in order, so the bits do not depend on G.
 */
// @ts-ignore: decorator
@inline
function tilesFast(yre: usize, yim: usize, cp: usize, tileBytes: usize, G: i32, tables: usize, P: i32, S: i32, L: i32, ent: usize): void {
  memory.fill(yre, 0, <usize>G << 6);
  memory.fill(yim, 0, <usize>G << 6);
  const rec = <usize>(L << 6);
  const blockCodes = <usize>(BLOCK_PAIRS * S) << 4;
  const blockTab = <usize>(BLOCK_PAIRS * S) * rec;
  let tp = ent;
  let dp = tables + TAB_HEADER;
  for (let p0 = 0; p0 < P; p0 += BLOCK_PAIRS) {
    const cnt = min(BLOCK_PAIRS, P - p0) * S;
    const d = load<f32>(dp);
    for (let g = 0; g < G; g++) {
      const c = cp + <usize>g * tileBytes, yr = yre + (<usize>g << 6), yi = yim + (<usize>g << 6);
      if (L == 3) {
        pass3(yr, c, tp, cnt, d);
        pass3(yi, c, tp + 96, cnt, d);
      } else {
        pass1(yr, yi, c, tp, cnt, d);
      }
    }
    cp += blockCodes;
    tp += blockTab;
    dp += 4;
  }
}

/** Rows [ra, rb) of tile t, scalar (cmatvec_lut_ref's code): partial tiles and the reference. */
function tileRef(y: usize, tables: usize, codes: usize, n: i32, m: i32, S: i32, t: i32, ra: i32, rb: i32): void {
  const L = <i32>load<u32>(tables);
  const P = (m + 1) >> 1;
  const rec = <usize>(L << 6);
  const ent = tables + entriesOffset(m);
  const tile = codes + <usize>t * (<usize>(P * S) << 4);
  for (let r = ra; r < rb; r++) {
    let yr: f32 = 0, yi: f32 = 0;
    for (let p0 = 0; p0 < P; p0 += BLOCK_PAIRS) {
      let qr = 0, qi = 0;
      const p1 = min(P, p0 + BLOCK_PAIRS);
      const d = load<f32>(tables + TAB_HEADER + (<usize>(p0 / BLOCK_PAIRS) << 2));
      for (let p = p0; p < p1; p++) {
        for (let s = 0; s < S; s++) {
          const byte = <i32>load<u8>(tile + (<usize>(p * S + s) << 4) + <usize>(r & 15));
          const tr = ent + <usize>(p * S + s) * rec;
          for (let h = 0; h < 2; h++) {
            const e = <usize>((byte >> (h << 2)) & 15) + (<usize>h << 4);
            let vr = 0, vi = 0;
            if (L == 1) { // one biased byte
              vr = <i32>load<u8>(tr + e) - 128;
              vi = <i32>load<u8>(tr + (rec >> 1) + e) - 128;
            }
            for (let l = 0; l < L && L > 1; l++) {
              vr = (vr << 7) + <i32>load<u8>(tr + (<usize>l << 5) + e) - 64;
              vi = (vi << 7) + <i32>load<u8>(tr + (rec >> 1) + (<usize>l << 5) + e) - 64;
            }
            qr += vr;
            qi += vi;
          }
        }
      }
      yr += d * <f32>qr;
      yi += d * <f32>qi;
    }
    store<f32>(y + (<usize>r << 2), yr);
    store<f32>(y + (<usize>(n + r) << 2), yi);
  }
}

export function cmatvec(y: usize, tables: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r0: i32, r1: i32): void {
  // codes layout 2 (n rows in tiles of 16), tables from cmatvec_prepare(tables, x, scales, m, S, L)
  // -> y f32 (2n,) = y_c (n complex as two halves) ≈ U z + W conj z, rows [r0, r1) written.
  // scales are folded into the tables (unused here; kept so every cmatvec kernel has one signature).
  if (r0 >= r1) return;
  const L = <i32>load<u32>(tables);
  const P = (m + 1) >> 1;
  const tileBytes = <usize>(P * S) << 4;
  const ent = tables + entriesOffset(m);
  // Whole tiles [tA, tB) in groups; a partial tile at either end goes through the scalar code.
  const tA = (r0 + TILE - 1) >> 4, tB = r1 >> 4;
  if (tA > tB) { // r0 and r1 inside one tile
    tileRef(y, tables, codes, n, m, S, r0 >> 4, r0, r1);
    return;
  }
  if (r0 < tA << 4) tileRef(y, tables, codes, n, m, S, r0 >> 4, r0, tA << 4);
  for (let t = tA; t < tB; t += GROUP_TILES) {
    const G = min(GROUP_TILES, tB - t);
    tilesFast(y + (<usize>(t << 4) << 2), y + (<usize>(n + (t << 4)) << 2), codes + <usize>t * tileBytes, tileBytes, G, tables, P, S, L, ent);
  }
  if (tB << 4 < r1) tileRef(y, tables, codes, n, m, S, tB, tB << 4, r1);
}

export function cmatvec_lut_ref(y: usize, tables: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r0: i32, r1: i32): void {
  // as cmatvec, scalar: the same integer sums and the same f32 operations, so identical bits
  for (let t = r0 >> 4; (t << 4) < r1; t++) {
    tileRef(y, tables, codes, n, m, S, t, max(r0, t << 4), min(r1, (t << 4) + TILE));
  }
}

export function cmatmul(Y: usize, tables: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, r0: i32, r1: i32): void {
  // codes layout 2, tables T regions of cmatvec_tables_bytes(m, S, L) bytes (one cmatvec_prepare per x_t)
  // -> Y f32 (T, 2n), rows [r0, r1) of every y_t written: each y_t as cmatvec writes it. A group of
  // BATCH_GROUP_TILES tiles' codes come from memory once and stay in L2 while all T vectors use them.
  if (r0 >= r1) return;
  const L = <i32>load<u32>(tables);
  const P = (m + 1) >> 1;
  const tileBytes = <usize>(P * S) << 4;
  const tabStride = <usize>cmatvec_tables_bytes(m, S, L);
  const ys = <usize>n << 3;
  const tA = (r0 + TILE - 1) >> 4, tB = r1 >> 4;
  for (let v = 0; v < T; v++) { // the partial tiles at either end, scalar
    const tv = tables + <usize>v * tabStride, yv = Y + <usize>v * ys;
    if (tA > tB) tileRef(yv, tv, codes, n, m, S, r0 >> 4, r0, r1);
    else {
      if (r0 < tA << 4) tileRef(yv, tv, codes, n, m, S, r0 >> 4, r0, tA << 4);
      if (tB << 4 < r1) tileRef(yv, tv, codes, n, m, S, tB, tB << 4, r1);
    }
  }
  for (let t = tA; t < tB; t += BATCH_GROUP_TILES) {
    const G = min(BATCH_GROUP_TILES, tB - t);
    for (let v = 0; v < T; v++) {
      const tv = tables + <usize>v * tabStride, yv = Y + <usize>v * ys;
      tilesFast(yv + (<usize>(t << 4) << 2), yv + (<usize>(n + (t << 4)) << 2), codes + <usize>t * tileBytes, tileBytes, G, tv, P, S, L, tv + entriesOffset(m));
    }
  }
}

// ---- the exact f32 reference ----

/** Adds plane p's contribution (scaled) to y_re (im false) or y_im (im true); see exactRow. */
// @ts-ignore: decorator
@inline
function combine(yre: f32, yim: f32, p: i32, S: i32, scales: usize,
  pa: f32, pb: f32, qa: f32, qb: f32, im: bool): f32 {
  let sre: f32, sim: f32;
  if (p < S) {
    sre = load<f32>(scales + (<usize>p << 4));
    sim = load<f32>(scales + (<usize>p << 4), 4);
    return im ? yim + (sre * pb + sim * qa) : yre + (sre * pa - sim * qb);
  }
  const s = p - S;
  sre = load<f32>(scales + (<usize>s << 4), 8);
  sim = load<f32>(scales + (<usize>s << 4), 12);
  return im ? yim + (sim * qa - sre * pb) : yre + (sre * pa + sim * qb);
}

/**
 * One row, exact in f32 (Fairy2i paper §4, multiplication-free): per plane (U stage 1..S, W
 * stage 1..S) it sums, over inputs j with z_j = a_j + i·b_j, in input order,
 *     Pa = Σ_{real-coded} ±a_j   Pb = Σ_{real-coded} ±b_j   Qa, Qb the same over imaginary-coded
 * and the scales multiply once per plane:
 *     U:  y += (s_re·Pa − s_im·Qb) + i·(s_re·Pb + s_im·Qa)
 *     W:  y += (s_re·Pa + s_im·Qb) + i·(s_im·Qa − s_re·Pb)   (W acts on conj z = a − ib)
 */
function exactRow(y: usize, x: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r: i32): void {
  const tile = codes + <usize>(r >> 4) * (<usize>(((m + 1) >> 1) * S) << 4) + <usize>(r & 15);
  let yr: f32 = 0, yi: f32 = 0;
  for (let p = 0; p < 2 * S; p++) {
    const s = p < S ? p : p - S;
    const sh = p < S ? 0 : 2;
    let pa: f32 = 0, pb: f32 = 0, qa: f32 = 0, qb: f32 = 0;
    for (let j = 0; j < m; j++) {
      const byte = <i32>load<u8>(tile + (<usize>((j >> 1) * S + s) << 4));
      const c = (byte >> (((j & 1) << 2) + sh)) & 3;
      const a = load<f32>(x + (<usize>j << 2));
      const b = load<f32>(x + (<usize>(m + j) << 2));
      if (c == 0) { pa += a; pb += b; }
      else if (c == 1) { qa += a; qb += b; }
      else if (c == 2) { pa -= a; pb -= b; }
      else { qa -= a; qb -= b; }
    }
    yr = combine(yr, yi, p, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p, S, scales, pa, pb, qa, qb, true);
  }
  store<f32>(y + (<usize>r << 2), yr);
  store<f32>(y + (<usize>(n + r) << 2), yi);
}

export function cmatvec_ref(y: usize, x: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r0: i32, r1: i32): void {
  // codes layout 2, scales f32 (S, 4) = U s_re, U s_im, W s_re, W s_im per stage,
  // x f32 (2m,) = z (m complex as two halves) -> y f32 (2n,) = y_c (n complex as two halves), rows [r0, r1) written
  for (let r = r0; r < r1; r++) exactRow(y, x, codes, scales, n, m, S, r);
}

export function cmatmul_ref(Y: usize, X: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, r0: i32, r1: i32): void {
  // codes layout 2, scales f32 (S, 4), X f32 (T, 2m) -> Y f32 (T, 2n), rows [r0, r1) of every y_t written
  const xs = <usize>m << 3;
  const ys = <usize>n << 3;
  for (let t = 0; t < T; t++) cmatvec_ref(Y + <usize>t * ys, X + <usize>t * xs, codes, scales, n, m, S, r0, r1);
}
