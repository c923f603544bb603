// f16 <-> f32: exhaustive over all 65536 f16 values, special values, and round-to-nearest-even
// against an independent f64 implementation; SIMD against scalar; embedding rows.

import {
  f16_bits_to_f32, f32_to_f16_bits, store_f32_to_f16, store_f32_to_f16_ref,
  load_f16_to_f32, load_f16_to_f32_ref, embed_f16, embed_f16_ref, embed_f32,
} from "../../assembly/f16";
import { alloc, firstDiff, free, nextU32, seed } from "./util";

/** f16 bits -> value, by the definition (sign, 5-bit exponent bias 15, 10-bit fraction), f64. */
function f16Value(h: i32): f64 {
  const sign: f64 = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e == 0x1f) return f ? NaN : sign * Infinity;
  if (e == 0) return sign * <f64>f * Math.pow(2, -24);
  return sign * (1 + <f64>f / 1024) * Math.pow(2, <f64>(e - 15));
}

/** Round half to even of a non-negative f64 that holds an exact value. */
function rne(v: f64): f64 {
  const r = Math.floor(v);
  const d = v - r;
  if (d > 0.5 || (d == 0.5 && r % 2 == 1)) return r + 1;
  return r;
}

/** f32 -> f16 bits by the definition, in f64 (exact: an f32 times a power of two). NaN excluded. */
function toF16Ref(x: f32): i32 {
  const bits = reinterpret<u32>(x);
  const sign = <i32>((bits >> 16) & 0x8000);
  const a = Math.abs(<f64>x);
  if (a == Infinity) return sign | 0x7c00;
  const e32 = <i32>((bits >> 23) & 0xff) - 127; // exponent of a (≤ −127: f32 subnormal or 0)
  if (e32 < -14) {
    // f16 subnormal range: a multiple of 2^-24, up to 1024 (= the smallest normal, 0x400).
    return sign | <i32>rne(a * Math.pow(2, 24));
  }
  let mant = rne(a * Math.pow(2, <f64>(10 - e32))); // in [1024, 2048]
  let e = e32;
  if (mant == 2048) { mant = 1024; e++; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | (<i32>mant - 1024);
}

function hex(v: i32): string {
  return "0x" + (<u32>v).toString(16);
}

describe("f16 -> f32", () => {
  test("all 65536 values match the definition (NaN stays NaN with its payload)", () => {
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      const got = f16_bits_to_f32(h);
      const want = f16Value(h);
      if (isNaN(want)) {
        const gb = reinterpret<u32>(got);
        if (!isNaN(got) || ((gb >> 13) & 0x3ff) != <u32>(h & 0x3ff) || (gb >> 31) != <u32>(h >> 15)) bad++;
      } else if (<f64>got != want || (reinterpret<u32>(got) >> 31) != <u32>(h >> 15)) {
        bad++; // (the sign test catches −0)
      }
    }
    expect<i32>(bad).toBe(0);
  });

  test("load_f16_to_f32 (SIMD) equals the scalar _ref on all 65536 values", () => {
    const n = 65536 + 5; // + a scalar tail
    const h = alloc(2 * n), a = alloc(4 * n), b = alloc(4 * n);
    for (let i = 0; i < n; i++) store<u16>(h + (<usize>i << 1), <u16>(i & 0xffff));
    load_f16_to_f32(a, h, n);
    load_f16_to_f32_ref(b, h, n);
    expect<i32>(firstDiff(a, b, n)).toBe(-1);
    free(h); free(a); free(b);
  });
});

