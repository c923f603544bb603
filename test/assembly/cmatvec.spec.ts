// cmatvec / cmatmul: the reference against a dense dequantize-then-multiply built straight from
// docs/format.md, then the fast kernels against the reference on every awkward size.

import { cmatvec, cmatvec_ref, cmatmul, cmatmul_ref } from "../../assembly/cmatvec";
import {
  M_SIZES, N_SIZES, SENTINEL, alloc, below, f32At, f64At, fillBits, fillBytes, fillUniform,
  firstDiff, free, gamma, seed, uniform,
} from "./util";

// Error bounds. A component of y is, per plane, a sum of m signed inputs scaled once, then a sum
// of 2·2S such products: k = m + 4S + 2 roundings, on terms of total magnitude at most
// M = Σ_planes (s_re + s_im) · Σ_j (|a_j| + |b_j|). cmatvec_ref is therefore within
// gamma_{k}·M of the exact value (REF_ERR = 1). The fast kernel sums lanes, forms P = T − Q
// (T and Q each carry up to Σ|a| of terms: twice the reference's) and adds the scalar tail's
// plane sums separately (two more roundings): within 2·gamma_{k+2}·M; so fast and reference
// differ by at most 3·gamma_{k+2}·M (FAST_ERR).
const REF_ERR: f64 = 1;
const FAST_ERR: f64 = 3;

function rowBytes(m: i32, S: i32): i32 {
  return ((m + 63) >> 6) * 2 * S * 16;
}

/** code(plane p, row r, input j), the formula of docs/format.md "Code layout 1". */
function codeAt(codes: usize, m: i32, S: i32, p: i32, r: i32, j: i32): i32 {
  const byte = <i32>load<u8>(codes + <usize>(r * rowBytes(m, S) + (j >> 6) * 2 * S * 16 + p * 16 + (j & 15)));
  return (byte >> (2 * ((j >> 4) & 3))) & 3;
}

/** The inverse: store code c for (p, r, j). */
function setCode(codes: usize, m: i32, S: i32, p: i32, r: i32, j: i32, c: i32): void {
  const at = codes + <usize>(r * rowBytes(m, S) + (j >> 6) * 2 * S * 16 + p * 16 + (j & 15));
  const sh = 2 * ((j >> 4) & 3);
  store<u8>(at, <u8>((<i32>load<u8>(at) & ~(3 << sh)) | (c << sh)));
}

/** Random scales like PhaseQuant's: positive, spread over an order of magnitude. */
function fillScales(scales: usize, S: i32): void {
  for (let i = 0; i < 4 * S; i++) store<f32>(scales + (<usize>i << 2), <f32>0.005 + <f32>0.05 * (uniform() + 1));
}

/** M of the header comment, for activation vector x (2m floats). */
function magnitude(x: usize, scales: usize, m: i32, S: i32): f64 {
  let sx: f64 = 0;
  for (let j = 0; j < 2 * m; j++) sx += Math.abs(<f64>f32At(x, j));
  let ss: f64 = 0;
  for (let i = 0; i < 4 * S; i++) ss += <f64>f32At(scales, i);
  return ss * sx;
}

/**
 * y64 f64 (2n,) = U_q z + W_q conj(z), U_q and W_q the dense complex matrices (Σ over stages of
 * the dequantized entries: code 0 +s_re, 1 +i·s_im, 2 −s_re, 3 −i·s_im). code(p, r, j) comes from
 * `codes` when `given` is 0, else from the i32 array `given` (n, 2S, m).
 */
function dense(y64: usize, x: usize, codes: usize, given: usize, scales: usize, n: i32, m: i32, S: i32): void {
  const uRe = alloc(n * m * 8), uIm = alloc(n * m * 8), wRe = alloc(n * m * 8), wIm = alloc(n * m * 8);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      let ur: f64 = 0, ui: f64 = 0, wr: f64 = 0, wi: f64 = 0;
      for (let p = 0; p < 2 * S; p++) {
        const c = given ? load<i32>(given + <usize>(((r * 2 * S + p) * m + j) * 4)) : codeAt(codes, m, S, p, r, j);
        const s = p < S ? p : p - S;
        const sre = <f64>f32At(scales, 4 * s + (p < S ? 0 : 2));
        const sim = <f64>f32At(scales, 4 * s + (p < S ? 1 : 3));
        const er: f64 = c == 0 ? sre : c == 2 ? -sre : 0;
        const ei: f64 = c == 1 ? sim : c == 3 ? -sim : 0;
        if (p < S) { ur += er; ui += ei; } else { wr += er; wi += ei; }
      }
      const o = <usize>((r * m + j) * 8);
      store<f64>(uRe + o, ur); store<f64>(uIm + o, ui);
      store<f64>(wRe + o, wr); store<f64>(wIm + o, wi);
    }
  }
  for (let r = 0; r < n; r++) {
    let yr: f64 = 0, yi: f64 = 0;
    for (let j = 0; j < m; j++) {
      const a = <f64>f32At(x, j), b = <f64>f32At(x, m + j);
      const o = <usize>((r * m + j) * 8);
      const ur = load<f64>(uRe + o), ui = load<f64>(uIm + o), wr = load<f64>(wRe + o), wi = load<f64>(wIm + o);
      // U z with z = a + ib, W conj z with conj z = a − ib.
      yr += ur * a - ui * b + wr * a + wi * b;
      yi += ur * b + ui * a - wr * b + wi * a;
    }
    store<f64>(y64 + <usize>(r * 8), yr);
    store<f64>(y64 + <usize>((n + r) * 8), yi);
  }
  free(uRe); free(uIm); free(wRe); free(wIm);
}

