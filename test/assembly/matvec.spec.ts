// Float linear layers: fast against _ref, _ref against an f64 dot product.

import {
  matvec_f32, matvec_f32_ref, matvec_f16, matvec_f16_ref,
  matmul_f32, matmul_f32_ref, matmul_f16, matmul_f16_ref,
} from "../../assembly/matvec";
import { f16_bits_to_f32, f32_to_f16_bits } from "../../assembly/f16";
import {
  M_SIZES, N_SIZES, SENTINEL, alloc, below, f32At, fillBits, fillUniform, firstDiff, free, gamma, seed, uniform,
} from "./util";

// A dot product of length k in f32 is within gamma_k · Σ|w_j x_j| of the exact value, whatever
// the order; fast and _ref therefore differ by at most 2·gamma_k·Σ|w_j x_j| (FAST_ERR), and
// _ref is within gamma_k·Σ|w_j x_j| of the f64 value (REF_ERR). f16 weights are widened exactly.
const FAST_ERR: f64 = 2;
const REF_ERR: f64 = 1;

/** Weight element (r, j) as f64, f16 when half. */
function wAt(w: usize, r: i32, j: i32, nIn: i32, half: bool): f64 {
  const i = r * nIn + j;
  return half ? <f64>f16_bits_to_f32(<i32>load<u16>(w + (<usize>i << 1))) : <f64>f32At(w, i);
}

function fillWeights(w: usize, count: i32, half: bool): void {
  for (let i = 0; i < count; i++) {
    if (half) store<u16>(w + (<usize>i << 1), <u16>f32_to_f16_bits(uniform() * 0.1));
    else store<f32>(w + (<usize>i << 2), uniform() * 0.1);
  }
}

/**
 * Checks Y (T, nOut) from the fast kernel against Yr from _ref and against f64, rows [r0, r1)
 * only; the rest must hold SENTINEL. Returns the number of bad entries.
 */
function check(Y: usize, Yr: usize, w: usize, X: usize, nOut: i32, nIn: i32, T: i32, r0: i32, r1: i32, half: bool): i32 {
  let bad = 0;
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < nOut; r++) {
      const i = t * nOut + r;
      if (r < r0 || r >= r1) {
        if (load<u32>(Y + (<usize>i << 2)) != SENTINEL || load<u32>(Yr + (<usize>i << 2)) != SENTINEL) bad++;
        continue;
      }
      let exact: f64 = 0, mag: f64 = 0;
      for (let j = 0; j < nIn; j++) {
        const p = wAt(w, r, j, nIn, half) * <f64>f32At(X, t * nIn + j);
        exact += p;
        mag += Math.abs(p);
      }
      const g = gamma(nIn) * mag;
      const fast = <f64>f32At(Y, i), ref = <f64>f32At(Yr, i);
      if (!(Math.abs(fast - ref) <= FAST_ERR * g)) bad++;
      if (!(Math.abs(ref - exact) <= REF_ERR * g)) bad++;
    }
  }
  return bad;
}

