// Grouped-query attention for one query position over a layer's KV cache, and softmax.
//
// Per query head h (kv head h / (n_heads / n_kv_heads)): scores_t = q_h·k_t / sqrt(head_dim)
// for t < n_pos, p = softmax(scores) (max subtracted), out_h = Σ_t p_t v_t. The caller applies
// the causal mask by passing n_pos = pos + 1. Cache rows are (n_pos_max, n_kv_heads·head_dim),
// one per position, f32 or f16. att (n_heads, n_pos) is scratch and holds the probabilities
// afterwards. The attention_heads variants compute heads [h0, h1) only, with head h's scores at
// att + h·att_stride floats, so threads can split heads (and batched prefill can give each head a
// row of the context's length); a head's result is the same bits as in attention. Dot products and sums are f32 with 4-lane partial sums (the _ref kernels sum
// sequentially); exp is vexp (act.ts, ≤ 2 ulp) in the fast kernels and Mathf.exp in the _ref.

import { vexp, sexp } from "./act";
import { f16_to_f32, f16x4_to_f32x4 } from "./f16";

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline
function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

export function softmax(x: usize, n: i32): void {
  // x f32 (n,) -> in place exp(x − max) / Σ, n ≥ 1
  let i = 0;
  let mx: f32 = load<f32>(x);
  if (n >= 4) {
    let vm = v128.load(x);
    for (i = 4; i + 4 <= n; i += 4) vm = f32x4.max(vm, v128.load(x + (<usize>i << 2)));
    mx = hmax(vm);
  } else {
    i = 1;
  }
  for (; i < n; i++) mx = max(mx, load<f32>(x + (<usize>i << 2)));
  const vmx = f32x4.splat(mx);
  let vs = f32x4.splat(0);
  for (i = 0; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const e = vexp(f32x4.sub(v128.load(x + o), vmx));
    v128.store(x + o, e);
    vs = f32x4.add(vs, e);
  }
  let s = hsum(vs);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const e = sexp(load<f32>(x + o) - mx);
    store<f32>(x + o, e);
    s += e;
  }
  const invs: f32 = 1 / s;
  const inv = f32x4.splat(invs);
  for (i = 0; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), inv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * invs);
  }
}

export function softmax_ref(x: usize, n: i32): void {
  // x f32 (n,) -> in place exp(x − max) / Σ, n ≥ 1
  let mx: f32 = load<f32>(x);
  for (let i = 1; i < n; i++) mx = max(mx, load<f32>(x + (<usize>i << 2)));
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const e = Mathf.exp(load<f32>(x + o) - mx);
    store<f32>(x + o, e);
    s += e;
  }
  const inv: f32 = 1 / s;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * inv);
  }
}

/** q·k over d floats, both f32. */
// @ts-ignore: decorator
@inline
function dot(q: usize, k: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const o = <usize>i << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(q + o), v128.load(k + o)));
  }
  let s = hsum(acc);
  for (; i < d; i++) s += load<f32>(q + (<usize>i << 2)) * load<f32>(k + (<usize>i << 2));
  return s;
}

/** q·k over d floats, k f16. */
// @ts-ignore: decorator
@inline
function dot_h(q: usize, k: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const kv = f16x4_to_f32x4(i32x4.extend_low_i16x8_u(v128.load64_zero(k + (<usize>i << 1))));
    acc = f32x4.add(acc, f32x4.mul(v128.load(q + (<usize>i << 2)), kv));
  }
  let s = hsum(acc);
  for (; i < d; i++) s += load<f32>(q + (<usize>i << 2)) * f16_to_f32(load<u16>(k + (<usize>i << 1)));
  return s;
}

/** out (d,) = Σ_t p_t v_t, v rows vstride bytes apart; f16 when half. */
// @ts-ignore: decorator
@inline
function weighted_sum(out: usize, p: usize, v: usize, vstride: usize, n_pos: i32, d: i32, half: bool): void {
  const esz: usize = half ? 2 : 4;
  let i = 0;
  // 16 outputs at a time in four registers, positions inner.
  for (; i + 16 <= d; i += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let vp = v + <usize>i * esz;
    for (let t = 0; t < n_pos; t++) {
      const pt = f32x4.splat(load<f32>(p + (<usize>t << 2)));
      if (half) {
        const h0 = v128.load(vp);
        const h1 = v128.load(vp, 16);
        a0 = f32x4.add(a0, f32x4.mul(pt, f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h0))));
        a1 = f32x4.add(a1, f32x4.mul(pt, f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h0))));
        a2 = f32x4.add(a2, f32x4.mul(pt, f16x4_to_f32x4(i32x4.extend_low_i16x8_u(h1))));
        a3 = f32x4.add(a3, f32x4.mul(pt, f16x4_to_f32x4(i32x4.extend_high_i16x8_u(h1))));
      } else {
        a0 = f32x4.add(a0, f32x4.mul(pt, v128.load(vp)));
        a1 = f32x4.add(a1, f32x4.mul(pt, v128.load(vp, 16)));
        a2 = f32x4.add(a2, f32x4.mul(pt, v128.load(vp, 32)));
        a3 = f32x4.add(a3, f32x4.mul(pt, v128.load(vp, 48)));
      }
      vp += vstride;
    }
    const o = out + (<usize>i << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; i < d; i++) {
    let s: f32 = 0;
    let vp = v + <usize>i * esz;
    for (let t = 0; t < n_pos; t++) {
      s += load<f32>(p + (<usize>t << 2)) * (half ? f16_to_f32(load<u16>(vp)) : load<f32>(vp));
      vp += vstride;
    }
    store<f32>(out + (<usize>i << 2), s);
  }
}