/** max over outputs of |got − want| / bound (≤ 1 passes); want f64 or f32. */
function worstF64(got: usize, want64: usize, count: i32, bound: f64): f64 {
  let worst: f64 = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(<f64>f32At(got, i) - f64At(want64, i));
    const ratio = d / bound;
    if (!(ratio <= worst)) worst = ratio; // NaN propagates as a failure
  }
  return worst;
}

function worstF32(got: usize, want: usize, count: i32, bound: f64): f64 {
  let worst: f64 = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(<f64>f32At(got, i) - <f64>f32At(want, i));
    const ratio = d / bound;
    if (!(ratio <= worst)) worst = ratio;
  }
  return worst;
}

function caseName(n: i32, m: i32, S: i32): string {
  return "n=" + n.toString() + " m=" + m.toString() + " S=" + S.toString();
}

describe("cmatvec_ref", () => {
  test("equals the dense dequantize-then-multiply (f64) on every size", () => {
    seed(1);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let b = 0; b < N_SIZES.length; b++) {
          const m = M_SIZES[a], n = N_SIZES[b];
          const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), x = alloc(8 * m);
          const y = alloc(8 * n), y64 = alloc(16 * n);
          fillBytes(codes, n * rowBytes(m, S)); // padding codes random too: they must be ignored
          fillScales(scales, S);
          fillUniform(x, 2 * m, 1);
          cmatvec_ref(y, x, codes, scales, n, m, S, 0, n);
          dense(y64, x, codes, 0, scales, n, m, S);
          const bound = REF_ERR * gamma(m + 4 * S + 2) * magnitude(x, scales, m, S);
          expect<f64>(worstF64(y, y64, 2 * n, bound)).toBeLessThanOrEqual(1.0, caseName(n, m, S));
          free(codes); free(scales); free(x); free(y); free(y64);
        }
      }
    }
  });

  test("codes written by the layout 1 formula give the intended matrix", () => {
    // The dense side uses the intended codes directly, not codeAt: this checks the formula's
    // write and the kernels' read agree (bit order, plane order, U before W, block stride).
    seed(2);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a += 2) {
        const m = M_SIZES[a], n = 3;
        const codes = alloc(n * rowBytes(m, S)), given = alloc(n * 2 * S * m * 4);
        const scales = alloc(16 * S), x = alloc(8 * m), y = alloc(8 * n), yf = alloc(8 * n), y64 = alloc(16 * n);
        memory.fill(codes, 0, <usize>(n * rowBytes(m, S)));
        for (let r = 0; r < n; r++) {
          for (let p = 0; p < 2 * S; p++) {
            for (let j = 0; j < m; j++) {
              const c = below(4);
              store<i32>(given + <usize>(((r * 2 * S + p) * m + j) * 4), c);
              setCode(codes, m, S, p, r, j, c);
            }
          }
        }
        fillScales(scales, S);
        fillUniform(x, 2 * m, 1);
        dense(y64, x, 0, given, scales, n, m, S);
        cmatvec_ref(y, x, codes, scales, n, m, S, 0, n);
        cmatvec(yf, x, codes, scales, n, m, S, 0, n);
        const bound = gamma(m + 4 * S + 4) * magnitude(x, scales, m, S);
        expect<f64>(worstF64(y, y64, 2 * n, REF_ERR * bound)).toBeLessThanOrEqual(1.0, "ref " + caseName(n, m, S));
        expect<f64>(worstF64(yf, y64, 2 * n, 2 * bound)).toBeLessThanOrEqual(1.0, "fast " + caseName(n, m, S));
        free(codes); free(given); free(scales); free(x); free(y); free(yf); free(y64);
      }
    }
  });

  test("single codes: y = i^c·s·z or i^c·s·conj z exactly", () => {
    // m = 1, n = 1, S = 1: one U term and one W term, small integers, so every result is exact.
    const x = alloc(8), scales = alloc(16), codes = alloc(32), y = alloc(8);
    store<f32>(x, 3); store<f32>(x, 5, 4); // z = 3 + 5i
    store<f32>(scales, 2); store<f32>(scales, 7, 4); store<f32>(scales, 11, 8); store<f32>(scales, 13, 12);
    // [U code, W code] -> expected y = i^u·(2 or 7)·z + i^w·(11 or 13)·conj z
    for (let u = 0; u < 4; u++) {
      for (let w = 0; w < 4; w++) {
        memory.fill(codes, 0, 32);
        setCode(codes, 1, 1, 0, 0, 0, u);
        setCode(codes, 1, 1, 1, 0, 0, w);
        const su: f64 = (u & 1) ? 7 : 2, sw: f64 = (w & 1) ? 13 : 11;
        // i^k·(p + iq): k=0 (p, q), 1 (−q, p), 2 (−p, −q), 3 (q, −p)
        const ur: f64 = u == 0 ? 3 : u == 1 ? -5 : u == 2 ? -3 : 5;
        const ui: f64 = u == 0 ? 5 : u == 1 ? 3 : u == 2 ? -5 : -3;
        const wr: f64 = w == 0 ? 3 : w == 1 ? 5 : w == 2 ? -3 : -5; // conj z = 3 − 5i
        const wi: f64 = w == 0 ? -5 : w == 1 ? 3 : w == 2 ? 5 : -3;
        cmatvec_ref(y, x, codes, scales, 1, 1, 1, 0, 1);
        expect<f32>(load<f32>(y)).toBe(<f32>(su * ur + sw * wr), "ref re u=" + u.toString() + " w=" + w.toString());
        expect<f32>(load<f32>(y, 4)).toBe(<f32>(su * ui + sw * wi), "ref im u=" + u.toString() + " w=" + w.toString());
        cmatvec(y, x, codes, scales, 1, 1, 1, 0, 1);
        expect<f32>(load<f32>(y)).toBe(<f32>(su * ur + sw * wr), "fast re u=" + u.toString() + " w=" + w.toString());
        expect<f32>(load<f32>(y, 4)).toBe(<f32>(su * ui + sw * wi), "fast im u=" + u.toString() + " w=" + w.toString());
      }
    }
    free(x); free(scales); free(codes); free(y);
  });
});

