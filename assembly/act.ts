// Elementwise kernels: SwiGLU's silu(gate)·up, the residual add, and the f32x4 exp they and
// softmax (attention.ts) use.
//
// exp: Cephes expf (S. L. Moshier, Cephes Math Library, public domain), vectorized:
// n = round(x·log2 e), r = x − n·ln 2 in two parts (Cody-Waite: n·LN2_HI is exact),
// e^r ≈ 1 + r + r²·P(r) with Cephes' degree-5 minimax P on |r| ≤ ln2/2, then times 2^n as two
// exponent-bit scales 2^(n>>1)·2^(n−(n>>1)) so that n = 128 (x up to 88.72) and subnormal results
// (x down to −103.9) need no special case. Accuracy against f64 Math.exp: 0.97 ulp at worst on
// a sweep of [−87, 88.7] in steps of 0.001; test/assembly/act.spec.ts asserts ≤ 2 ulp
// (EXP_MAX_ULP) there and on random arguments. x ≥ 88.7229 gives +inf, x ≤ −104 gives 0, NaN
// gives NaN; subnormal results (x < −87.3) are within 2^-149 absolute.
// The _ref twins use Mathf.exp (AssemblyScript's port of musl/ARM expf: 0.502 ulp).

/** ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n·LN2_HI is exact for |n| < 2^15. */
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const LOG2E: f32 = 1.44269504088896341;
/** Range-reduction clamp: e^89 already overflows, e^-110 already rounds to 0; n stays in [−159, 129]. */
const EXP_MAX_ARG: f32 = 89.0;
const EXP_MIN_ARG: f32 = -110.0;

/** e^x for four lanes, within 2 ulp (see the file header). */
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(EXP_MAX_ARG)), f32x4.splat(EXP_MIN_ARG));
  const fn = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  let r = f32x4.sub(xc, f32x4.mul(fn, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fn, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const n = i32x4.trunc_sat_f32x4_s(fn); // NaN -> 0, and p is NaN
  const n1 = i32x4.shr_s(n, 1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(n, n1), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** Scalar form of vexp (same operations, same results), for SIMD tails. */
// @ts-ignore: decorator
@inline
export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

export function exp_f32(out: usize, x: usize, n: i32): void {
  // x f32 (n,) -> out f32 (n,) = e^x, vexp accuracy (exported for the accuracy test and the bench)
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), vexp(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), sexp(load<f32>(x + (<usize>i << 2))));
}

export function swiglu(out: usize, gate: usize, up: usize, n: i32): void {
  // gate f32 (n,), up f32 (n,) -> out f32 (n,) = silu(gate)·up = gate / (1 + e^−gate) · up; out may alias gate or up
  let i = 0;
  const one = f32x4.splat(1);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const s = f32x4.div(g, f32x4.add(one, vexp(f32x4.neg(g))));
    v128.store(out + o, f32x4.mul(s, v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, g / (1 + sexp(-g)) * load<f32>(up + o));
  }
}

export function swiglu_ref(out: usize, gate: usize, up: usize, n: i32): void {
  // gate f32 (n,), up f32 (n,) -> out f32 (n,) = silu(gate)·up = gate / (1 + e^−gate) · up; out may alias gate or up
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, g / (1 + Mathf.exp(-g)) * load<f32>(up + o));
  }
}

export function add(out: usize, a: usize, b: usize, n: i32): void {
  // a f32 (n,), b f32 (n,) -> out f32 (n,) = a + b; out may alias a or b (residual add)
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function add_ref(out: usize, a: usize, b: usize, n: i32): void {
  // a f32 (n,), b f32 (n,) -> out f32 (n,) = a + b; out may alias a or b (residual add)
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}
