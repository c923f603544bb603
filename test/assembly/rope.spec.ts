// RoPE (rotate_half): against the formula evaluated in f64, and the three implementations
// (rope, rope_table + rope_apply, rope_apply_ref) against each other bit for bit.

import { rope, rope_table, rope_apply, rope_apply_ref } from "../../assembly/rope";
import { alloc, copyF32, f32At, fillUniform, firstDiff, free, seed, U } from "./util";

// Output = x_t·c − x_{t+d/2}·s (or x_t·s + x_{t+d/2}·c) with c, s the f32 roundings of the f64
// cos and sin: c and s carry relative error u, the two products and the sum one rounding each:
// |error| ≤ 3u·(|x_t| + |x_{t+d/2}|) (ROPE_ERR, in units of |x_t| + |x_{t+d/2}|).
const ROPE_ERR: f64 = 3 * U;

describe("rope", () => {
  test("rotates pairs (t, t + d/2) by pos·theta^(-2t/d), within ROPE_ERR of f64", () => {
    seed(41);
    const dims: StaticArray<i32> = [2, 4, 6, 8, 10, 16, 64, 128];
    const poss: StaticArray<i32> = [0, 1, 7, 100, 4095];
    for (let a = 0; a < dims.length; a++) {
      for (let b = 0; b < poss.length; b++) {
        const d = dims[a], pos = poss[b], nh = 3, n = nh * d;
        const theta: f64 = b & 1 ? 10000.0 : 500000.0;
        const x = alloc(4 * n), y = alloc(4 * n);
        fillUniform(x, n, 2);
        copyF32(y, x, n);
        rope(y, nh, d, pos, theta);
        let bad = 0;
        for (let h = 0; h < nh; h++) {
          for (let t = 0; t < d / 2; t++) {
            const i0 = h * d + t, i1 = i0 + d / 2;
            const ang = <f64>pos / Math.pow(theta, <f64>(2 * t) / <f64>d);
            const x0 = <f64>f32At(x, i0), x1 = <f64>f32At(x, i1);
            const w0 = x0 * Math.cos(ang) - x1 * Math.sin(ang);
            const w1 = x0 * Math.sin(ang) + x1 * Math.cos(ang);
            const tol = ROPE_ERR * (Math.abs(x0) + Math.abs(x1));
            if (!(Math.abs(<f64>f32At(y, i0) - w0) <= tol)) bad++;
            if (!(Math.abs(<f64>f32At(y, i1) - w1) <= tol)) bad++;
          }
        }
        const name = "d=" + d.toString() + " pos=" + pos.toString();
        expect<i32>(bad).toBe(0, name);
        if (pos == 0) expect<i32>(firstDiff(x, y, n)).toBe(-1, name + ": position 0 is the identity");
        free(x); free(y);
      }
    }
  });

  test("rope == rope_table + rope_apply == rope_apply_ref, bit for bit", () => {
    seed(42);
    const dims: StaticArray<i32> = [2, 6, 8, 10, 18, 64, 128];
    for (let a = 0; a < dims.length; a++) {
      const d = dims[a], nh = 5, n = nh * d, pos = 37 + a * 301;
      const x = alloc(4 * n), y1 = alloc(4 * n), y2 = alloc(4 * n), y3 = alloc(4 * n);
      const c = alloc(2 * d), s = alloc(2 * d);
      fillUniform(x, n, 1);
      copyF32(y1, x, n); copyF32(y2, x, n); copyF32(y3, x, n);
      rope(y1, nh, d, pos, 10000.0);
      rope_table(c, s, d, pos, 10000.0);
      rope_apply(y2, c, s, nh, d);
      rope_apply_ref(y3, c, s, nh, d);
      const name = "d=" + d.toString();
      expect<i32>(firstDiff(y1, y2, n)).toBe(-1, name);
      expect<i32>(firstDiff(y1, y3, n)).toBe(-1, name);
      free(x); free(y1); free(y2); free(y3); free(c); free(s);
    }
  });
});