describe("cmatvec", () => {
  test("matches cmatvec_ref on every size (m, n, S)", () => {
    seed(4);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let b = 0; b < N_SIZES.length; b++) {
          const m = M_SIZES[a], n = N_SIZES[b];
          const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), x = alloc(8 * m);
          const y = alloc(8 * n), yr = alloc(8 * n);
          fillBytes(codes, n * rowBytes(m, S));
          fillScales(scales, S);
          fillUniform(x, 2 * m, 1);
          cmatvec(y, x, codes, scales, n, m, S, 0, n);
          cmatvec_ref(yr, x, codes, scales, n, m, S, 0, n);
          const bound = FAST_ERR * gamma(m + 4 * S + 4) * magnitude(x, scales, m, S);
          expect<f64>(worstF32(y, yr, 2 * n, bound)).toBeLessThanOrEqual(1.0, caseName(n, m, S));
          free(codes); free(scales); free(x); free(y); free(yr);
        }
      }
    }
  });

  test("matches cmatvec_ref at LLaMA widths (m = 2048, 5504)", () => {
    seed(5);
    for (let S = 1; S <= 4; S++) {
      for (let k = 0; k < 2; k++) {
        const m = k == 0 ? 2048 : 5504, n = 3;
        const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), x = alloc(8 * m);
        const y = alloc(8 * n), y64 = alloc(16 * n), yr = alloc(8 * n);
        fillBytes(codes, n * rowBytes(m, S));
        fillScales(scales, S);
        fillUniform(x, 2 * m, 1);
        cmatvec(y, x, codes, scales, n, m, S, 0, n);
        cmatvec_ref(yr, x, codes, scales, n, m, S, 0, n);
        const mag = magnitude(x, scales, m, S);
        expect<f64>(worstF32(y, yr, 2 * n, FAST_ERR * gamma(m + 4 * S + 4) * mag)).toBeLessThanOrEqual(1.0, caseName(n, m, S));
        free(codes); free(scales); free(x); free(y); free(y64); free(yr);
      }
    }
  });

  test("writes rows [r0, r1) only, each as the full call does", () => {
    seed(6);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a += 3) {
        const m = M_SIZES[a], n = 17;
        const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), x = alloc(8 * m);
        const full = alloc(8 * n), part = alloc(8 * n), partRef = alloc(8 * n), fullRef = alloc(8 * n);
        fillBytes(codes, n * rowBytes(m, S));
        fillScales(scales, S);
        fillUniform(x, 2 * m, 1);
        cmatvec(full, x, codes, scales, n, m, S, 0, n);
        cmatvec_ref(fullRef, x, codes, scales, n, m, S, 0, n);
        for (let trial = 0; trial < 4; trial++) {
          let r0 = below(n + 1), r1 = below(n + 1);
          if (r0 > r1) { const t = r0; r0 = r1; r1 = t; }
          fillBits(part, 2 * n, SENTINEL);
          fillBits(partRef, 2 * n, SENTINEL);
          cmatvec(part, x, codes, scales, n, m, S, r0, r1);
          cmatvec_ref(partRef, x, codes, scales, n, m, S, r0, r1);
          let bad = 0;
          for (let i = 0; i < 2 * n; i++) {
            const r = i < n ? i : i - n;
            const inside = r >= r0 && r < r1;
            const w = load<u32>(part + (<usize>i << 2)), wr = load<u32>(partRef + (<usize>i << 2));
            if (inside) {
              if (w != load<u32>(full + (<usize>i << 2)) || wr != load<u32>(fullRef + (<usize>i << 2))) bad++;
            } else if (w != SENTINEL || wr != SENTINEL) bad++;
          }
          expect<i32>(bad).toBe(0, caseName(n, m, S) + " rows " + r0.toString() + ".." + r1.toString());
        }
        free(codes); free(scales); free(x); free(full); free(part); free(partRef); free(fullRef);
      }
    }
  });
});

