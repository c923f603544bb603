// exp (vexp), SwiGLU and the residual add.

import { exp_f32, swiglu, swiglu_ref, add, add_ref } from "../../assembly/act";
import { M_SIZES, U, alloc, copyF32, f32At, fillUniform, firstDiff, free, seed, uniform } from "./util";

/** The bound act.ts states for vexp on [−87, 88.7], in units in the last place of the f32 result. */
const EXP_MAX_ULP: f64 = 2;
/** Relative error of vexp: an ulp is at most 2u relative. */
const EXP_REL: f64 = EXP_MAX_ULP * 2 * U;
/**
 * silu(g)·up = g / (1 + e^−g) · up: exp's error (EXP_REL for vexp, 0.502 ulp ≤ 1.004u for
 * Mathf.exp), then 1 + e, the division and the product round once each: relative error
 * ≤ EXP_REL + 3u (fast), ≤ 1.004u + 3u (_ref).
 */
const SWIGLU_FAST_ERR: f64 = EXP_REL + 3 * U;
const SWIGLU_REF_ERR: f64 = 1.004 * U + 3 * U;
/** Results below the smallest normal f32 may flush to 0 (e^x for x < −87.3 is subnormal). */
const TINY: f64 = 1.1754943508222875e-38;

/** ulp of the f32 nearest to v > 0 (the gap to the next f32 up). */
function ulpOf(v: f64): f64 {
  const r = <f32>v;
  return <f64>reinterpret<f32>(reinterpret<u32>(r) + 1) - <f64>r;
}

function vexp1(x: f32): f32 {
  const p = alloc(16);
  store<f32>(p, x);
  exp_f32(p + 4, p, 1);
  const y = load<f32>(p, 4);
  free(p);
  return y;
}

describe("exp (vexp)", () => {
  test("at most EXP_MAX_ULP ulp from f64 exp on a dense sweep of [-87, 88.7]", () => {
    const n = 175700; // step 0.001, up to 88.699
    const x = alloc(4 * n), y = alloc(4 * n);
    for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), <f32>(-87.0 + 0.001 * <f64>i));
    exp_f32(y, x, n);
    let worst: f64 = 0;
    for (let i = 0; i < n; i++) {
      const want = Math.exp(<f64>f32At(x, i));
      const e = Math.abs(<f64>f32At(y, i) - want) / ulpOf(want);
      if (!(e <= worst)) worst = e;
    }
    expect<f64>(worst).toBeLessThanOrEqual(EXP_MAX_ULP);
    free(x); free(y);
  });

  test("at most EXP_MAX_ULP ulp near 0 and on random arguments", () => {
    seed(51);
    let worst: f64 = 0;
    for (let i = 0; i < 20000; i++) {
      const xv: f32 = i < 10000 ? uniform() * 0.01 : uniform() * 87;
      const want = Math.exp(<f64>xv);
      const e = Math.abs(<f64>vexp1(xv) - want) / ulpOf(want);
      if (!(e <= worst)) worst = e;
    }
    expect<f64>(worst).toBeLessThanOrEqual(EXP_MAX_ULP);
  });

  test("special values", () => {
    expect<f32>(vexp1(0)).toBe(1, "e^0");
    expect<f32>(vexp1(-0.0)).toBe(1, "e^-0");
    expect<f32>(vexp1(Infinity)).toBe(Infinity, "e^inf");
    expect<f32>(vexp1(-Infinity)).toBe(0, "e^-inf");
    expect<bool>(isNaN(vexp1(NaN))).toBe(true, "e^NaN");
    expect<f32>(vexp1(88.8)).toBe(Infinity, "overflow");
    expect<bool>(isFinite(vexp1(88.72))).toBe(true, "e^88.72 is finite");
    expect<f32>(vexp1(-110)).toBe(0, "underflow");
    // Subnormal results: within 2^-149 (plus the usual relative error) of the true value.
    const sub = vexp1(-95);
    expect<f64>(Math.abs(<f64>sub - Math.exp(-95.0))).toBeLessThanOrEqual(Math.pow(2, -149) + EXP_REL * Math.exp(-95.0), "e^-95");
  });
});

describe("swiglu", () => {
  test("fast and _ref within their bounds of the f64 formula; out may alias gate", () => {
    seed(52);
    for (let a = 0; a < M_SIZES.length + 1; a++) {
      const n = a < M_SIZES.length ? M_SIZES[a] : 11008;
      const g = alloc(4 * n), u = alloc(4 * n), o1 = alloc(4 * n), o2 = alloc(4 * n), o3 = alloc(4 * n);
      fillUniform(g, n, 12);
      fillUniform(u, n, 3);
      if (n > 8) { store<f32>(g, 100); store<f32>(g, -100, 4); store<f32>(g, 0, 8); store<f32>(g, -0.0, 12); }
      swiglu(o1, g, u, n);
      swiglu_ref(o2, g, u, n);
      copyF32(o3, g, n);
      swiglu(o3, o3, u, n);
      const name = "n=" + n.toString();
      expect<i32>(firstDiff(o1, o3, n)).toBe(-1, name + " aliasing");
      let bad = 0;
      for (let i = 0; i < n; i++) {
        const gv = <f64>f32At(g, i);
        const want = gv / (1 + Math.exp(-gv)) * <f64>f32At(u, i);
        if (!(Math.abs(<f64>f32At(o1, i) - want) <= SWIGLU_FAST_ERR * Math.abs(want) + TINY)) bad++;
        if (!(Math.abs(<f64>f32At(o2, i) - want) <= SWIGLU_REF_ERR * Math.abs(want) + TINY)) bad++;
      }
      expect<i32>(bad).toBe(0, name);
      free(g); free(u); free(o1); free(o2); free(o3);
    }
  });
});

describe("add", () => {
  test("fast == _ref bit for bit, out may alias a or b", () => {
    seed(53);
    for (let a = 0; a < M_SIZES.length; a++) {
      const n = M_SIZES[a];
      const x = alloc(4 * n), y = alloc(4 * n), o1 = alloc(4 * n), o2 = alloc(4 * n), o3 = alloc(4 * n);
      fillUniform(x, n, 5);
      fillUniform(y, n, 5);
      add(o1, x, y, n);
      add_ref(o2, x, y, n);
      copyF32(o3, x, n);
      add(o3, o3, y, n);
      const name = "n=" + n.toString();
      expect<i32>(firstDiff(o1, o2, n)).toBe(-1, name);
      expect<i32>(firstDiff(o1, o3, n)).toBe(-1, name + " aliasing");
      let bad = 0;
      for (let i = 0; i < n; i++) if (f32At(o1, i) != f32At(x, i) + f32At(y, i)) bad++;
      expect<i32>(bad).toBe(0, name);
      free(x); free(y); free(o1); free(o2); free(o3);
    }
  });
});
