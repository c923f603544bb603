// PhaseQuant in bfloat16 arithmetic: the codes and scales the Fairy2i authors' inference path gives
// (`convert_to_inference_mode` on the model loaded in torch.bfloat16, as their README and eval
// scripts run it). The released Fairy2i-W2 was trained and evaluated on these codes, which differ
// from the float32 quantizer (./quantize.ts) in ~0.1 % of stage-1 and ~0.4 % of stage-2 codes.
//
// The rules, each one what torch 1.13 does on the CPU for a bfloat16 tensor (an op computes in
// float32 and rounds the result to bf16, round to nearest even: bf(x) below):
//  - input: every weight is a bf16 value; a float32 source is rounded to bf16 first (what loading
//    with torch_dtype=torch.bfloat16 does).
//  - split: U_re = bf(0.5 · bf(A11 + A22)), U_im = bf(0.5 · bf(A21 − A12)), W_re = bf(0.5 · bf(A11 − A22)),
//    W_im = bf(0.5 · bf(A12 + A21)); the float32 add of two bf16 values rounds once more to bf16.
//  - phase: the exact-angle sector rule of ../../docs (same comparison form as quantize.ts). torch
//    computes torch.angle of a complex64 in float32; on bf16 inputs that can only go wrong on exact
//    ties |re| = |im|, where the AVX2/AVX512 (SLEEF) atan2f codes re = im > 0 as +1 instead of +i and
//    glibc's scalar atan2f follows the exact rule. We follow the exact rule (the goldens, generated
//    with the angle taken in complex128, do too): it is what the authors' formula says and the
//    result does not depend on the machine.
//  - scale: torch's CPU bf16 mean = bf(bf(Σ|x|) / bf(count)): the sum is rounded to bf16 and so is
//    the count (2053 → 2048) before the float32 division. Σ|x| is accumulated in float64 and
//    rounded to float32 then bf16 (torch accumulates in float32 with its own order; the two agree on
//    every golden scale). A CUDA mean (float32 accumulation, one rounding) would differ in ~40 % of
//    scales; this is the CPU rule, the platform the goldens were made on.
//  - clamp: max(scale, bf(1e-6)). A scale with no entries is 0 before the clamp (torch's mean of an
//    empty tensor is NaN, which would poison the layer; such layers do not occur in real models).
//  - residual: e_{k} = bf(e_{k−1} − q_k), q_k = (±s_re, 0) or (0, ±s_im); subtracting the zero part
//    leaves e unchanged.
// Codes and scales go into the same file layout as the float32 path; the scales are bf16 values
// stored exactly as float32.

// The loop has the shape of quantizeLinear's (same sector table, same recompute-from-codes design);
// it is a separate function so the float32 path's hot loop pays nothing for the bf16 roundings.
import { SCALE_MIN, SECTOR, type QuantizedLinear } from './quantize.js';

const f = Math.fround;
const box = new Float32Array(1);
const bits = new Uint32Array(box.buffer);

/** Rounds a float32 value to the nearest bfloat16 (ties to even), returned as a number. NaN stays NaN. */
export function bf(x: number): number {
  box[0] = x;
  const u = bits[0];
  if ((u & 0x7f800000) === 0x7f800000) return box[0];
  bits[0] = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  return box[0];
}

/** bf16 value of the 1e-6 lower clamp (torch converts the clamp bound to the tensor's dtype). */
export const SCALE_MIN_BF16 = bf(SCALE_MIN);

/** A itself when every value is already bf16 (a BF16 source), else a copy rounded to bf16. */
function asBf16(A: Float32Array): Float32Array {
  const u = new Uint32Array(A.buffer, A.byteOffset, A.length);
  let low = 0;
  for (let i = 0; i < u.length; i++) low |= u[i] & 0xffff;
  return low === 0 ? A : A.map(bf);
}

/**
 * bf(0.5 · x) for a bf16 x: halving is exact, and stays a bf16 value, unless x is within a factor 2
 * of the smallest normal (then the float32 result may need rounding).
 */