describe("f32 -> f16", () => {
  test("special values", () => {
    const one = f32_to_f16_bits(1);
    expect<i32>(one).toBe(0x3c00, "1");
    expect<i32>(f32_to_f16_bits(0)).toBe(0, "+0");
    expect<i32>(f32_to_f16_bits(-0.0)).toBe(0x8000, "-0");
    expect<i32>(f32_to_f16_bits(-2)).toBe(0xc000, "-2");
    expect<i32>(f32_to_f16_bits(65504)).toBe(0x7bff, "max finite");
    expect<i32>(f32_to_f16_bits(65519.996)).toBe(0x7bff, "just below the tie to inf");
    expect<i32>(f32_to_f16_bits(65520)).toBe(0x7c00, "tie 65504 | 65536 rounds to even = inf");
    expect<i32>(f32_to_f16_bits(1e10)).toBe(0x7c00, "overflow");
    expect<i32>(f32_to_f16_bits(Infinity)).toBe(0x7c00, "+inf");
    expect<i32>(f32_to_f16_bits(-Infinity)).toBe(0xfc00, "-inf");
    expect<i32>(f32_to_f16_bits(<f32>Math.pow(2, -14))).toBe(0x0400, "min normal");
    expect<i32>(f32_to_f16_bits(<f32>Math.pow(2, -24))).toBe(0x0001, "min subnormal");
    expect<i32>(f32_to_f16_bits(<f32>Math.pow(2, -25))).toBe(0x0000, "half of min subnormal: tie to even 0");
    expect<i32>(f32_to_f16_bits(<f32>(1.5 * Math.pow(2, -24)))).toBe(0x0002, "1.5 min subnormal: tie to even 2");
    expect<i32>(f32_to_f16_bits(<f32>(Math.pow(2, -25) * 1.0000001))).toBe(0x0001, "just above the tie");
    expect<i32>(f32_to_f16_bits(<f32>(1 + Math.pow(2, -11)))).toBe(0x3c00, "1 + half ulp: tie to even 1");
    expect<i32>(f32_to_f16_bits(<f32>(1 + 3 * Math.pow(2, -11)))).toBe(0x3c02, "1 + 1.5 ulp: tie to even up");
    expect<i32>(f32_to_f16_bits(<f32>(Math.pow(2, -14) - Math.pow(2, -25)))).toBe(0x0400, "rounds up into the normals");
    expect<i32>(f32_to_f16_bits(<f32>1e-30)).toBe(0, "f32 far below the f16 range");
    expect<i32>(f32_to_f16_bits(reinterpret<f32>(0x00000001))).toBe(0, "f32 subnormal");
    const nan = f32_to_f16_bits(NaN);
    expect<bool>((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0).toBe(true, "NaN stays NaN: " + hex(nan));
    const snan = f32_to_f16_bits(reinterpret<f32>(0x7f800001)); // signalling, payload only in low bits
    expect<bool>((snan & 0x7c00) == 0x7c00 && (snan & 0x3ff) != 0).toBe(true, "sNaN -> NaN, not inf: " + hex(snan));
  });

  test("round trip f16 -> f32 -> f16 is the identity on all non-NaN f16", () => {
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;
      if (f32_to_f16_bits(f16_bits_to_f32(h)) != h) bad++;
    }
    expect<i32>(bad).toBe(0);
  });

  test("random f32 of every magnitude round to nearest even like the f64 definition", () => {
    seed(21);
    let bad = 0;
    for (let i = 0; i < 200000; i++) {
      // Exponents 2^-30 .. 2^17 (through subnormal, normal and overflow), random mantissa bits;
      // every other one sits exactly halfway between two f16 values (ties).
      const e = <u32>(97 + (nextU32() % 48));
      let mant = nextU32() & 0x7fffff;
      if (i & 1) mant = (mant & ~0x1fff) | 0x1000;
      const x = reinterpret<f32>((nextU32() & 0x80000000) | (e << 23) | mant);
      if (f32_to_f16_bits(x) != toF16Ref(x)) bad++;
    }
    expect<i32>(bad).toBe(0);
  });

  test("store_f32_to_f16 (SIMD) equals the scalar _ref, specials and tails included", () => {
    seed(22);
    const n = 4099;
    const x = alloc(4 * n), a = alloc(2 * n), b = alloc(2 * n);
    for (let i = 0; i < n; i++) {
      let v = reinterpret<f32>(nextU32());
      const k = i % 11;
      if (k == 0) v = Infinity; else if (k == 1) v = -0.0; else if (k == 2) v = NaN;
      else if (k == 3) v = 65520; else if (k == 4) v = <f32>Math.pow(2, -25);
      else if (k == 5) v = reinterpret<f32>(0x7f800001);
      else if (k == 6) v = reinterpret<f32>((nextU32() & 0x87ffffff) | 0x30000000); // near the f16 range
      store<f32>(x + (<usize>i << 2), v);
    }
    for (let len = 0; len < 20; len++) {
      memory.fill(a, 0, 2 * n); memory.fill(b, 0, 2 * n);
      store_f32_to_f16(a, x, len);
      store_f32_to_f16_ref(b, x, len);
      expect<i32>(memory.compare(a, b, 2 * n)).toBe(0, "n=" + len.toString());
    }
    store_f32_to_f16(a, x, n);
    store_f32_to_f16_ref(b, x, n);
    expect<i32>(memory.compare(a, b, 2 * n)).toBe(0, "n=4099");
    free(x); free(a); free(b);
  });
});

describe("embed", () => {
  test("embed_f16 / embed_f32 copy row `row` and nothing else", () => {
    seed(23);
    const dims: StaticArray<i32> = [1, 3, 8, 17, 64, 65];
    for (let d = 0; d < dims.length; d++) {
      const dim = dims[d], vocab = 5;
      const t16 = alloc(2 * dim * vocab), t32 = alloc(4 * dim * vocab);
      const o1 = alloc(4 * dim + 4), o2 = alloc(4 * dim + 4), o3 = alloc(4 * dim + 4);
      for (let i = 0; i < dim * vocab; i++) {
        const h = <i32>(nextU32() & 0xffff);
        store<u16>(t16 + (<usize>i << 1), <u16>h);
        store<f32>(t32 + (<usize>i << 2), f16_bits_to_f32(h));
      }
      for (let row = 0; row < vocab; row++) {
        store<u32>(o1 + (<usize>dim << 2), 0xdeadbeef);
        store<u32>(o3 + (<usize>dim << 2), 0xdeadbeef);
        embed_f16(o1, t16, row, dim);
        embed_f16_ref(o2, t16, row, dim);
        embed_f32(o3, t32, row, dim);
        const name = "dim=" + dim.toString() + " row=" + row.toString();
        expect<i32>(firstDiff(o1, o2, dim)).toBe(-1, name);
        expect<i32>(firstDiff(o1, t32 + <usize>(row * dim * 4), dim)).toBe(-1, name);
        expect<i32>(firstDiff(o3, t32 + <usize>(row * dim * 4), dim)).toBe(-1, name);
        expect<u32>(load<u32>(o1 + (<usize>dim << 2))).toBe(0xdeadbeef, name + " overrun");
        expect<u32>(load<u32>(o3 + (<usize>dim << 2))).toBe(0xdeadbeef, name + " overrun");
      }
      free(t16); free(t32); free(o1); free(o2); free(o3);
    }
  });
});
