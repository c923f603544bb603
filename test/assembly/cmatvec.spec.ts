// cmatvec_ref against a dense dequantize-then-multiply built straight from docs/format.md (code
// layout 2); the table kernel (cmatvec_prepare + cmatvec) against its scalar twin bit for bit and
// against the dense product within the error its table rounding allows; cmatmul against cmatvec.

import {
  cmatvec, cmatvec_ref, cmatvec_lut_ref, cmatvec_prepare, cmatvec_prepare_blocks, cmatvec_prepare_ref, cmatvec_tables_bytes,
  cmatmul, cmatmul_ref,
} from "../../assembly/cmatvec";
import {
  M_SIZES, SENTINEL, U, alloc, below, f32At, f64At, fillBits, fillBytes, fillUniform,
  firstDiff, free, gamma, seed, uniform,
} from "./util";

/** Row counts: every tile tail (n mod 16) the kernels see, and more than one tile. */
const N_SIZES: StaticArray<i32> = [1, 2, 3, 7, 17, 33];

// Error bounds.
// cmatvec_ref: a component of y is, per plane, a sum of m signed inputs scaled once, then a sum of
// 2·2S such products: k = m + 4S + 2 roundings on terms of total magnitude at most
// M = Σ_planes (s_re + s_im) · Σ_j (|a_j| + |b_j|), so within gamma_k·M of the exact value.
const REF_ERR: f64 = 1;
// The table kernel (assembly/cmatvec.ts header). An entry T (f32: two products and a sum, within
// 3u·|T| of exact) is stored as v = round(fl(T·inv)), inv = Q/mx_b, d_b = mx_b/Q, |T| <= mx_b:
// |d_b·v − T_exact| <= d_b/2 + (3u + 2u)·mx_b per lookup. A block of the row adds S lookups per
// input (cnt_b of them) exactly in integers; the f32 sum over blocks of d_b·f32(q_b) then rounds
// at most 3 times per block on terms within M. Bound: Σ_b cnt_b·(d_b/2 + LUT_ENTRY_U·u·mx_b)
// + gamma(3·blocks + 2)·M.
const LUT_ENTRY_U: f64 = 5;

function tileBytes(m: i32, S: i32): i32 {
  return 16 * ((m + 1) >> 1) * S;
}

function codesBytes(n: i32, m: i32, S: i32): i32 {
  return ((n + 15) >> 4) * tileBytes(m, S);
}

/** Byte address of code(plane p, row r, input j) and its shift, the formula of docs/format.md "Code layout 2". */
function codeByte(codes: usize, m: i32, S: i32, p: i32, r: i32, j: i32): usize {
  const s = p < S ? p : p - S;
  return codes + <usize>((r >> 4) * tileBytes(m, S) + ((j >> 1) * S + s) * 16 + (r & 15));
}

function codeShift(S: i32, p: i32, j: i32): i32 {
  return 4 * (j & 1) + (p < S ? 0 : 2);
}

function codeAt(codes: usize, m: i32, S: i32, p: i32, r: i32, j: i32): i32 {
  return (<i32>load<u8>(codeByte(codes, m, S, p, r, j)) >> codeShift(S, p, j)) & 3;
}

