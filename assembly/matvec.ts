// Float linear layers y = W x for the layers a model keeps in float (f32 or f16 weights):
// `lm_head` with --keep-lm-head-float, and every linear of an S = 0 file.
//
// W is row-major (n_out, n_in) like nn.Linear.weight. A call computes rows [r0, r1) only, so
// threads can split rows. The fast kernels sum in f32 with 4 lanes x 2 vectors = 8 partial sums
// per row (pairwise-like, usually more accurate than the _ref's sequential sum), so they differ
// from _ref by rounding only. Batched versions read each weight row once from memory for all T
// activation rows (the row stays in L1 while it is reused) and sum each row in the same order as
// the matvec, so a vector's result is the same bits alone or in any batch.

import { f16_to_f32, f16x4_to_f32x4 } from "./f16";

/** Σ_j w[j]·x[j], j < n, f32 weights. */
// @ts-ignore: decorator
@inline
function dot_f32(w: usize, x: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(w + o), v128.load(x + o)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(w + o, 16), v128.load(x + o, 16)));
  }
  acc0 = f32x4.add(acc0, acc1);
  let s = (f32x4.extract_lane(acc0, 0) + f32x4.extract_lane(acc0, 1)) +
    (f32x4.extract_lane(acc0, 2) + f32x4.extract_lane(acc0, 3));
  for (; j < n; j++) s += load<f32>(w + (<usize>j << 2)) * load<f32>(x + (<usize>j << 2));
  return s;
}

/** Σ_j w[j]·x[j], j < n, f16 weights. */
// @ts-ignore: decorator
@inline
function dot_f16(w: usize, x: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const h = v128.load(w + (<usize>j << 1));
    const xo = x + (<usize>j << 2);
    acc0 = f32x4.add(acc0, f32x4.mul(f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h)), v128.load(xo)));
    acc1 = f32x4.add(acc1, f32x4.mul(f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h)), v128.load(xo, 16)));
  }
  acc0 = f32x4.add(acc0, acc1);
  let s = (f32x4.extract_lane(acc0, 0) + f32x4.extract_lane(acc0, 1)) +
    (f32x4.extract_lane(acc0, 2) + f32x4.extract_lane(acc0, 3));
  for (; j < n; j++) s += f16_to_f32(load<u16>(w + (<usize>j << 1))) * load<f32>(x + (<usize>j << 2));
  return s;
}

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

export function matvec_f32(y: usize, x: usize, w: usize, n_out: i32, n_in: i32, r0: i32, r1: i32): void {
  // w f32 (n_out, n_in) row-major, x f32 (n_in,) -> y f32 (n_out,), rows [r0, r1) written
  const rowBytes = <usize>n_in << 2;
  for (let r = r0; r < r1; r++) {
    store<f32>(y + (<usize>r << 2), dot_f32(w + <usize>r * rowBytes, x, n_in));
  }
}

export function matvec_f32_ref(y: usize, x: usize, w: usize, n_out: i32, n_in: i32, r0: i32, r1: i32): void {
  // w f32 (n_out, n_in) row-major, x f32 (n_in,) -> y f32 (n_out,), rows [r0, r1) written
  const rowBytes = <usize>n_in << 2;
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let s: f32 = 0;
    for (let j = 0; j < n_in; j++) s += load<f32>(wr + (<usize>j << 2)) * load<f32>(x + (<usize>j << 2));
    store<f32>(y + (<usize>r << 2), s);
  }
}

export function matvec_f16(y: usize, x: usize, w: usize, n_out: i32, n_in: i32, r0: i32, r1: i32): void {
  // w f16 (n_out, n_in) row-major, x f32 (n_in,) -> y f32 (n_out,), rows [r0, r1) written
  const rowBytes = <usize>n_in << 1;
  for (let r = r0; r < r1; r++) {
    store<f32>(y + (<usize>r << 2), dot_f16(w + <usize>r * rowBytes, x, n_in));
  }
}

export function matvec_f16_ref(y: usize, x: usize, w: usize, n_out: i32, n_in: i32, r0: i32, r1: i32): void {
  // w f16 (n_out, n_in) row-major, x f32 (n_in,) -> y f32 (n_out,), rows [r0, r1) written
  const rowBytes = <usize>n_in << 1;
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let s: f32 = 0;
    for (let j = 0; j < n_in; j++) s += f16_to_f32(load<u16>(wr + (<usize>j << 1))) * load<f32>(x + (<usize>j << 2));
    store<f32>(y + (<usize>r << 2), s);
  }
}

