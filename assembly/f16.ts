// IEEE 754 binary16 <-> binary32 conversion by bit manipulation, and embedding-row lookup.
//
// WebAssembly (SIMD included) has no f16 arithmetic or conversion instructions, so f16 weights,
// embeddings and the f16 KV cache are widened here. Little-endian: an f16 is the u16 at its
// address. Both directions are exact where they can be (every f16 is an f32) and round to
// nearest, ties to even, for f32 -> f16; subnormals, ±0, ±inf are handled; a NaN stays a NaN
// (quiet bit forced, top 9 payload bits kept). Method: F. Giesen's "half_to_float" /
// "float_to_half_fast3_rtne" (public domain gist, https://gist.github.com/rygorous/2156668):
// the f16 exponent/mantissa are shifted into f32 position and rescaled by 2^112, and the
// f32 -> f16 subnormal case lets the FPU round by adding 0.5.

// f16 exponent/mantissa bits moved into an f32 (<< 13) read as a float 2^112 times too small.
const F16_TO_F32_SCALE: f32 = reinterpret<f32>(0x77800000); // 2^112
// |x| >= 2^16 (65536, not 65504: 65520..65535 rounds to inf below) -> inf, or NaN if x is NaN.
const F32_F16_OVERFLOW: u32 = 0x47800000;
// |x| < 2^-14 (smallest normal f16) -> f16 subnormal or zero.
const F32_F16_SUBNORMAL: u32 = 0x38800000;
// Adding 0.5 (0x3F000000) places 2^-24, the f16 subnormal step, at the f32 ulp: the FPU rounds.
const F32_HALF_BITS: u32 = 0x3f000000;
// Rebias the exponent from 127 to 15 ((15 - 127) << 23) and add 0xfff for round-half-up;
// adding the mantissa's lowest kept bit then makes it ties-to-even.
const F32_F16_REBIAS: u32 = 0xc8000fff;

/** One f16 (low 16 bits of h) to f32, exact. */
// @ts-ignore: decorator
@inline
export function f16_to_f32(h: u32): f32 {
  const em = (h & 0x7fff) << 13;
  let bits = reinterpret<u32>(reinterpret<f32>(em) * F16_TO_F32_SCALE);
  if ((h & 0x7c00) == 0x7c00) bits = em | 0x7f800000; // inf / NaN keep their mantissa
  return reinterpret<f32>(bits | ((h & 0x8000) << 16));
}

/** One f32 to f16 bits (0..0xffff), round to nearest even. */
// @ts-ignore: decorator
@inline
export function f32_to_f16(x: f32): u32 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >> 16) & 0x8000;
  const ab = bits & 0x7fffffff;
  let o: u32;
  if (ab >= F32_F16_OVERFLOW) {
    o = ab > 0x7f800000 ? 0x7e00 | ((ab >> 13) & 0x3ff) : 0x7c00;
  } else if (ab < F32_F16_SUBNORMAL) {
    o = reinterpret<u32>(reinterpret<f32>(ab) + reinterpret<f32>(F32_HALF_BITS)) - F32_HALF_BITS;
  } else {
    o = (ab + F32_F16_REBIAS + ((ab >> 13) & 1)) >> 13;
  }
  return o | sign;
}

