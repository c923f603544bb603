// Rotary position embedding, Hugging Face rotate_half convention (the order of q/k rows in our
// files, docs/format.md): within each head of size d, the pair (t, t + d/2), t < d/2, is the
// complex number x_t + i·x_{t+d/2} multiplied by e^{i·pos·θ^(−2t/d)}:
//     x_t'       = x_t·cos − x_{t+d/2}·sin
//     x_{t+d/2}' = x_t·sin + x_{t+d/2}·cos
// The angle, cos and sin are computed in f64 (Math.pow/cos/sin: AssemblyScript's musl ports,
// < 1 ulp) and rounded to f32 once; the rotation itself is f32, like transformers'
// apply_rotary_pos_emb. (transformers computes inv_freq and the angle in f32, so at large
// positions its angles differ from these by up to ~pos·2^-24 rad.)
//
// rope computes its own cos/sin (d/2 of each per call); rope_table + rope_apply let the host
// compute them once per position and reuse them for q and k of every layer.

/** The rotation angle of pair t at position pos: pos·θ^(−2t/d) radians, f64. */
// @ts-ignore: decorator
@inline
function angle(t: i32, head_dim: i32, pos: i32, theta: f64): f64 {
  return <f64>pos * Math.pow(theta, -2.0 * <f64>t / <f64>head_dim);
}

export function rope(x: usize, n_heads: i32, head_dim: i32, pos: i32, theta: f64): void {
  // x f32 (n_heads, head_dim), rotated in place for position pos
  const half = head_dim >> 1;
  const hstride = <usize>head_dim << 2;
  for (let t = 0; t < half; t++) {
    const a = angle(t, head_dim, pos, theta);
    const c = <f32>Math.cos(a);
    const s = <f32>Math.sin(a);
    let p = x + (<usize>t << 2);
    for (let h = 0; h < n_heads; h++) {
      const x0 = load<f32>(p);
      const x1 = load<f32>(p + (<usize>half << 2));
      store<f32>(p, x0 * c - x1 * s);
      store<f32>(p + (<usize>half << 2), x0 * s + x1 * c);
      p += hstride;
    }
  }
}

export function rope_table(cos_out: usize, sin_out: usize, head_dim: i32, pos: i32, theta: f64): void {
  // -> cos_out f32 (head_dim/2,), sin_out f32 (head_dim/2,) for position pos (same values rope uses)
  const half = head_dim >> 1;
  for (let t = 0; t < half; t++) {
    const a = angle(t, head_dim, pos, theta);
    store<f32>(cos_out + (<usize>t << 2), <f32>Math.cos(a));
    store<f32>(sin_out + (<usize>t << 2), <f32>Math.sin(a));
  }
}

/** Scalar rotation of pairs t0 .. t1−1 of one head at p: the SIMD loop's tail and the whole _ref. */
// @ts-ignore: decorator
@inline function rotate_pairs(p: usize, hoff: usize, cos: usize, sin: usize, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const o = <usize>t << 2;
    const x0 = load<f32>(p + o);
    const x1 = load<f32>(p + hoff + o);
    const c = load<f32>(cos + o);
    const s = load<f32>(sin + o);
    store<f32>(p + o, x0 * c - x1 * s);
    store<f32>(p + hoff + o, x0 * s + x1 * c);
  }
}

export function rope_apply(x: usize, cos: usize, sin: usize, n_heads: i32, head_dim: i32): void {
  // x f32 (n_heads, head_dim) rotated in place, cos/sin f32 (head_dim/2,) from rope_table
  const half = head_dim >> 1;
  const hoff = <usize>half << 2;
  for (let h = 0; h < n_heads; h++) {
    const p = x + <usize>h * (<usize>head_dim << 2);
    let t = 0;
    for (; t + 4 <= half; t += 4) {
      const o = <usize>t << 2;
      const x0 = v128.load(p + o);
      const x1 = v128.load(p + hoff + o);
      const c = v128.load(cos + o);
      const s = v128.load(sin + o);
      v128.store(p + o, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
      v128.store(p + hoff + o, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
    }
    rotate_pairs(p, hoff, cos, sin, t, half);
  }
}

export function rope_apply_ref(x: usize, cos: usize, sin: usize, n_heads: i32, head_dim: i32): void {
  // x f32 (n_heads, head_dim) rotated in place, cos/sin f32 (head_dim/2,) from rope_table
  const half = head_dim >> 1;
  const hoff = <usize>half << 2;
  for (let h = 0; h < n_heads; h++) {
    rotate_pairs(x + <usize>h * (<usize>head_dim << 2), hoff, cos, sin, 0, half);
  }
}
