// softmax and grouped-query attention against direct f64 computations.

import {
  softmax, softmax_ref, attention, attention_ref, attention_f16kv, attention_f16kv_ref,
  attention_heads, attention_heads_ref, attention_heads_f16kv, attention_heads_f16kv_ref,
} from "../../assembly/attention";
import { f16_bits_to_f32, f32_to_f16_bits } from "../../assembly/f16";
import { M_SIZES, U, alloc, copyF32, f32At, fillUniform, free, gamma, seed, uniform } from "./util";

/** vexp's relative error (act.ts: ≤ 2 ulp, an ulp ≤ 2u relative); Mathf.exp's is ≤ 1.004u. */
const EXP_REL: f64 = 4 * U;

// Softmax error model (first order). d_i = x_i − max is rounded (|error| ≤ u·|d_i|; exact only
// when Sterbenz applies), so e_i = exp(d_i) carries relative error δ_i = EXP_REL + u·|d_i|. The
// f32 sum s of positive terms carries δ_s = Σ p_i δ_i + gamma_n, and 1/s and e_i·(1/s) one
// rounding each: p_i is within δ_i + δ_s + 2u relative, Σ p_i within 2δ_s + 2u of 1.
// SOFTMAX_SLACK = 1.5 covers the second-order terms.
const SOFTMAX_SLACK: f64 = 1.5;

describe("softmax", () => {
  test("sums to 1 and equals exp(x - max)/Σ (f64) within the error model, fast and _ref", () => {
    seed(61);
    for (let a = 0; a < M_SIZES.length + 1; a++) {
      const n = a < M_SIZES.length ? M_SIZES[a] : 4096;
      const x = alloc(4 * n), p1 = alloc(4 * n), p2 = alloc(4 * n);
      fillUniform(x, n, 20);
      copyF32(p1, x, n);
      copyF32(p2, x, n);
      softmax(p1, n);
      softmax_ref(p2, n);
      let mx: f64 = -Infinity;
      for (let i = 0; i < n; i++) mx = Math.max(mx, <f64>f32At(x, i));
      let s: f64 = 0;
      for (let i = 0; i < n; i++) s += Math.exp(<f64>f32At(x, i) - mx);
      let ds = gamma(n);
      for (let i = 0; i < n; i++) {
        const d = <f64>f32At(x, i) - mx;
        ds += Math.exp(d) / s * (EXP_REL + U * Math.abs(d));
      }
      let sum1: f64 = 0, sum2: f64 = 0, bad = 0;
      for (let i = 0; i < n; i++) {
        const d = <f64>f32At(x, i) - mx;
        const want = Math.exp(d) / s;
        const tol = SOFTMAX_SLACK * (EXP_REL + U * Math.abs(d) + ds + 2 * U);
        const q1 = <f64>f32At(p1, i), q2 = <f64>f32At(p2, i);
        sum1 += q1;
        sum2 += q2;
        // + 2^-149: results below 2^-126 are subnormal (vexp flushes or rounds them coarsely)
        if (!(Math.abs(q1 - want) <= tol * want + 1.4e-45 + (want < 1.2e-38 ? 1.2e-38 : 0))) bad++;
        if (!(Math.abs(q2 - want) <= tol * want + 1.4e-45 + (want < 1.2e-38 ? 1.2e-38 : 0))) bad++;
      }
      const name = "n=" + n.toString();
      const sumTol = SOFTMAX_SLACK * (2 * ds + 2 * U);
      expect<i32>(bad).toBe(0, name);
      expect<f64>(Math.abs(sum1 - 1)).toBeLessThanOrEqual(sumTol, name + " fast sum");
      expect<f64>(Math.abs(sum2 - 1)).toBeLessThanOrEqual(sumTol, name + " ref sum");
    }
  });

  test("one element gives exactly 1; equal elements give exactly 1/n for n a power of 2", () => {
    const x = alloc(4 * 64);
    store<f32>(x, -3.5);
    softmax(x, 1);
    expect<f32>(load<f32>(x)).toBe(1);
    for (let i = 0; i < 64; i++) store<f32>(x + (<usize>i << 2), 7.25);
    softmax(x, 64);
    let bad = 0;
    for (let i = 0; i < 64; i++) if (f32At(x, i) != <f32>(1.0 / 64)) bad++;
    expect<i32>(bad).toBe(0);
  });
});

