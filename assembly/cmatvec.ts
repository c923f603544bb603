// Packed {±1, ±i} residual-stage linear layers: y = Σ_s U_s z + W_s conj(z).
//
// Code layout 1 of docs/format.md (the only description of it; repeated here where it bites):
// code k means multiplication by i^k, dequantized per stage as
//     0: +s_re    1: +i·s_im    2: −s_re    3: −i·s_im
// so bit 0 of a code says "imaginary-coded" (its scale is s_im) and bit 1 says "negate".
// A row is B = ceil(m/64) blocks of 2S planes of 16 bytes (U stage 1..S, then W stage 1..S);
// byte k of a plane holds the codes of inputs 64b + k + 16q at bits 2q, 2q+1 (q = 0..3), so one
// shift and mask give 16 consecutive inputs. Codes of inputs j >= m are padding and ignored.
//
// The inner loops are multiplication-free (Fairy2i paper §4, ../shared/docs/fairy2i-math.md §4):
// for each row and plane we sum, over inputs j with z_j = a_j + i·b_j,
//     Pa = Σ_{j real-coded} ±a_j   Pb = Σ_{real-coded} ±b_j   (± = the code's sign)
//     Qa = Σ_{j imag-coded} ±a_j   Qb = Σ_{imag-coded} ±b_j
// and the scales multiply once per row per plane:
//     U:  y += s_re·(Pa + i·Pb) + s_im·i·(Qa + i·Qb)   = (s_re·Pa − s_im·Qb) + i·(s_re·Pb + s_im·Qa)
//     W:  y += s_re·(Pa − i·Pb) + s_im·i·(Qa − i·Qb)   = (s_re·Pa + s_im·Qb) + i·(s_im·Qa − s_re·Pb)
// (W acts on conj z = a − ib: code 1 gives i·conj z = b + ia, code 3 gives −b − ia.)
//
// SIMD path: a lane holds one input. Per plane it accumulates T = Σ ±z over all inputs and Q
// over the imaginary-coded ones (P = T − Q at the end), so a plane costs, per 4 inputs, two
// i8x16.swizzle (spread 4 code bytes to 4 lanes as a sign-bit mask and an all-ones mask), two
// xor (sign flip), two and (select) and four f32x4.add. Its summation order differs from the
// scalar _ref (4 lanes, and P = T − Q): the two agree to rounding (bound in the spec).
//
// Loop order: rows, then groups of up to 4 planes, then blocks: x is loaded once per block for
// 4 planes. S = 1 and S = 2 are one pass over the row (2 and 4 planes); S = 3 and S = 4 take two
// passes (4 + 2 and 4 + 4 planes). Prototypes measured with V8 on x86-64 (Zen 4), 4096x4096 real
// at S = 2: one plane per pass 7.6 ms, 2 planes 6.35 ms, 4 planes 5.9 ms (this file: 5.2 ms); at
// S = 4 one 8-plane pass and two 4-plane passes both 11.9 ms (32 f32x4 accumulators spill out of
// the 16 xmm registers V8 uses on x86-64).
// The pass bodies are unrolled by hand (4 input vectors x 4 or 2 planes): AssemblyScript has no
// macros and no multi-value returns, so accumulators must be named locals. The inputs of a last,
// partial block (m not a multiple of 64) go through crow_scalar, the code of cmatvec_ref.