export function matmul_f32(Y: usize, X: usize, w: usize, n_out: i32, n_in: i32, T: i32, r0: i32, r1: i32): void {
  // w f32 (n_out, n_in) row-major, X f32 (T, n_in) -> Y f32 (T, n_out), columns [r0, r1) of every row written
  const rowBytes = <usize>n_in << 2;
  const xStride = <usize>n_in << 2;
  const yStride = <usize>n_out << 2;
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let t = 0;
    // Four activation rows share each weight load. Each row sums in dot_f32's order (two 4-lane
    // partial sums over 8 inputs a step, then the scalar tail), so a row's value is the same bits
    // as matvec_f32's whatever the batch holds.
    for (; t + 4 <= T; t += 4) {
      const x0 = X + <usize>t * xStride;
      const x1 = x0 + xStride;
      const x2 = x1 + xStride;
      const x3 = x2 + xStride;
      let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0), b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0), b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0), b3 = f32x4.splat(0);
      let j = 0;
      for (; j + 8 <= n_in; j += 8) {
        const o = <usize>j << 2;
        const wv = v128.load(wr + o), wu = v128.load(wr + o, 16);
        a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x0 + o)));
        b0 = f32x4.add(b0, f32x4.mul(wu, v128.load(x0 + o, 16)));
        a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(x1 + o)));
        b1 = f32x4.add(b1, f32x4.mul(wu, v128.load(x1 + o, 16)));
        a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(x2 + o)));
        b2 = f32x4.add(b2, f32x4.mul(wu, v128.load(x2 + o, 16)));
        a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(x3 + o)));
        b3 = f32x4.add(b3, f32x4.mul(wu, v128.load(x3 + o, 16)));
      }
      let s0 = hsum(f32x4.add(a0, b0));
      let s1 = hsum(f32x4.add(a1, b1));
      let s2 = hsum(f32x4.add(a2, b2));
      let s3 = hsum(f32x4.add(a3, b3));
      for (; j < n_in; j++) {
        const o = <usize>j << 2;
        const wj = load<f32>(wr + o);
        s0 += wj * load<f32>(x0 + o);
        s1 += wj * load<f32>(x1 + o);
        s2 += wj * load<f32>(x2 + o);
        s3 += wj * load<f32>(x3 + o);
      }
      const yo = Y + <usize>t * yStride + (<usize>r << 2);
      store<f32>(yo, s0);
      store<f32>(yo + yStride, s1);
      store<f32>(yo + 2 * yStride, s2);
      store<f32>(yo + 3 * yStride, s3);
    }
    for (; t < T; t++) {
      store<f32>(Y + <usize>t * yStride + (<usize>r << 2), dot_f32(wr, X + <usize>t * xStride, n_in));
    }
  }
}

export function matmul_f32_ref(Y: usize, X: usize, w: usize, n_out: i32, n_in: i32, T: i32, r0: i32, r1: i32): void {
  // w f32 (n_out, n_in) row-major, X f32 (T, n_in) -> Y f32 (T, n_out), columns [r0, r1) of every row written
  for (let t = 0; t < T; t++) {
    matvec_f32_ref(Y + <usize>t * (<usize>n_out << 2), X + <usize>t * (<usize>n_in << 2), w, n_out, n_in, r0, r1);
  }
}

export function matmul_f16(Y: usize, X: usize, w: usize, n_out: i32, n_in: i32, T: i32, r0: i32, r1: i32): void {
  // w f16 (n_out, n_in) row-major, X f32 (T, n_in) -> Y f32 (T, n_out), columns [r0, r1) of every row written
  const rowBytes = <usize>n_in << 1;
  const xStride = <usize>n_in << 2;
  const yStride = <usize>n_out << 2;
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let t = 0;
    // Four activation rows share each widened weight vector, each summed in dot_f16's order (so
    // the same bits as matvec_f16's).
    for (; t + 4 <= T; t += 4) {
      const x0 = X + <usize>t * xStride;
      const x1 = x0 + xStride;
      const x2 = x1 + xStride;
      const x3 = x2 + xStride;
      let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
      let a1 = f32x4.splat(0), b1 = f32x4.splat(0);
      let a2 = f32x4.splat(0), b2 = f32x4.splat(0);
      let a3 = f32x4.splat(0), b3 = f32x4.splat(0);
      let j = 0;
      for (; j + 8 <= n_in; j += 8) {
        const o = <usize>j << 2;
        const h = v128.load(wr + (<usize>j << 1));
        const wl = f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h));
        const wh = f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h));
        a0 = f32x4.add(a0, f32x4.mul(wl, v128.load(x0 + o)));
        b0 = f32x4.add(b0, f32x4.mul(wh, v128.load(x0 + o, 16)));
        a1 = f32x4.add(a1, f32x4.mul(wl, v128.load(x1 + o)));
        b1 = f32x4.add(b1, f32x4.mul(wh, v128.load(x1 + o, 16)));
        a2 = f32x4.add(a2, f32x4.mul(wl, v128.load(x2 + o)));
        b2 = f32x4.add(b2, f32x4.mul(wh, v128.load(x2 + o, 16)));
        a3 = f32x4.add(a3, f32x4.mul(wl, v128.load(x3 + o)));
        b3 = f32x4.add(b3, f32x4.mul(wh, v128.load(x3 + o, 16)));
      }
      let s0 = hsum(f32x4.add(a0, b0));
      let s1 = hsum(f32x4.add(a1, b1));
      let s2 = hsum(f32x4.add(a2, b2));
      let s3 = hsum(f32x4.add(a3, b3));
      for (; j < n_in; j++) {
        const o = <usize>j << 2;
        const wj = f16_to_f32(load<u16>(wr + (<usize>j << 1)));
        s0 += wj * load<f32>(x0 + o);
        s1 += wj * load<f32>(x1 + o);
        s2 += wj * load<f32>(x2 + o);
        s3 += wj * load<f32>(x3 + o);
      }
      const yo = Y + <usize>t * yStride + (<usize>r << 2);
      store<f32>(yo, s0);
      store<f32>(yo + yStride, s1);
      store<f32>(yo + 2 * yStride, s2);
      store<f32>(yo + 3 * yStride, s3);
    }
    for (; t < T; t++) {
      store<f32>(Y + <usize>t * yStride + (<usize>r << 2), dot_f16(wr, X + <usize>t * xStride, n_in));
    }
  }
}

export function matmul_f16_ref(Y: usize, X: usize, w: usize, n_out: i32, n_in: i32, T: i32, r0: i32, r1: i32): void {
  // w f16 (n_out, n_in) row-major, X f32 (T, n_in) -> Y f32 (T, n_out), columns [r0, r1) of every row written
  for (let t = 0; t < T; t++) {
    matvec_f16_ref(Y + <usize>t * (<usize>n_out << 2), X + <usize>t * (<usize>n_in << 2), w, n_out, n_in, r0, r1);
  }
}