/** The whole attention, fast path; f16 caches when half. */
// @ts-ignore: decorator
@inline
function attend(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32, half: bool): void {
  const group = n_heads / n_kv_heads;
  const esz: usize = half ? 2 : 4;
  const rowStride = <usize>(n_kv_heads * head_dim) * esz;
  const scale = <f32>(1.0 / Math.sqrt(<f64>head_dim));
  for (let h = h0; h < h1; h++) {
    const kvOff = <usize>((h / group) * head_dim) * esz;
    const qh = q + <usize>(h * head_dim) * 4;
    const ah = att + <usize>h * (<usize>att_stride << 2);
    let kp = kcache + kvOff;
    for (let t = 0; t < n_pos; t++) {
      store<f32>(ah + (<usize>t << 2), (half ? dot_h(qh, kp, head_dim) : dot(qh, kp, head_dim)) * scale);
      kp += rowStride;
    }
    softmax(ah, n_pos);
    weighted_sum(out + <usize>(h * head_dim) * 4, ah, vcache + kvOff, rowStride, n_pos, head_dim, half);
  }
}

/** The whole attention, scalar reference; f16 caches when half. */
// @ts-ignore: decorator
@inline
function attend_ref(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32, half: bool): void {
  const group = n_heads / n_kv_heads;
  const esz: usize = half ? 2 : 4;
  const rowStride = <usize>(n_kv_heads * head_dim) * esz;
  const scale = <f32>(1.0 / Math.sqrt(<f64>head_dim));
  for (let h = h0; h < h1; h++) {
    const kvOff = <usize>((h / group) * head_dim) * esz;
    const qh = q + <usize>(h * head_dim) * 4;
    const ah = att + <usize>h * (<usize>att_stride << 2);
    for (let t = 0; t < n_pos; t++) {
      const kp = kcache + <usize>t * rowStride + kvOff;
      let s: f32 = 0;
      for (let i = 0; i < head_dim; i++) {
        const k = half ? f16_to_f32(load<u16>(kp + (<usize>i << 1))) : load<f32>(kp + (<usize>i << 2));
        s += load<f32>(qh + (<usize>i << 2)) * k;
      }
      store<f32>(ah + (<usize>t << 2), s * scale);
    }
    softmax_ref(ah, n_pos);
    const oh = out + <usize>(h * head_dim) * 4;
    for (let i = 0; i < head_dim; i++) store<f32>(oh + (<usize>i << 2), 0);
    for (let t = 0; t < n_pos; t++) {
      const pt = load<f32>(ah + (<usize>t << 2));
      const vp = vcache + <usize>t * rowStride + kvOff;
      for (let i = 0; i < head_dim; i++) {
        const v = half ? f16_to_f32(load<u16>(vp + (<usize>i << 1))) : load<f32>(vp + (<usize>i << 2));
        store<f32>(oh + (<usize>i << 2), load<f32>(oh + (<usize>i << 2)) + pt * v);
      }
    }
  }
}

export function attention(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f32 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, n_pos) scratch
  // -> out f32 (n_heads, head_dim); positions 0 .. n_pos − 1 are attended (n_pos ≥ 1)
  attend(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, 0, n_heads, n_pos, false);
}

export function attention_ref(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f32 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, n_pos) scratch
  // -> out f32 (n_heads, head_dim); positions 0 .. n_pos − 1 are attended (n_pos ≥ 1)
  attend_ref(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, 0, n_heads, n_pos, false);
}

export function attention_f16kv(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f16 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, n_pos) scratch
  // -> out f32 (n_heads, head_dim); positions 0 .. n_pos − 1 are attended (n_pos ≥ 1)
  attend(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, 0, n_heads, n_pos, true);
}

export function attention_f16kv_ref(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f16 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, n_pos) scratch
  // -> out f32 (n_heads, head_dim); positions 0 .. n_pos − 1 are attended (n_pos ≥ 1)
  attend_ref(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, 0, n_heads, n_pos, true);
}

export function attention_heads(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f32 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, att_stride) scratch
  // -> out f32 (n_heads, head_dim), heads [h0, h1) written; positions 0 .. n_pos − 1 attended (1 ≤ n_pos ≤ att_stride)
  attend(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, h0, h1, att_stride, false);
}

export function attention_heads_ref(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f32 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, att_stride) scratch
  // -> out f32 (n_heads, head_dim), heads [h0, h1) written; positions 0 .. n_pos − 1 attended (1 ≤ n_pos ≤ att_stride)
  attend_ref(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, h0, h1, att_stride, false);
}

export function attention_heads_f16kv(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f16 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, att_stride) scratch
  // -> out f32 (n_heads, head_dim), heads [h0, h1) written; positions 0 .. n_pos − 1 attended (1 ≤ n_pos ≤ att_stride)
  attend(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, h0, h1, att_stride, true);
}

export function attention_heads_f16kv_ref(out: usize, q: usize, kcache: usize, vcache: usize, att: usize,
  n_heads: i32, n_kv_heads: i32, head_dim: i32, n_pos: i32, h0: i32, h1: i32, att_stride: i32): void {
  // q f32 (n_heads, head_dim), kcache/vcache f16 (n_pos_max, n_kv_heads·head_dim), att f32 (n_heads, att_stride) scratch
  // -> out f32 (n_heads, head_dim), heads [h0, h1) written; positions 0 .. n_pos − 1 attended (1 ≤ n_pos ≤ att_stride)
  attend_ref(out, q, kcache, vcache, att, n_heads, n_kv_heads, head_dim, n_pos, h0, h1, att_stride, true);
}