/** Four f16 held in the low 16 bits of each i32 lane (zero-extended) to four f32, exact. */
// @ts-ignore: decorator
@inline
export function f16x4_to_f32x4(h: v128): v128 {
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  let f = f32x4.mul(em, f32x4.splat(F16_TO_F32_SCALE));
  const infnan = i32x4.gt_s(em, i32x4.splat(0x0f7fffff)); // exponent field all ones
  f = v128.or(f, v128.and(infnan, i32x4.splat(0x7f800000)));
  return v128.or(f, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** Four f32 to four f16 in the low 16 bits of each i32 lane, round to nearest even. */
// @ts-ignore: decorator
@inline
export function f32x4_to_f16x4(x: v128): v128 {
  const ab = v128.and(x, i32x4.splat(0x7fffffff));
  const sign = i32x4.shr_u(v128.andnot(x, i32x4.splat(0x7fffffff)), 16);
  const odd = v128.and(i32x4.shr_u(ab, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(ab, i32x4.splat(F32_F16_REBIAS)), odd), 13);
  const sub = i32x4.sub(f32x4.add(ab, f32x4.splat(reinterpret<f32>(F32_HALF_BITS))), i32x4.splat(F32_HALF_BITS));
  const nan = v128.or(i32x4.splat(0x7e00), v128.and(i32x4.shr_u(ab, 13), i32x4.splat(0x3ff)));
  // Signed compares are fine: ab < 2^31.
  const isNan = i32x4.gt_s(ab, i32x4.splat(0x7f800000));
  const isBig = i32x4.gt_s(ab, i32x4.splat(F32_F16_OVERFLOW - 1));
  const isSub = i32x4.lt_s(ab, i32x4.splat(F32_F16_SUBNORMAL));
  let o = v128.bitselect(sub, normal, isSub);
  o = v128.bitselect(v128.bitselect(nan, i32x4.splat(0x7c00), isNan), o, isBig);
  return v128.or(o, sign);
}

/** Eight f16 at p to two f32x4 at q and q + 16. */
// @ts-ignore: decorator
@inline
export function widen8(q: usize, p: usize): void {
  const h = v128.load(p);
  v128.store(q, f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h)));
  v128.store(q, f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h)), 16);
}

export function store_f32_to_f16(out: usize, x: usize, n: i32): void {
  // x f32 (n,) -> out f16 (n,), round to nearest even
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    const lo = f32x4_to_f16x4(v128.load(p));
    const hi = f32x4_to_f16x4(v128.load(p, 16));
    v128.store(out + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < n; i++) {
    store<u16>(out + (<usize>i << 1), <u16>f32_to_f16(load<f32>(x + (<usize>i << 2))));
  }
}

export function store_f32_to_f16_ref(out: usize, x: usize, n: i32): void {
  // x f32 (n,) -> out f16 (n,), round to nearest even
  for (let i = 0; i < n; i++) {
    store<u16>(out + (<usize>i << 1), <u16>f32_to_f16(load<f32>(x + (<usize>i << 2))));
  }
}

export function load_f16_to_f32(out: usize, h: usize, n: i32): void {
  // h f16 (n,) -> out f32 (n,), exact
  let i = 0;
  for (; i + 8 <= n; i += 8) widen8(out + (<usize>i << 2), h + (<usize>i << 1));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), f16_to_f32(load<u16>(h + (<usize>i << 1))));
}

export function load_f16_to_f32_ref(out: usize, h: usize, n: i32): void {
  // h f16 (n,) -> out f32 (n,), exact
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), f16_to_f32(load<u16>(h + (<usize>i << 1))));
}

export function embed_f16(out: usize, table: usize, row: i32, dim: i32): void {
  // table f16 (vocab, dim) row-major, row in [0, vocab) -> out f32 (dim,)
  load_f16_to_f32(out, table + <usize>row * <usize>dim * 2, dim);
}

export function embed_f16_ref(out: usize, table: usize, row: i32, dim: i32): void {
  // table f16 (vocab, dim) row-major, row in [0, vocab) -> out f32 (dim,)
  load_f16_to_f32_ref(out, table + <usize>row * <usize>dim * 2, dim);
}

export function embed_f32(out: usize, table: usize, row: i32, dim: i32): void {
  // table f32 (vocab, dim) row-major, row in [0, vocab) -> out f32 (dim,)
  memory.copy(out, table + <usize>row * <usize>dim * 4, <usize>dim * 4);
}

/** Scalar wrappers for the host and the tests. */
export function f16_bits_to_f32(h: i32): f32 {
  // h: f16 bits in the low 16 bits -> the f32 value, exact
  return f16_to_f32(<u32>h & 0xffff);
}

export function f32_to_f16_bits(x: f32): i32 {
  // x f32 -> f16 bits (0 .. 0xffff), round to nearest even
  return <i32>f32_to_f16(x);
}