/** Everything one attention case needs. */
class Case {
  nh: i32; nkv: i32; hd: i32; npos: i32; half: bool;
  q: usize; k: usize; v: usize; att: usize; out: usize; outRef: usize;
  constructor(nh: i32, nkv: i32, hd: i32, npos: i32, half: bool) {
    this.nh = nh; this.nkv = nkv; this.hd = hd; this.npos = npos; this.half = half;
    const rows = npos + 3; // rows past n_pos hold poison: the kernels must not read them
    const row = nkv * hd, esz = half ? 2 : 4;
    this.q = alloc(4 * nh * hd);
    this.k = alloc(esz * rows * row);
    this.v = alloc(esz * rows * row);
    this.att = alloc(4 * nh * npos);
    this.out = alloc(4 * nh * hd);
    this.outRef = alloc(4 * nh * hd);
    fillUniform(this.q, nh * hd, 1.5);
    for (let i = 0; i < rows * row; i++) {
      const poison = i >= npos * row;
      const kv: f32 = poison ? NaN : uniform() * 1.5;
      const vv: f32 = poison ? NaN : uniform() * 2;
      if (half) {
        store<u16>(this.k + (<usize>i << 1), <u16>f32_to_f16_bits(kv));
        store<u16>(this.v + (<usize>i << 1), <u16>f32_to_f16_bits(vv));
      } else {
        store<f32>(this.k + (<usize>i << 2), kv);
        store<f32>(this.v + (<usize>i << 2), vv);
      }
    }
  }
  kAt(t: i32, kvh: i32, i: i32): f64 {
    const j = t * this.nkv * this.hd + kvh * this.hd + i;
    return this.half ? <f64>f16_bits_to_f32(<i32>load<u16>(this.k + (<usize>j << 1))) : <f64>f32At(this.k, j);
  }
  vAt(t: i32, kvh: i32, i: i32): f64 {
    const j = t * this.nkv * this.hd + kvh * this.hd + i;
    return this.half ? <f64>f16_bits_to_f32(<i32>load<u16>(this.v + (<usize>j << 1))) : <f64>f32At(this.v, j);
  }
  /**
   * Entries of `got` outside the bound. A score's f32 error is at most
   * ds = (gamma_hd·Σ|q_i k_i| + 2u·|q·k|)/sqrt(hd) (dot product, the scale and its product);
   * through softmax a probability's relative error is δ_t = 2·max ds + EXP_REL + u·|s_t − max|
   * (the softmax model above, with the score errors entering the exponent), the normalizer's
   * δ_z = Σ p_t δ_t + gamma_npos, and Σ_t p_t v_t adds gamma_npos:
   * |err| ≤ Σ_t p_t |v_t| (δ_t + δ_z + 2u + gamma_npos), times SOFTMAX_SLACK.
   */
  check(got: usize): i32 {
    const group = this.nh / this.nkv, hd = this.hd, npos = this.npos;
    const sc = 1 / Math.sqrt(<f64>hd);
    const s = alloc(8 * npos);
    let bad = 0;
    for (let h = 0; h < this.nh; h++) {
      const kvh = h / group;
      let mx: f64 = -Infinity, maxDs: f64 = 0;
      for (let t = 0; t < npos; t++) {
        let dot: f64 = 0, mag: f64 = 0;
        for (let i = 0; i < hd; i++) {
          const pr = <f64>f32At(this.q, h * hd + i) * this.kAt(t, kvh, i);
          dot += pr;
          mag += Math.abs(pr);
        }
        store<f64>(s + (<usize>t << 3), dot * sc);
        mx = Math.max(mx, dot * sc);
        maxDs = Math.max(maxDs, (gamma(hd) * mag + 2 * U * Math.abs(dot)) * sc);
      }
      let z: f64 = 0;
      for (let t = 0; t < npos; t++) z += Math.exp(load<f64>(s + (<usize>t << 3)) - mx);
      let dz = gamma(npos);
      for (let t = 0; t < npos; t++) {
        const d = load<f64>(s + (<usize>t << 3)) - mx;
        dz += Math.exp(d) / z * (2 * maxDs + EXP_REL + U * Math.abs(d));
      }
      for (let i = 0; i < hd; i++) {
        let want: f64 = 0, tol: f64 = 0;
        for (let t = 0; t < npos; t++) {
          const d = load<f64>(s + (<usize>t << 3)) - mx;
          const p = Math.exp(d) / z;
          const v = this.vAt(t, kvh, i);
          want += p * v;
          tol += p * Math.abs(v) * (2 * maxDs + EXP_REL + U * Math.abs(d) + dz + 2 * U + gamma(npos));
        }
        if (!(Math.abs(<f64>f32At(got, h * hd + i) - want) <= SOFTMAX_SLACK * tol)) bad++;
      }
    }
    free(s);
    return bad;
  }
  name(): string {
    return "heads=" + this.nh.toString() + "/" + this.nkv.toString() + " head_dim=" + this.hd.toString() +
      " n_pos=" + this.npos.toString() + (this.half ? " f16" : " f32");
  }
  dispose(): void {
    free(this.q); free(this.k); free(this.v); free(this.att); free(this.out); free(this.outRef);
  }
}

