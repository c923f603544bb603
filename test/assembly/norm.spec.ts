// RMSNorm: fast equals _ref bit for bit (same f64 sum, same f32 products), and both are the
// formula x·g/sqrt(mean(x²) + eps) evaluated in f64 to within a few f32 roundings.

import { rmsnorm, rmsnorm_ref } from "../../assembly/norm";
import { M_SIZES, alloc, copyF32, f32At, fillUniform, firstDiff, free, seed, U } from "./util";

// out_i = (x_i · inv) · g_i: inv is the f32 rounding of an f64 value whose own error is far
// below u (f64 sum of squares, sqrt, divide), so |inv − exact| ≤ u·|exact| + tiny; then two f32
// products add two more roundings: relative error ≤ 3u (+ the f64 part), so RMS_ERR = 4u.
const RMS_ERR: f64 = 4 * U;

describe("rmsnorm", () => {
  test("fast == _ref bit for bit, both within RMS_ERR of the f64 formula, out may alias x", () => {
    seed(31);
    for (let a = 0; a < M_SIZES.length + 2; a++) {
      const size = a < M_SIZES.length ? M_SIZES[a] : a == M_SIZES.length ? 288 : 4096;
      const eps: f32 = a & 1 ? 1e-5 : 1e-6;
      const x = alloc(4 * size), g = alloc(4 * size), o1 = alloc(4 * size), o2 = alloc(4 * size), o3 = alloc(4 * size);
      fillUniform(x, size, 3);
      fillUniform(g, size, 2);
      rmsnorm(o1, x, g, size, eps);
      rmsnorm_ref(o2, x, g, size, eps);
      copyF32(o3, x, size);
      rmsnorm(o3, o3, g, size, eps); // in place
      const name = "size=" + size.toString();
      expect<i32>(firstDiff(o1, o2, size)).toBe(-1, name);
      expect<i32>(firstDiff(o1, o3, size)).toBe(-1, name + " in place");
      let ss: f64 = 0;
      for (let i = 0; i < size; i++) ss += <f64>f32At(x, i) * <f64>f32At(x, i);
      const inv = 1 / Math.sqrt(ss / <f64>size + <f64>eps);
      let bad = 0;
      for (let i = 0; i < size; i++) {
        const want = <f64>f32At(x, i) * inv * <f64>f32At(g, i);
        if (!(Math.abs(<f64>f32At(o1, i) - want) <= RMS_ERR * Math.abs(want))) bad++;
      }
      expect<i32>(bad).toBe(0, name);
      free(x); free(g); free(o1); free(o2); free(o3);
    }
  });

  test("all-zero input gives zeros (eps keeps it finite)", () => {
    const x = alloc(4 * 17), g = alloc(4 * 17), o = alloc(4 * 17);
    memory.fill(x, 0, 4 * 17);
    fillUniform(g, 17, 1);
    rmsnorm(o, x, g, 17, 1e-5);
    let nonzero = 0;
    for (let i = 0; i < 17; i++) if (f32At(o, i) != 0) nonzero++;
    expect<i32>(nonzero).toBe(0);
    free(x); free(g); free(o);
  });
});
