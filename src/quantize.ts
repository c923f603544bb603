// PhaseQuant with recursive residual stages, exactly as the Fairy2i reference quantizer
// (PKULab1806/Fairy2i-W2 model_module/quantization.py) computes it; the statement of the method is
// ../shared/docs/fairy2i-math.md. All arithmetic is float32 like the reference (Math.fround after
// every operation), except the scale means, which are accumulated in float64 and rounded once: the
// reference's torch.mean is not correctly rounded, so the goldens agree with this to ~1e-6 relative
// and bit for bit on every code (see the golden manifest's scales_note).

const f = Math.fround;

/** float32 value of the 1e-6 lower clamp on every scale. */
export const SCALE_MIN = f(1e-6);

/** The widely-linear parts of a real (2n × 2m) matrix, each n × m row-major float32. */
export interface WidelyLinear {
  n: number;
  m: number;
  Ure: Float32Array;
  Uim: Float32Array;
  Wre: Float32Array;
  Wim: Float32Array;
}

/** Splits A (rows = 2n outputs, cols = 2m inputs, row-major) losslessly into U and W (math doc §1). */
export function splitWidelyLinear(A: Float32Array, rows: number, cols: number): WidelyLinear {
  if (rows % 2 || cols % 2) throw new Error(`splitWidelyLinear: ${rows}x${cols} has an odd side`);
  const n = rows / 2, m = cols / 2;
  const Ure = new Float32Array(n * m), Uim = new Float32Array(n * m);
  const Wre = new Float32Array(n * m), Wim = new Float32Array(n * m);
  for (let r = 0; r < n; r++) {
    const top = r * cols, bot = (r + n) * cols;
    for (let j = 0; j < m; j++) {
      const a11 = A[top + j], a12 = A[top + m + j], a21 = A[bot + j], a22 = A[bot + m + j];
      const k = r * m + j;
      Ure[k] = f(f(a11 + a22) / 2);
      Uim[k] = f(f(a21 - a12) / 2);
      Wre[k] = f(f(a11 - a22) / 2);
      Wim[k] = f(f(a12 + a21) / 2);
    }
  }
  return { n, m, Ure, Uim, Wre, Wim };
}

/**
 * The PhaseQuant code of re + i·im: 0 (+1), 1 (+i), 2 (−1), 3 (−i) by the exact angle in half-open
 * sectors. The comparison form is exact on float32 inputs (no atan2 rounding near the diagonals);
 * zeros follow IEEE atan2: (+0, ±0) → +1, (−0, ±0) → angle ±π → −1.
 */
export function phaseCode(re: number, im: number): number {
  if (re > 0 && -re <= im && im < re) return 0;
  if (im > 0 && -im < re && re <= im) return 1;
  if (re < 0 && re < im && im <= -re) return 2;
  if (im < 0 && im <= re && re < -im) return 3;
  // Only zeros (and NaN, which convert rejects before this) reach here.
  return Object.is(re, -0) ? 2 : 0;
}

export interface StageResult {
  /** n·m codes, row-major. */
  codes: Uint8Array;
  sRe: number;
  sIm: number;
}

/**
 * Quantizes one complex tensor (re, im) with S residual stages. The inputs are not modified.
 * Stage k+1 quantizes the float32 residual e_k = e_{k−1} − q_k.
 */
export function phaseQuant(re: Float32Array, im: Float32Array, stages: number): StageResult[] {
  const len = re.length;
  const eRe = Float32Array.from(re), eIm = Float32Array.from(im);
  const out: StageResult[] = [];
  for (let s = 0; s < stages; s++) {
    const codes = new Uint8Array(len);
    let sumRe = 0, nRe = 0, sumIm = 0, nIm = 0;
    for (let k = 0; k < len; k++) {
      const c = phaseCode(eRe[k], eIm[k]);
      codes[k] = c;
      if (c & 1) { sumIm += Math.abs(eIm[k]); nIm++; } else { sumRe += Math.abs(eRe[k]); nRe++; }
    }
    const sRe = Math.max(nRe ? f(sumRe / nRe) : 0, SCALE_MIN);
    const sIm = Math.max(nIm ? f(sumIm / nIm) : 0, SCALE_MIN);
    out.push({ codes, sRe, sIm });
    if (s + 1 < stages) {
      for (let k = 0; k < len; k++) {
        const c = codes[k];
        // q is (±sRe, 0) or (0, ±sIm); subtracting the zero part leaves e unchanged (also −0).
        if (c === 0) eRe[k] = f(eRe[k] - sRe);
        else if (c === 2) eRe[k] = f(eRe[k] + sRe);
        else if (c === 1) eIm[k] = f(eIm[k] - sIm);
        else eIm[k] = f(eIm[k] + sIm);
      }
    }
  }
  return out;
}

export interface QuantizedLinear {
  n: number;
  m: number;
  stages: number;
  /** Per stage, n·m codes of U and of W. */
  codesU: Uint8Array[];
  codesW: Uint8Array[];
  /** Per stage four floats: U s_re, U s_im, W s_re, W s_im (the file's scales layout). */
  scales: Float32Array;
}

/** Quantizes a real (rows × cols) linear weight into S stages of U and W codes. */
export function quantizeLinear(A: Float32Array, rows: number, cols: number, stages: number): QuantizedLinear {
  const wl = splitWidelyLinear(A, rows, cols);
  const u = phaseQuant(wl.Ure, wl.Uim, stages);
  const w = phaseQuant(wl.Wre, wl.Wim, stages);
  const scales = new Float32Array(4 * stages);
  for (let s = 0; s < stages; s++) scales.set([u[s].sRe, u[s].sIm, w[s].sRe, w[s].sIm], 4 * s);
  return { n: wl.n, m: wl.m, stages, codesU: u.map((x) => x.codes), codesW: w.map((x) => x.codes), scales };
}

/** The float32 sum over stages of one tensor's dequantized values, ((q1 + q2) + q3) + q4. */
function dequantParts(codes: Uint8Array[], scales: Float32Array, which: 0 | 1, len: number): [Float32Array, Float32Array] {
  const re = new Float32Array(len), im = new Float32Array(len);
  codes.forEach((c, s) => {
    const sRe = scales[4 * s + 2 * which], sIm = scales[4 * s + 2 * which + 1];
    for (let k = 0; k < len; k++) {
      switch (c[k]) {
        case 0: re[k] = f(re[k] + sRe); break;
        case 1: im[k] = f(im[k] + sIm); break;
        case 2: re[k] = f(re[k] - sRe); break;
        default: im[k] = f(im[k] - sIm);
      }
    }
  });
  return [re, im];
}

/**
 * The real (2n × 2m) matrix a quantized layer stands for, in the reference's float32 operation
 * order: [[W_re + U_re, W_im − U_im], [W_im + U_im, −W_re + U_re]].
 */
export function dequantizeLinear(q: QuantizedLinear): Float32Array {
  const { n, m } = q;
  const [ure, uim] = dequantParts(q.codesU, q.scales, 0, n * m);
  const [wre, wim] = dequantParts(q.codesW, q.scales, 1, n * m);
  const cols = 2 * m;
  const A = new Float32Array(4 * n * m);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      const k = r * m + j;
      A[r * cols + j] = f(wre[k] + ure[k]);
      A[r * cols + m + j] = f(wim[k] - uim[k]);
      A[(r + n) * cols + j] = f(wim[k] + uim[k]);
      A[(r + n) * cols + m + j] = f(-wre[k] + ure[k]);
    }
  }
  return A;
}