describe("cmatmul", () => {
  test("matches cmatmul_ref, and each y_t equals cmatvec's bit for bit", () => {
    seed(7);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let tt = 0; tt < 3; tt++) {
          const T = tt == 0 ? 1 : tt == 1 ? 3 : 5;
          const m = M_SIZES[a], n = N_SIZES[(a + tt) % N_SIZES.length];
          const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), X = alloc(8 * m * T);
          const Y = alloc(8 * n * T), Yr = alloc(8 * n * T), y1 = alloc(8 * n);
          fillBytes(codes, n * rowBytes(m, S));
          fillScales(scales, S);
          fillUniform(X, 2 * m * T, 1);
          cmatmul(Y, X, codes, scales, n, m, S, T, 0, n);
          cmatmul_ref(Yr, X, codes, scales, n, m, S, T, 0, n);
          for (let t = 0; t < T; t++) {
            const xt = X + <usize>(t * 8 * m);
            const bound = FAST_ERR * gamma(m + 4 * S + 4) * magnitude(xt, scales, m, S);
            const name = caseName(n, m, S) + " T=" + T.toString() + " t=" + t.toString();
            expect<f64>(worstF32(Y + <usize>(t * 8 * n), Yr + <usize>(t * 8 * n), 2 * n, bound)).toBeLessThanOrEqual(1.0, name);
            cmatvec(y1, xt, codes, scales, n, m, S, 0, n);
            expect<i32>(firstDiff(Y + <usize>(t * 8 * n), y1, 2 * n)).toBe(-1, name);
          }
          free(codes); free(scales); free(X); free(Y); free(Yr); free(y1);
        }
      }
    }
  });

  test("writes rows [r0, r1) of every y_t only", () => {
    seed(8);
    const S = 2, m = 65, n = 7, T = 3;
    const codes = alloc(n * rowBytes(m, S)), scales = alloc(16 * S), X = alloc(8 * m * T);
    const Y = alloc(8 * n * T), Yr = alloc(8 * n * T), full = alloc(8 * n * T);
    fillBytes(codes, n * rowBytes(m, S));
    fillScales(scales, S);
    fillUniform(X, 2 * m * T, 1);
    cmatmul(full, X, codes, scales, n, m, S, T, 0, n);
    const r0 = 2, r1 = 5;
    fillBits(Y, 2 * n * T, SENTINEL);
    fillBits(Yr, 2 * n * T, SENTINEL);
    cmatmul(Y, X, codes, scales, n, m, S, T, r0, r1);
    cmatmul_ref(Yr, X, codes, scales, n, m, S, T, r0, r1);
    let bad = 0;
    for (let i = 0; i < 2 * n * T; i++) {
      const r = (i % (2 * n)) % n;
      const w = load<u32>(Y + (<usize>i << 2)), wr = load<u32>(Yr + (<usize>i << 2));
      if (r >= r0 && r < r1) {
        if (w != load<u32>(full + (<usize>i << 2)) || wr == SENTINEL) bad++;
      } else if (w != SENTINEL || wr != SENTINEL) bad++;
    }
    expect<i32>(bad).toBe(0);
    free(codes); free(scales); free(X); free(Y); free(Yr); free(full);
  });
});
