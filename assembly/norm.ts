// RMSNorm, LLaMA / Hugging Face LlamaRMSNorm: out = (x · 1/sqrt(mean(x²) + eps)) · g.
//
// The sum of squares is accumulated in f64 (exact for the products, |error| ≤ size·2^-53
// relative, far below f32 rounding), so the result does not depend on the summation order and
// the fast and _ref kernels agree bit for bit. inv = 1/sqrt(mean + eps) is rounded to f32 once;
// each output is then (x_i · inv) · g_i in f32, the order Hugging Face uses.

/** 1/sqrt(mean(x²) + eps) over size floats, f64 accumulation, rounded to f32. */
// @ts-ignore: decorator
@inline
function rmsInv(x: usize, size: i32, eps: f32): f32 {
  let ss: f64 = 0;
  for (let i = 0; i < size; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  return <f32>(1.0 / Math.sqrt(ss / <f64>size + <f64>eps));
}

export function rmsnorm(out: usize, x: usize, g: usize, size: i32, eps: f32): void {
  // x f32 (size,), g f32 (size,) gain -> out f32 (size,); out may equal x
  const inv = rmsInv(x, size, eps);
  const vinv = f32x4.splat(inv);
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), vinv), v128.load(g + o)));
  }
  for (; i < size; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * inv * load<f32>(g + o));
  }
}

export function rmsnorm_ref(out: usize, x: usize, g: usize, size: i32, eps: f32): void {
  // x f32 (size,), g f32 (size,) gain -> out f32 (size,); out may equal x
  const inv = rmsInv(x, size, eps);
  for (let i = 0; i < size; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * inv * load<f32>(g + o));
  }
}