function run(half: bool, batched: bool): void {
  for (let a = 0; a < M_SIZES.length; a++) {
    for (let b = 0; b < N_SIZES.length; b++) {
      const nIn = M_SIZES[a] + (a & 1) * 64, nOut = N_SIZES[b];
      const T = batched ? (b % 3 == 0 ? 1 : b % 3 == 1 ? 3 : 5) : 1;
      const w = alloc(nOut * nIn * 4), X = alloc(nIn * T * 4), Y = alloc(nOut * T * 4), Yr = alloc(nOut * T * 4);
      fillWeights(w, nOut * nIn, half);
      fillUniform(X, nIn * T, 1);
      for (let trial = 0; trial < 2; trial++) {
        let r0 = 0, r1 = nOut;
        if (trial == 1) {
          r0 = below(nOut + 1); r1 = below(nOut + 1);
          if (r0 > r1) { const tmp = r0; r0 = r1; r1 = tmp; }
        }
        fillBits(Y, nOut * T, SENTINEL);
        fillBits(Yr, nOut * T, SENTINEL);
        if (batched) {
          if (half) { matmul_f16(Y, X, w, nOut, nIn, T, r0, r1); matmul_f16_ref(Yr, X, w, nOut, nIn, T, r0, r1); }
          else { matmul_f32(Y, X, w, nOut, nIn, T, r0, r1); matmul_f32_ref(Yr, X, w, nOut, nIn, T, r0, r1); }
        } else {
          if (half) { matvec_f16(Y, X, w, nOut, nIn, r0, r1); matvec_f16_ref(Yr, X, w, nOut, nIn, r0, r1); }
          else { matvec_f32(Y, X, w, nOut, nIn, r0, r1); matvec_f32_ref(Yr, X, w, nOut, nIn, r0, r1); }
        }
        const name = "n_out=" + nOut.toString() + " n_in=" + nIn.toString() + " T=" + T.toString() +
          " rows " + r0.toString() + ".." + r1.toString();
        expect<i32>(check(Y, Yr, w, X, nOut, nIn, T, r0, r1, half)).toBe(0, name);
      }
      free(w); free(X); free(Y); free(Yr);
    }
  }
}

describe("matvec", () => {
  test("matvec_f32 matches _ref and f64, rows [r0, r1) only", () => {
    seed(11);
    run(false, false);
  });
  test("matvec_f16 matches _ref and f64, rows [r0, r1) only", () => {
    seed(12);
    run(true, false);
  });
  test("matmul_f32 matches _ref and f64 for T = 1, 3, 5", () => {
    seed(13);
    run(false, true);
  });
  test("matmul_f16 matches _ref and f64 for T = 1, 3, 5", () => {
    seed(14);
    run(true, true);
  });
  test("matmul with T = 8 (two 4-row tiles) matches _ref", () => {
    seed(15);
    const nIn = 67, nOut = 5, T = 8;
    for (let h = 0; h < 2; h++) {
      const half = h == 1;
      const w = alloc(nOut * nIn * 4), X = alloc(nIn * T * 4), Y = alloc(nOut * T * 4), Yr = alloc(nOut * T * 4);
      fillWeights(w, nOut * nIn, half);
      fillUniform(X, nIn * T, 1);
      if (half) { matmul_f16(Y, X, w, nOut, nIn, T, 0, nOut); matmul_f16_ref(Yr, X, w, nOut, nIn, T, 0, nOut); }
      else { matmul_f32(Y, X, w, nOut, nIn, T, 0, nOut); matmul_f32_ref(Yr, X, w, nOut, nIn, T, 0, nOut); }
      expect<i32>(check(Y, Yr, w, X, nOut, nIn, T, 0, nOut, half)).toBe(0, half ? "f16" : "f32");
      free(w); free(X); free(Y); free(Yr);
    }
  });
  test("each row of matmul equals matvec's bit for bit (a vector's result does not depend on its batch)", () => {
    seed(16);
    for (let a = 0; a < M_SIZES.length; a++) for (let h = 0; h < 2; h++) {
      const half = h == 1, nIn = M_SIZES[a], nOut = 7, T = 9;
      const w = alloc(nOut * nIn * 4), X = alloc(nIn * T * 4), Y = alloc(nOut * T * 4), y1 = alloc(nOut * 4);
      fillWeights(w, nOut * nIn, half);
      fillUniform(X, nIn * T, 1);
      if (half) matmul_f16(Y, X, w, nOut, nIn, T, 0, nOut);
      else matmul_f32(Y, X, w, nOut, nIn, T, 0, nOut);
      for (let t = 0; t < T; t++) {
        const xt = X + <usize>(t * nIn * 4);
        if (half) matvec_f16(y1, xt, w, nOut, nIn, 0, nOut);
        else matvec_f32(y1, xt, w, nOut, nIn, 0, nOut);
        expect<i32>(firstDiff(Y + <usize>(t * nOut * 4), y1, nOut)).toBe(-1, (half ? "f16" : "f32") + " n_in=" + nIn.toString() + " t=" + t.toString());
      }
      free(w); free(X); free(Y); free(y1);
    }
  });
});