function runAttention(half: bool): void {
  const heads: StaticArray<i32> = [1, 1, 4, 4, 4, 2, 4, 1, 6, 2];
  const dims: StaticArray<i32> = [1, 4, 7, 16, 20, 64];
  const poss: StaticArray<i32> = [1, 2, 5, 17, 33];
  for (let a = 0; a < heads.length; a += 2) {
    for (let b = 0; b < dims.length; b++) {
      for (let c = 0; c < poss.length; c++) {
        const cs = new Case(heads[a], heads[a + 1], dims[b], poss[c], half);
        if (half) {
          attention_f16kv(cs.out, cs.q, cs.k, cs.v, cs.att, cs.nh, cs.nkv, cs.hd, cs.npos);
          attention_f16kv_ref(cs.outRef, cs.q, cs.k, cs.v, cs.att, cs.nh, cs.nkv, cs.hd, cs.npos);
        } else {
          attention(cs.out, cs.q, cs.k, cs.v, cs.att, cs.nh, cs.nkv, cs.hd, cs.npos);
          attention_ref(cs.outRef, cs.q, cs.k, cs.v, cs.att, cs.nh, cs.nkv, cs.hd, cs.npos);
        }
        expect<i32>(cs.check(cs.out)).toBe(0, cs.name() + " fast");
        expect<i32>(cs.check(cs.outRef)).toBe(0, cs.name() + " ref");
        cs.dispose();
      }
    }
  }
}

describe("attention", () => {
  test("f32 cache: fast and _ref equal the f64 computation (GQA, causal n_pos)", () => {
    seed(62);
    runAttention(false);
  });

  test("f16 cache: fast and _ref equal the f64 computation on the f16 values", () => {
    seed(63);
    runAttention(true);
  });

  test("att holds each head's probabilities afterwards", () => {
    seed(64);
    const cs = new Case(4, 2, 16, 9, false);
    attention(cs.out, cs.q, cs.k, cs.v, cs.att, 4, 2, 16, 9);
    let bad = 0;
    for (let h = 0; h < 4; h++) {
      let s: f64 = 0;
      for (let t = 0; t < 9; t++) s += <f64>f32At(cs.att, h * 9 + t);
      // The model above with |s_t − max| ≤ 2·16·1.5²/sqrt(16) = 18 < 20 (|q_i|, |k_i| ≤ 1.5).
      if (!(Math.abs(s - 1) <= SOFTMAX_SLACK * (2 * (EXP_REL + 20 * U + gamma(9)) + 2 * U))) bad++;
    }
    expect<i32>(bad).toBe(0);
    cs.dispose();
  });
});

describe("attention_heads", () => {
  test("one head at a time, any score stride: the same bits as attention (fast and _ref, f32 and f16 caches)", () => {
    seed(65);
    let bad = 0;
    for (let half = 0; half < 2; half++) {
      const cs = new Case(6, 2, 20, 17, half == 1);
      const stride = 23; // > n_pos: rows of a longer context, as batched prefill uses
      const att2 = alloc(4 * 6 * stride);
      const got = alloc(4 * 6 * 20), gotRef = alloc(4 * 6 * 20);
      if (half == 1) {
        attention_f16kv(cs.out, cs.q, cs.k, cs.v, cs.att, 6, 2, 20, 17);
        attention_f16kv_ref(cs.outRef, cs.q, cs.k, cs.v, cs.att, 6, 2, 20, 17);
      } else {
        attention(cs.out, cs.q, cs.k, cs.v, cs.att, 6, 2, 20, 17);
        attention_ref(cs.outRef, cs.q, cs.k, cs.v, cs.att, 6, 2, 20, 17);
      }
      for (let h = 5; h >= 0; h--) {
        if (half == 1) {
          attention_heads_f16kv(got, cs.q, cs.k, cs.v, att2, 6, 2, 20, 17, h, h + 1, stride);
          attention_heads_f16kv_ref(gotRef, cs.q, cs.k, cs.v, att2, 6, 2, 20, 17, h, h + 1, stride);
        } else {
          attention_heads(got, cs.q, cs.k, cs.v, att2, 6, 2, 20, 17, h, h + 1, stride);
          attention_heads_ref(gotRef, cs.q, cs.k, cs.v, att2, 6, 2, 20, 17, h, h + 1, stride);
        }
      }
      for (let i = 0; i < 6 * 20; i++) {
        if (reinterpret<u32>(f32At(got, i)) != reinterpret<u32>(f32At(cs.out, i))) bad++;
        if (reinterpret<u32>(f32At(gotRef, i)) != reinterpret<u32>(f32At(cs.outRef, i))) bad++;
      }
      free(att2); free(got); free(gotRef);
      cs.dispose();
    }
    expect<i32>(bad).toBe(0);
  });
});