function setCode(codes: usize, m: i32, S: i32, p: i32, r: i32, j: i32, c: i32): void {
  const at = codeByte(codes, m, S, p, r, j);
  const sh = codeShift(S, p, j);
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

/** The table kernel's bound (header comment) for tables prepared from one x. */
function lutBound(tables: usize, x: usize, scales: usize, m: i32, S: i32, L: i32): f64 {
  const Q: f64 = L == 1 ? 127 : 1040319;
  const blocks = (((m + 1) >> 1) + 31) >> 5;
  let b: f64 = 0;
  for (let k = 0; k < blocks; k++) {
    const d = <f64>load<f32>(tables + 64 + (<usize>k << 2));
    const cnt = <f64>(min(m, 64 * k + 64) - 64 * k) * <f64>S;
    b += cnt * (d / 2 + LUT_ENTRY_U * U * d * Q);
  }
  return b + gamma(3 * blocks + 2) * magnitude(x, scales, m, S);
}

/**
 * y64 f64 (2n,) = U_q z + W_q conj(z), U_q and W_q the dense complex matrices (Σ over stages of
 * the dequantized entries: code 0 +s_re, 1 +i·s_im, 2 −s_re, 3 −i·s_im). code(p, r, j) comes from
 * `codes` when `given` is 0, else from the i32 array `given` (n, 2S, m).
 */
function dense(y64: usize, x: usize, codes: usize, given: usize, scales: usize, n: i32, m: i32, S: i32): void {
  for (let r = 0; r < n; r++) {
    let yr: f64 = 0, yi: f64 = 0;
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
      const a = <f64>f32At(x, j), b = <f64>f32At(x, m + j);
      // U z with z = a + ib, W conj z with conj z = a − ib.
      yr += ur * a - ui * b + wr * a + wi * b;
      yi += ur * b + ui * a - wr * b + wi * a;
    }
    store<f64>(y64 + <usize>(r * 8), yr);
    store<f64>(y64 + <usize>((n + r) * 8), yi);
  }
}

/** max over outputs of |got − want| / bound (≤ 1 passes); want f64. */
function worstF64(got: usize, want64: usize, count: i32, bound: f64): f64 {
  let worst: f64 = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(<f64>f32At(got, i) - f64At(want64, i));
    const ratio = d / bound;
    if (!(ratio <= worst)) worst = ratio; // NaN propagates as a failure
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
          const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), x = alloc(8 * m);
          const y = alloc(8 * n), y64 = alloc(16 * n);
          fillBytes(codes, codesBytes(n, m, S)); // padding codes random too: they must be ignored
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

  test("codes written by the layout 2 formula give the intended matrix", () => {
    // The dense side uses the intended codes directly, not codeAt: this checks the formula's
    // write and the kernels' read agree (nibble and bit order, stage order, tile stride).
    seed(2);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a += 2) {
        const m = M_SIZES[a], n = 19;
        const codes = alloc(codesBytes(n, m, S)), given = alloc(n * 2 * S * m * 4);
        const scales = alloc(16 * S), x = alloc(8 * m), y = alloc(8 * n), yf = alloc(8 * n), y64 = alloc(16 * n);
        const tables = alloc(cmatvec_tables_bytes(m, S, 3));
        memory.fill(codes, 0, <usize>codesBytes(n, m, S));
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
        cmatvec_prepare(tables, x, scales, m, S, 3);
        cmatvec(yf, tables, codes, scales, n, m, S, 0, n);
        const bound = gamma(m + 4 * S + 2) * magnitude(x, scales, m, S);
        expect<f64>(worstF64(y, y64, 2 * n, REF_ERR * bound)).toBeLessThanOrEqual(1.0, "ref " + caseName(n, m, S));
        expect<f64>(worstF64(yf, y64, 2 * n, lutBound(tables, x, scales, m, S, 3))).toBeLessThanOrEqual(1.0, "fast " + caseName(n, m, S));
        free(codes); free(given); free(scales); free(x); free(y); free(yf); free(y64); free(tables);
      }
    }
  });

  test("single codes: y = i^c·s·z or i^c·s·conj z exactly", () => {
    // m = 1, n = 1, S = 1: one U term and one W term, small integers, so every result is exact.
    const x = alloc(8), scales = alloc(16), codes = alloc(16), y = alloc(8);
    store<f32>(x, 3); store<f32>(x, 5, 4); // z = 3 + 5i
    store<f32>(scales, 2); store<f32>(scales, 7, 4); store<f32>(scales, 11, 8); store<f32>(scales, 13, 12);
    // [U code, W code] -> expected y = i^u·(2 or 7)·z + i^w·(11 or 13)·conj z
    for (let u = 0; u < 4; u++) {
      for (let w = 0; w < 4; w++) {
        memory.fill(codes, 0, 16);
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
      }
    }
    free(x); free(scales); free(codes); free(y);
  });
});