/** Sign mask: byte b of the shifted plane -> top byte of lane (its bit 7 becomes the f32 sign). */
const TOP0 = i8x16(-128, -128, -128, 0, -128, -128, -128, 1, -128, -128, -128, 2, -128, -128, -128, 3);
const TOP1 = i8x16(-128, -128, -128, 4, -128, -128, -128, 5, -128, -128, -128, 6, -128, -128, -128, 7);
const TOP2 = i8x16(-128, -128, -128, 8, -128, -128, -128, 9, -128, -128, -128, 10, -128, -128, -128, 11);
const TOP3 = i8x16(-128, -128, -128, 12, -128, -128, -128, 13, -128, -128, -128, 14, -128, -128, -128, 15);
/** Select mask: byte b (0x00 or 0xff) -> all four bytes of a lane. */
const ALL0 = i8x16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
const ALL1 = i8x16(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
const ALL2 = i8x16(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11);
const ALL3 = i8x16(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15);

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Adds plane p's contribution (scaled) to y; see the file header for the algebra. */
// @ts-ignore: decorator
@inline
function combine(yre: f32, yim: f32, p: i32, S: i32, scales: usize,
  pa: f32, pb: f32, qa: f32, qb: f32, im: bool): f32 {
  // Returns the updated y_re when im is false, y_im when true (AS has no multi-value returns).
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
 * Planes p0 .. p0 + 3 of one row over its full blocks: y_re at yre and y_im at yim are set
 * to their scaled sums (first pass) or incremented (later passes).
 */
// @ts-ignore: decorator
@inline
function pass4(yre: usize, yim: usize, first: bool, x: usize, row: usize, p0: i32, scales: usize, m: i32, S: i32): void {
  const blockStride = <usize>S << 5;
  const full = m >> 6;
  const xbOff = <usize>m << 2;
  const c80 = i8x16.splat(-128);
  const zero = i8x16.splat(0);
  let ta0 = f32x4.splat(0), tb0 = f32x4.splat(0), qa0 = f32x4.splat(0), qb0 = f32x4.splat(0);
  let ta1 = f32x4.splat(0), tb1 = f32x4.splat(0), qa1 = f32x4.splat(0), qb1 = f32x4.splat(0);
  let ta2 = f32x4.splat(0), tb2 = f32x4.splat(0), qa2 = f32x4.splat(0), qb2 = f32x4.splat(0);
  let ta3 = f32x4.splat(0), tb3 = f32x4.splat(0), qa3 = f32x4.splat(0), qb3 = f32x4.splat(0);
  let cp = row + (<usize>p0 << 4);
  let xp = x;
  for (let blk = 0; blk < full; blk++) {
    let sq0 = v128.load(cp);
    let sq1 = v128.load(cp, 16);
    let sq2 = v128.load(cp, 32);
    let sq3 = v128.load(cp, 48);
    // Groups q = 3, 2, 1, 0 (inputs 16q .. 16q + 15 of the block): shifting the 16-bit lanes
    // left by 6 − 2q puts bit 2q + 1 (negate) of every byte at its bit 7 and bit 2q (imag) at
    // bit 6; a total shift of at most 6 < 8 never moves a bit into another byte's top two bits.
    // (x86 has no byte shifts: V8 spends 3-5 instructions on i8x16.shl/shr, one on i16x8.shl.)
    let xq = xp + 192;
    for (let q = 3; q >= 0; q--) {
      const s0 = v128.and(sq0, c80);
      const i0 = i8x16.lt_s(i8x16.add(sq0, sq0), zero);
      const s1 = v128.and(sq1, c80);
      const i1 = i8x16.lt_s(i8x16.add(sq1, sq1), zero);
      const s2 = v128.and(sq2, c80);
      const i2 = i8x16.lt_s(i8x16.add(sq2, sq2), zero);
      const s3 = v128.and(sq3, c80);
      const i3 = i8x16.lt_s(i8x16.add(sq3, sq3), zero);
      let xa: v128, xb: v128, sm: v128, mk: v128, va: v128, vb: v128;
      xa = v128.load(xq);
      xb = v128.load(xq + xbOff);
      sm = i8x16.swizzle(s0, TOP0); mk = i8x16.swizzle(i0, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP0); mk = i8x16.swizzle(i1, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      sm = i8x16.swizzle(s2, TOP0); mk = i8x16.swizzle(i2, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta2 = f32x4.add(ta2, va); tb2 = f32x4.add(tb2, vb);
      qa2 = f32x4.add(qa2, v128.and(va, mk)); qb2 = f32x4.add(qb2, v128.and(vb, mk));
      sm = i8x16.swizzle(s3, TOP0); mk = i8x16.swizzle(i3, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta3 = f32x4.add(ta3, va); tb3 = f32x4.add(tb3, vb);
      qa3 = f32x4.add(qa3, v128.and(va, mk)); qb3 = f32x4.add(qb3, v128.and(vb, mk));
      xa = v128.load(xq, 16);
      xb = v128.load(xq + xbOff, 16);
      sm = i8x16.swizzle(s0, TOP1); mk = i8x16.swizzle(i0, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP1); mk = i8x16.swizzle(i1, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      sm = i8x16.swizzle(s2, TOP1); mk = i8x16.swizzle(i2, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta2 = f32x4.add(ta2, va); tb2 = f32x4.add(tb2, vb);
      qa2 = f32x4.add(qa2, v128.and(va, mk)); qb2 = f32x4.add(qb2, v128.and(vb, mk));
      sm = i8x16.swizzle(s3, TOP1); mk = i8x16.swizzle(i3, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta3 = f32x4.add(ta3, va); tb3 = f32x4.add(tb3, vb);
      qa3 = f32x4.add(qa3, v128.and(va, mk)); qb3 = f32x4.add(qb3, v128.and(vb, mk));
      xa = v128.load(xq, 32);
      xb = v128.load(xq + xbOff, 32);
      sm = i8x16.swizzle(s0, TOP2); mk = i8x16.swizzle(i0, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP2); mk = i8x16.swizzle(i1, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      sm = i8x16.swizzle(s2, TOP2); mk = i8x16.swizzle(i2, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta2 = f32x4.add(ta2, va); tb2 = f32x4.add(tb2, vb);
      qa2 = f32x4.add(qa2, v128.and(va, mk)); qb2 = f32x4.add(qb2, v128.and(vb, mk));
      sm = i8x16.swizzle(s3, TOP2); mk = i8x16.swizzle(i3, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta3 = f32x4.add(ta3, va); tb3 = f32x4.add(tb3, vb);
      qa3 = f32x4.add(qa3, v128.and(va, mk)); qb3 = f32x4.add(qb3, v128.and(vb, mk));
      xa = v128.load(xq, 48);
      xb = v128.load(xq + xbOff, 48);
      sm = i8x16.swizzle(s0, TOP3); mk = i8x16.swizzle(i0, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP3); mk = i8x16.swizzle(i1, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      sm = i8x16.swizzle(s2, TOP3); mk = i8x16.swizzle(i2, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta2 = f32x4.add(ta2, va); tb2 = f32x4.add(tb2, vb);
      qa2 = f32x4.add(qa2, v128.and(va, mk)); qb2 = f32x4.add(qb2, v128.and(vb, mk));
      sm = i8x16.swizzle(s3, TOP3); mk = i8x16.swizzle(i3, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta3 = f32x4.add(ta3, va); tb3 = f32x4.add(tb3, vb);
      qa3 = f32x4.add(qa3, v128.and(va, mk)); qb3 = f32x4.add(qb3, v128.and(vb, mk));
      sq0 = i16x8.shl(sq0, 2);
      sq1 = i16x8.shl(sq1, 2);
      sq2 = i16x8.shl(sq2, 2);
      sq3 = i16x8.shl(sq3, 2);
      xq -= 64;
    }
    xp += 256;
    cp += blockStride;
  }
  let yr: f32 = first ? 0 : load<f32>(yre);
  let yi: f32 = first ? 0 : load<f32>(yim);
  {
    const qa = hsum(qa0), qb = hsum(qb0);
    const pa = hsum(ta0) - qa, pb = hsum(tb0) - qb;
    yr = combine(yr, yi, p0 + 0, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 0, S, scales, pa, pb, qa, qb, true);
  }
  {
    const qa = hsum(qa1), qb = hsum(qb1);
    const pa = hsum(ta1) - qa, pb = hsum(tb1) - qb;
    yr = combine(yr, yi, p0 + 1, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 1, S, scales, pa, pb, qa, qb, true);
  }
  {
    const qa = hsum(qa2), qb = hsum(qb2);
    const pa = hsum(ta2) - qa, pb = hsum(tb2) - qb;
    yr = combine(yr, yi, p0 + 2, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 2, S, scales, pa, pb, qa, qb, true);
  }
  {
    const qa = hsum(qa3), qb = hsum(qb3);
    const pa = hsum(ta3) - qa, pb = hsum(tb3) - qb;
    yr = combine(yr, yi, p0 + 3, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 3, S, scales, pa, pb, qa, qb, true);
  }
  store<f32>(yre, yr);
  store<f32>(yim, yi);
}

/**
 * Planes p0 .. p0 + 1 of one row over its full blocks: y_re at yre and y_im at yim are set
 * to their scaled sums (first pass) or incremented (later passes).
 */
// @ts-ignore: decorator
@inline
function pass2(yre: usize, yim: usize, first: bool, x: usize, row: usize, p0: i32, scales: usize, m: i32, S: i32): void {
  const blockStride = <usize>S << 5;
  const full = m >> 6;
  const xbOff = <usize>m << 2;
  const c80 = i8x16.splat(-128);
  const zero = i8x16.splat(0);
  let ta0 = f32x4.splat(0), tb0 = f32x4.splat(0), qa0 = f32x4.splat(0), qb0 = f32x4.splat(0);
  let ta1 = f32x4.splat(0), tb1 = f32x4.splat(0), qa1 = f32x4.splat(0), qb1 = f32x4.splat(0);
  let cp = row + (<usize>p0 << 4);
  let xp = x;
  for (let blk = 0; blk < full; blk++) {
    let sq0 = v128.load(cp);
    let sq1 = v128.load(cp, 16);
    // Groups q = 3, 2, 1, 0 (inputs 16q .. 16q + 15 of the block): shifting the 16-bit lanes
    // left by 6 − 2q puts bit 2q + 1 (negate) of every byte at its bit 7 and bit 2q (imag) at
    // bit 6; a total shift of at most 6 < 8 never moves a bit into another byte's top two bits.
    // (x86 has no byte shifts: V8 spends 3-5 instructions on i8x16.shl/shr, one on i16x8.shl.)
    let xq = xp + 192;
    for (let q = 3; q >= 0; q--) {
      const s0 = v128.and(sq0, c80);
      const i0 = i8x16.lt_s(i8x16.add(sq0, sq0), zero);
      const s1 = v128.and(sq1, c80);
      const i1 = i8x16.lt_s(i8x16.add(sq1, sq1), zero);
      let xa: v128, xb: v128, sm: v128, mk: v128, va: v128, vb: v128;
      xa = v128.load(xq);
      xb = v128.load(xq + xbOff);
      sm = i8x16.swizzle(s0, TOP0); mk = i8x16.swizzle(i0, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP0); mk = i8x16.swizzle(i1, ALL0);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      xa = v128.load(xq, 16);
      xb = v128.load(xq + xbOff, 16);
      sm = i8x16.swizzle(s0, TOP1); mk = i8x16.swizzle(i0, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP1); mk = i8x16.swizzle(i1, ALL1);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      xa = v128.load(xq, 32);
      xb = v128.load(xq + xbOff, 32);
      sm = i8x16.swizzle(s0, TOP2); mk = i8x16.swizzle(i0, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP2); mk = i8x16.swizzle(i1, ALL2);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      xa = v128.load(xq, 48);
      xb = v128.load(xq + xbOff, 48);
      sm = i8x16.swizzle(s0, TOP3); mk = i8x16.swizzle(i0, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta0 = f32x4.add(ta0, va); tb0 = f32x4.add(tb0, vb);
      qa0 = f32x4.add(qa0, v128.and(va, mk)); qb0 = f32x4.add(qb0, v128.and(vb, mk));
      sm = i8x16.swizzle(s1, TOP3); mk = i8x16.swizzle(i1, ALL3);
      va = v128.xor(xa, sm); vb = v128.xor(xb, sm);
      ta1 = f32x4.add(ta1, va); tb1 = f32x4.add(tb1, vb);
      qa1 = f32x4.add(qa1, v128.and(va, mk)); qb1 = f32x4.add(qb1, v128.and(vb, mk));
      sq0 = i16x8.shl(sq0, 2);
      sq1 = i16x8.shl(sq1, 2);
      xq -= 64;
    }
    xp += 256;
    cp += blockStride;
  }
  let yr: f32 = first ? 0 : load<f32>(yre);
  let yi: f32 = first ? 0 : load<f32>(yim);
  {
    const qa = hsum(qa0), qb = hsum(qb0);
    const pa = hsum(ta0) - qa, pb = hsum(tb0) - qb;
    yr = combine(yr, yi, p0 + 0, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 0, S, scales, pa, pb, qa, qb, true);
  }
  {
    const qa = hsum(qa1), qb = hsum(qb1);
    const pa = hsum(ta1) - qa, pb = hsum(tb1) - qb;
    yr = combine(yr, yi, p0 + 1, S, scales, pa, pb, qa, qb, false);
    yi = combine(yr, yi, p0 + 1, S, scales, pa, pb, qa, qb, true);
  }
  store<f32>(yre, yr);
  store<f32>(yim, yi);
}

/** One output row, fast path: y_re to yre, y_im to yim. */
// @ts-ignore: decorator
@inline
function crow(yre: usize, yim: usize, x: usize, row: usize, scales: usize, m: i32, S: i32): void {
  const planes = S << 1;
  let p0 = 0;
  for (; p0 + 4 <= planes; p0 += 4) pass4(yre, yim, p0 == 0, x, row, p0, scales, m, S);
  if (p0 < planes) pass2(yre, yim, p0 == 0, x, row, p0, scales, m, S);
  const j0 = m & ~63;
  if (j0 < m) crow_scalar(yre, yim, false, x, row, scales, m, S, j0);
}

/**
 * Inputs j0 .. m − 1 of one row, all planes, scalar: inputs in order, each term into exactly one
 * of Pa, Pb, Qa, Qb. Sets y (first) or adds to it. cmatvec_ref is this with j0 = 0.
 */
// @ts-ignore: decorator
@inline
function crow_scalar(yre: usize, yim: usize, first: bool, x: usize, row: usize, scales: usize, m: i32, S: i32, j0: i32): void {
  const planes = S << 1;
  const blockStride = <usize>planes << 4;
  let yr: f32 = first ? 0 : load<f32>(yre);
  let yi: f32 = first ? 0 : load<f32>(yim);
  for (let p = 0; p < planes; p++) {
    let pa: f32 = 0, pb: f32 = 0, qa: f32 = 0, qb: f32 = 0;
    for (let j = j0; j < m; j++) {
      const byte = load<u8>(row + <usize>(j >> 6) * blockStride + (<usize>p << 4) + <usize>(j & 15));
      const c = (<u32>byte >> (2 * ((j >> 4) & 3))) & 3;
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
  store<f32>(yre, yr);
  store<f32>(yim, yi);
}

/** cmatmul's row tile: 8 rows of m = 5504 at S = 4 are 88 KiB of codes, within L2. */
const CMATMUL_ROWS = 8;

/** Bytes of one row of codes in layout 1. */
// @ts-ignore: decorator
@inline
function rowBytes(m: i32, S: i32): usize {
  return <usize>((m + 63) >> 6) * (<usize>S << 5);
}

export function cmatvec(y: usize, x: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r0: i32, r1: i32): void {
  // codes (n, row_bytes) layout 1, scales f32 (S, 4) = U s_re, U s_im, W s_re, W s_im per stage,
  // x f32 (2m,) = z (m complex as two halves) -> y f32 (2n,) = y_c (n complex as two halves), rows [r0, r1) written
  const rb = rowBytes(m, S);
  for (let r = r0; r < r1; r++) {
    crow(y + (<usize>r << 2), y + (<usize>(n + r) << 2), x, codes + <usize>r * rb, scales, m, S);
  }
}

export function cmatvec_ref(y: usize, x: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, r0: i32, r1: i32): void {
  // codes (n, row_bytes) layout 1, scales f32 (S, 4) = U s_re, U s_im, W s_re, W s_im per stage,
  // x f32 (2m,) = z (m complex as two halves) -> y f32 (2n,) = y_c (n complex as two halves), rows [r0, r1) written
  const rb = rowBytes(m, S);
  for (let r = r0; r < r1; r++) {
    crow_scalar(y + (<usize>r << 2), y + (<usize>(n + r) << 2), true, x, codes + <usize>r * rb, scales, m, S, 0);
  }
}

export function cmatmul(Y: usize, X: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, r0: i32, r1: i32): void {
  // codes (n, row_bytes) layout 1, scales f32 (S, 4), X f32 (T, 2m) -> Y f32 (T, 2n), rows [r0, r1) of every y_t written
  // Tiles of CMATMUL_ROWS rows: a tile's codes come from memory once and stay in L1/L2 while
  // every x_t passes over them. Each pass is a plain cmatvec call: the SIMD work per vector is
  // the same as cmatvec's (this kernel saves memory traffic, not arithmetic), and calling it keeps
  // V8's code for it identical; inlining the row loop under a t loop measured 10% slower and
  // bimodal (5.8 or 8.7 ms per vector at 4096x4096, S = 2, vs 5.2 ms).
  const xs = <usize>m << 3;
  const ys = <usize>n << 3;
  for (let ra = r0; ra < r1; ra += CMATMUL_ROWS) {
    const rz = min(ra + CMATMUL_ROWS, r1);
    for (let t = 0; t < T; t++) {
      cmatvec(Y + <usize>t * ys, X + <usize>t * xs, codes, scales, n, m, S, ra, rz);
    }
  }
}

export function cmatmul_ref(Y: usize, X: usize, codes: usize, scales: usize, n: i32, m: i32, S: i32, T: i32, r0: i32, r1: i32): void {
  // codes (n, row_bytes) layout 1, scales f32 (S, 4), X f32 (T, 2m) -> Y f32 (T, 2n), rows [r0, r1) of every y_t written
  const rb = rowBytes(m, S);
  const xs = <usize>m << 3;
  const ys = <usize>n << 3;
  for (let r = r0; r < r1; r++) {
    const row = codes + <usize>r * rb;
    for (let t = 0; t < T; t++) {
      const yt = Y + <usize>t * ys;
      crow_scalar(yt + (<usize>r << 2), yt + (<usize>(n + r) << 2), true, X + <usize>t * xs, row, scales, m, S, 0);
    }
  }
}
