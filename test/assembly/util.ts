// Helpers shared by the kernel specs: deterministic random data, scratch memory, error bounds.
// Not a spec itself (as-pect runs *.spec.ts only).

/** Unit roundoff of f32 (round to nearest): 2^-24. */
export const U: f64 = 5.9604644775390625e-8;

/**
 * gamma_k = k·u / (1 − k·u): recursive f32 summation of k terms (or a dot product of length k)
 * is within gamma_k · Σ|terms| of the exact result (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., §3.1 and eq. 4.4), whatever the order of the additions.
 */
export function gamma(k: i32): f64 {
  const ku = <f64>k * U;
  return ku / (1 - ku);
}

/** Input lengths that hit every SIMD tail (style.md practice 5). */
export const M_SIZES: StaticArray<i32> = [1, 3, 4, 5, 15, 16, 17, 31, 33, 63, 64, 65, 101, 127, 129];
export const N_SIZES: StaticArray<i32> = [1, 2, 3, 7, 17];

// xorshift32 (Marsaglia 2003): deterministic across runs, so a failure reproduces.
let state: u32 = 0x9e3779b9;

export function seed(s: u32): void {
  state = s == 0 ? 1 : s;
}

export function nextU32(): u32 {
  let x = state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  state = x;
  return x;
}

/** Uniform in [−1, 1), 24 random bits. */
export function uniform(): f32 {
  return <f32>(<f64>(nextU32() >> 8) * (1.0 / 8388608.0) - 1.0);
}

/** Uniform integer in [0, n). */
export function below(n: i32): i32 {
  return <i32>(nextU32() % <u32>n);
}

/** Scratch memory from the test runtime's allocator (the kernels never allocate). */
export function alloc(bytes: i32): usize {
  return heap.alloc(<usize>max(bytes, 16));
}

export function free(p: usize): void {
  heap.free(p);
}

export function fillUniform(p: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), uniform() * scale);
}

export function fillBytes(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>nextU32());
}

export function fillBits(p: usize, n: i32, bits: u32): void {
  for (let i = 0; i < n; i++) store<u32>(p + (<usize>i << 2), bits);
}

export function copyF32(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/** Index of the first 32-bit word that differs, or −1. */
export function firstDiff(a: usize, b: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return i;
  }
  return -1;
}

export function f32At(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

export function f64At(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}

/** Bits of a NaN no kernel produces: marks outputs that must stay untouched. */
export const SENTINEL: u32 = 0x7fc0dead;