describe("cmatvec (tables)", () => {
  test("equals cmatvec_lut_ref bit for bit on every size, at 1 and 3 levels", () => {
    seed(4);
    for (let L = 1; L <= 3; L += 2) {
      for (let S = 1; S <= 4; S++) {
        for (let a = 0; a < M_SIZES.length; a++) {
          for (let b = 0; b < N_SIZES.length; b++) {
            const m = M_SIZES[a], n = N_SIZES[b];
            const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), x = alloc(8 * m);
            const tables = alloc(cmatvec_tables_bytes(m, S, L));
            const y = alloc(8 * n), yr = alloc(8 * n);
            fillBytes(codes, codesBytes(n, m, S));
            fillScales(scales, S);
            fillUniform(x, 2 * m, 1);
            cmatvec_prepare(tables, x, scales, m, S, L);
            cmatvec(y, tables, codes, scales, n, m, S, 0, n);
            cmatvec_lut_ref(yr, tables, codes, scales, n, m, S, 0, n);
            expect<i32>(firstDiff(y, yr, 2 * n)).toBe(-1, caseName(n, m, S) + " L=" + L.toString());
            free(codes); free(scales); free(x); free(tables); free(y); free(yr);
          }
        }
      }
    }
  });

  test("within the table rounding bound of the dense product on every size (1 and 3 levels)", () => {
    seed(5);
    for (let L = 1; L <= 3; L += 2) for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let b = 0; b < N_SIZES.length; b++) {
          const m = M_SIZES[a], n = N_SIZES[b];
          const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), x = alloc(8 * m);
          const tables = alloc(cmatvec_tables_bytes(m, S, L));
          const y = alloc(8 * n), y64 = alloc(16 * n);
          fillBytes(codes, codesBytes(n, m, S));
          fillScales(scales, S);
          fillUniform(x, 2 * m, 1);
          cmatvec_prepare(tables, x, scales, m, S, L);
          cmatvec(y, tables, codes, scales, n, m, S, 0, n);
          dense(y64, x, codes, 0, scales, n, m, S);
          expect<f64>(worstF64(y, y64, 2 * n, lutBound(tables, x, scales, m, S, L))).toBeLessThanOrEqual(1.0, caseName(n, m, S) + " L=" + L.toString());
          free(codes); free(scales); free(x); free(tables); free(y); free(y64);
        }
      }
    }
  });

  test("at LLaMA widths (m = 2048, 5504) and one level, within the bound of the dense product", () => {
    seed(6);
    for (let S = 1; S <= 4; S++) {
      for (let k = 0; k < 2; k++) {
        for (let L = 1; L <= 3; L += 2) {
          const m = k == 0 ? 2048 : 5504, n = 17;
          const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), x = alloc(8 * m);
          const tables = alloc(cmatvec_tables_bytes(m, S, L));
          const y = alloc(8 * n), yr = alloc(8 * n), y64 = alloc(16 * n);
          fillBytes(codes, codesBytes(n, m, S));
          fillScales(scales, S);
          fillUniform(x, 2 * m, 1);
          cmatvec_prepare(tables, x, scales, m, S, L);
          cmatvec(y, tables, codes, scales, n, m, S, 0, n);
          cmatvec_lut_ref(yr, tables, codes, scales, n, m, S, 0, n);
          dense(y64, x, codes, 0, scales, n, m, S);
          const name = caseName(n, m, S) + " L=" + L.toString();
          expect<i32>(firstDiff(y, yr, 2 * n)).toBe(-1, name);
          expect<f64>(worstF64(y, y64, 2 * n, lutBound(tables, x, scales, m, S, L))).toBeLessThanOrEqual(1.0, name);
          free(codes); free(scales); free(x); free(tables); free(y); free(yr); free(y64);
        }
      }
    }
  });

  test("cmatvec_prepare_blocks over block ranges (SIMD) writes the bytes of cmatvec_prepare_ref (scalar)", () => {
    seed(11);
    for (let L = 1; L <= 3; L += 2) {
      for (let S = 1; S <= 4; S++) {
        for (let a = 0; a < M_SIZES.length; a++) {
          const m = M_SIZES[a], tb = cmatvec_tables_bytes(m, S, L);
          const scales = alloc(16 * S), x = alloc(8 * m), t1 = alloc(tb), t2 = alloc(tb);
          fillScales(scales, S);
          fillUniform(x, 2 * m, 1);
          if (m > 5) store<f32>(x, 40, 12); // an outlier in the first block
          memory.fill(t1, 0xaa, <usize>tb);
          memory.fill(t2, 0xaa, <usize>tb); // header and scale padding are not written
          // t1 in block ranges of 1 and 2 (as threads would split it), t2 whole and scalar
          const blocks = (((m + 1) >> 1) + 31) >> 5;
          for (let b = 0; b < blocks; b += 1 + (b & 1)) cmatvec_prepare_blocks(t1, x, scales, m, S, L, b, b + 1 + (b & 1));
          cmatvec_prepare_ref(t2, x, scales, m, S, L);
          let diff = -1;
          for (let i = 0; i < tb; i++) {
            if (load<u8>(t1 + <usize>i) != load<u8>(t2 + <usize>i)) { diff = i; break; }
          }
          expect<i32>(diff).toBe(-1, "m=" + m.toString() + " S=" + S.toString() + " L=" + L.toString());
          free(scales); free(x); free(t1); free(t2);
        }
      }
    }
  });

  test("table digits are balanced base-128 in [−64, 63], stored + 64", () => {
    seed(7);
    const m = 77, S = 3;
    const scales = alloc(16 * S), x = alloc(8 * m), tables = alloc(cmatvec_tables_bytes(m, S, 3));
    fillScales(scales, S);
    fillUniform(x, 2 * m, 100);
    store<f32>(x, 1000, 4 * 5); // an outlier: some entries reach ±Q
    cmatvec_prepare(tables, x, scales, m, S, 3);
    expect<u32>(load<u32>(tables)).toBe(3);
    expect<u32>(load<u32>(tables, 4)).toBe(<u32>m);
    expect<u32>(load<u32>(tables, 8)).toBe(<u32>S);
    expect<u32>(load<u32>(tables, 12)).toBe(2);
    let bad = 0;
    const ent = tables + 128;
    for (let i = 0; i < ((m + 1) >> 1) * S * 192; i++) {
      if (load<u8>(ent + <usize>i) > 127) bad++;
    }
    expect<i32>(bad).toBe(0);
    free(scales); free(x); free(tables);
  });

  test("int8 tables (1 level) use the full ±127 range, stored + 128", () => {
    seed(12);
    const m = 77, S = 3;
    const scales = alloc(16 * S), x = alloc(8 * m), tables = alloc(cmatvec_tables_bytes(m, S, 1));
    fillScales(scales, S);
    fillUniform(x, 2 * m, 100);
    store<f32>(x, 1000, 4 * 5); // an outlier: some entries reach ±127
    cmatvec_prepare(tables, x, scales, m, S, 1);
    expect<u32>(load<u32>(tables)).toBe(1);
    let lo: i32 = 255, hi: i32 = 0;
    const ent = tables + 128;
    for (let i = 0; i < ((m + 1) >> 1) * S * 64; i++) {
      const b = <i32>load<u8>(ent + <usize>i);
      lo = min(lo, b); hi = max(hi, b);
    }
    expect<i32>(lo).toBe(1);
    expect<i32>(hi).toBe(255);
    free(scales); free(x); free(tables);
  });

  test("writes rows [r0, r1) only, each as the full call does", () => {
    seed(8);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a += 3) {
        const m = M_SIZES[a], n = 37;
        const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), x = alloc(8 * m);
        const tables = alloc(cmatvec_tables_bytes(m, S, 1));
        const full = alloc(8 * n), part = alloc(8 * n), partRef = alloc(8 * n), fullRef = alloc(8 * n);
        fillBytes(codes, codesBytes(n, m, S));
        fillScales(scales, S);
        fillUniform(x, 2 * m, 1);
        cmatvec_prepare(tables, x, scales, m, S, 1);
        cmatvec(full, tables, codes, scales, n, m, S, 0, n);
        cmatvec_ref(fullRef, x, codes, scales, n, m, S, 0, n);
        for (let trial = 0; trial < 6; trial++) {
          let r0 = trial == 0 ? 16 : below(n + 1), r1 = trial == 0 ? 32 : below(n + 1);
          if (r0 > r1) { const t = r0; r0 = r1; r1 = t; }
          fillBits(part, 2 * n, SENTINEL);
          fillBits(partRef, 2 * n, SENTINEL);
          cmatvec(part, tables, codes, scales, n, m, S, r0, r1);
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
        free(codes); free(scales); free(x); free(tables); free(full); free(part); free(partRef); free(fullRef);
      }
    }
  });
});