function half(x: number): number {
  const h = 0.5 * x;
  return Math.abs(x) >= 2 ** -125 || h === 0 ? h : bf(h);
}

/** torch's CPU bf16 mean of |x| over `count` entries, then the clamp. */
function bf16Scale(sum: number, count: number): number {
  const mean = count ? bf(f(bf(f(sum)) / bf(f(count)))) : 0;
  return Math.max(mean, SCALE_MIN_BF16);
}

/**
 * quantizeLinear (same inputs and result shape) in the bf16 arithmetic above. Like the float32
 * fast path it keeps only A and the codes live: stage s recomputes each element's split value and
 * its residual through stages 1..s−1 from A, the codes and the scales, in the same bf16 operations.
 */
export function quantizeLinearBf16(A: Float32Array, rows: number, cols: number, stages: number): QuantizedLinear {
  if (rows % 2 || cols % 2) throw new Error(`quantizeLinearBf16: ${rows}x${cols} has an odd side`);
  const n = rows / 2, m = cols / 2, len = n * m;
  const codesU: Uint8Array[] = [], codesW: Uint8Array[] = [];
  const scales = new Float32Array(4 * stages);
  const dRe = new Float64Array(8 * stages), dIm = new Float64Array(8 * stages);
  A = asBf16(A);
  for (let s = 0; s < stages; s++) {
    const cu = new Uint8Array(len), cw = new Uint8Array(len);
    codesU.push(cu);
    codesW.push(cw);
    let uSumRe = 0, uSumIm = 0, uNIm = 0, wSumRe = 0, wSumIm = 0, wNIm = 0;
    for (let r = 0; r < n; r++) {
      const top = r * cols, bot = (r + n) * cols, row = r * m;
      for (let j = 0; j < m; j++) {
        const a11 = A[top + j], a12 = A[top + m + j], a21 = A[bot + j], a22 = A[bot + m + j];
        let ur = half(bf(f(a11 + a22))), ui = half(bf(f(a21 - a12)));
        let wr = half(bf(f(a11 - a22))), wi = half(bf(f(a12 + a21)));
        const k = row + j;
        for (let t = 0; t < s; t++) {
          const pu = 8 * t + codesU[t][k], pw = 8 * t + 4 + codesW[t][k];
          ur = bf(f(ur - dRe[pu])); ui = bf(f(ui - dIm[pu]));
          wr = bf(f(wr - dRe[pw])); wi = bf(f(wi - dIm[pw]));
        }
        const iu = +(ui > ur) | (+(ui < ur) << 1) | (+(ui > -ur) << 2) | (+(ui < -ur) << 3);
        const iw = +(wi > wr) | (+(wi < wr) << 1) | (+(wi > -wr) << 2) | (+(wi < -wr) << 3);
        const c1 = iu === 0 && Object.is(ur, -0) ? 2 : SECTOR[iu];
        const c2 = iw === 0 && Object.is(wr, -0) ? 2 : SECTOR[iw];
        cu[k] = c1;
        cw[k] = c2;
        const o1 = c1 & 1, o2 = c2 & 1;
        uSumIm += o1 * Math.abs(ui); uSumRe += (1 - o1) * Math.abs(ur); uNIm += o1;
        wSumIm += o2 * Math.abs(wi); wSumRe += (1 - o2) * Math.abs(wr); wNIm += o2;
      }
    }
    const usr = bf16Scale(uSumRe, len - uNIm), usi = bf16Scale(uSumIm, uNIm);
    const wsr = bf16Scale(wSumRe, len - wNIm), wsi = bf16Scale(wSumIm, wNIm);
    scales.set([usr, usi, wsr, wsi], 4 * s);
    dRe.set([usr, 0, -usr, 0, wsr, 0, -wsr, 0], 8 * s);
    dIm.set([0, usi, 0, -usi, 0, wsi, 0, -wsi], 8 * s);
  }
  return { n, m, stages, codesU, codesW, scales };
}