describe("cmatmul", () => {
  test("each y_t equals cmatvec's bit for bit, and cmatmul_ref within the bound", () => {
    seed(9);
    for (let L = 1; L <= 3; L += 2) for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let tt = 0; tt < 3; tt++) {
          const T = tt == 0 ? 1 : tt == 1 ? 3 : 5;
          const m = M_SIZES[a], n = N_SIZES[(a + tt) % N_SIZES.length];
          const tb = cmatvec_tables_bytes(m, S, L);
          const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * T), tables = alloc(tb * T);
          const Y = alloc(8 * n * T), Yr = alloc(8 * n * T), y1 = alloc(8 * n), y64 = alloc(16 * n);
          fillBytes(codes, codesBytes(n, m, S));
          fillScales(scales, S);
          fillUniform(X, 2 * m * T, 1);
          for (let t = 0; t < T; t++) cmatvec_prepare(tables + <usize>(t * tb), X + <usize>(t * 8 * m), scales, m, S, L);
          cmatmul(Y, tables, codes, scales, n, m, S, T, 0, n);
          cmatmul_ref(Yr, X, codes, scales, n, m, S, T, 0, n);
          for (let t = 0; t < T; t++) {
            const xt = X + <usize>(t * 8 * m), tt_ = tables + <usize>(t * tb);
            const name = caseName(n, m, S) + " L=" + L.toString() + " T=" + T.toString() + " t=" + t.toString();
            cmatvec(y1, tt_, codes, scales, n, m, S, 0, n);
            expect<i32>(firstDiff(Y + <usize>(t * 8 * n), y1, 2 * n)).toBe(-1, name);
            dense(y64, xt, codes, 0, scales, n, m, S);
            expect<f64>(worstF64(Y + <usize>(t * 8 * n), y64, 2 * n, lutBound(tt_, xt, scales, m, S, L))).toBeLessThanOrEqual(1.0, name);
            expect<f64>(worstF64(Yr + <usize>(t * 8 * n), y64, 2 * n, REF_ERR * gamma(m + 4 * S + 2) * magnitude(xt, scales, m, S))).toBeLessThanOrEqual(1.0, "ref " + name);
          }
          free(codes); free(scales); free(X); free(tables); free(Y); free(Yr); free(y1); free(y64);
        }
      }
    }
  });

  test("writes rows [r0, r1) of every y_t only", () => {
    seed(10);
    const S = 2, m = 65, n = 37, T = 3;
    const tb = cmatvec_tables_bytes(m, S, 3);
    const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * T), tables = alloc(tb * T);
    const Y = alloc(8 * n * T), Yr = alloc(8 * n * T), full = alloc(8 * n * T);
    fillBytes(codes, codesBytes(n, m, S));
    fillScales(scales, S);
    fillUniform(X, 2 * m * T, 1);
    for (let t = 0; t < T; t++) cmatvec_prepare(tables + <usize>(t * tb), X + <usize>(t * 8 * m), scales, m, S, 3);
    cmatmul(full, tables, codes, scales, n, m, S, T, 0, n);
    const r0 = 5, r1 = 33;
    fillBits(Y, 2 * n * T, SENTINEL);
    fillBits(Yr, 2 * n * T, SENTINEL);
    cmatmul(Y, tables, codes, scales, n, m, S, T, r0, r1);
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
    free(codes); free(scales); free(X); free(tables); free(Y); free(Yr); free(full);
  });
});
