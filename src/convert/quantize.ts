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

/**
 * Quantizes a real (rows × cols) linear weight into S stages of U and W codes: the reference
 * composition splitWidelyLinear + phaseQuant. Kept as the `_ref` of quantizeLinear (the tests assert
 * the two agree bit for bit); it holds the four split parts and two residual copies at once.
 */
export function quantizeLinearRef(A: Float32Array, rows: number, cols: number, stages: number): QuantizedLinear {
  const wl = splitWidelyLinear(A, rows, cols);
  const u = phaseQuant(wl.Ure, wl.Uim, stages);
  const w = phaseQuant(wl.Wre, wl.Wim, stages);
  const scales = new Float32Array(4 * stages);
  for (let s = 0; s < stages; s++) scales.set([u[s].sRe, u[s].sIm, w[s].sRe, w[s].sIm], 4 * s);
  return { n: wl.n, m: wl.m, stages, codesU: u.map((x) => x.codes), codesW: w.map((x) => x.codes), scales };
}

/**
 * phaseCode as a table: index bit 0 im > re, bit 1 im < re, bit 2 im > −re, bit 3 im < −re (exact
 * comparisons; negation is exact). 1 → −1 (re < 0 on the diagonal im = −re), 2 → +1, 4 → +i
 * (im = re > 0), 5 → +i, 6 → +1, 8 → −i (im = re < 0), 9 → −1, 10 → −i; the other combinations are
 * impossible, and 0 is re = im = ±0, decided by the sign of re as in phaseCode.
 */
export const SECTOR = Uint8Array.of(0, 2, 0, 0, 1, 1, 0, 0, 3, 2, 3, 0, 0, 0, 0, 0);

/**
 * Quantizes a real (rows × cols) linear weight into S stages of U and W codes, with the same
 * results as quantizeLinearRef bit for bit, but for a 7B-scale layer (lm_head: 32000 × 4096):
 *  - memory: only A and the codes (S · 2 · n·m bytes) are live. Stage s recomputes each element's
 *    split value and its residual through stages 1..s−1 from A, the stored codes and the scales, in
 *    the reference's float32 operation order, instead of keeping the four split parts and two
 *    residual copies (6 · n·m floats = 1.5 × A: 786 MB more for lm_head).
 *  - time: the sector is looked up from four comparisons and the scale sums add |x|·0 or |x|·1,
 *    without branches. On random signs the reference's branches mispredict about half the time;
 *    this is ~3.5× faster (LLaMA-2-7B at S = 2: ~25 → ~7 ns per weight on one core).
 * The sums are the same float64 accumulations in the same order (adding +0 changes nothing: every
 * sum is ≥ +0), and a code's residual update subtracts ±s or +0 (exact no-ops where the reference
 * skips the update), so codes and scales are identical.
 */
export function quantizeLinear(A: Float32Array, rows: number, cols: number, stages: number): QuantizedLinear {
  if (rows % 2 || cols % 2) throw new Error(`quantizeLinear: ${rows}x${cols} has an odd side`);
  const n = rows / 2, m = cols / 2, len = n * m;
  const codesU: Uint8Array[] = [], codesW: Uint8Array[] = [];
  const scales = new Float32Array(4 * stages);
  // Per stage t: what code c subtracts from the residual, U at 8t + c and W at 8t + 4 + c.
  const dRe = new Float64Array(8 * stages), dIm = new Float64Array(8 * stages);
  for (let s = 0; s < stages; s++) {
    const cu = new Uint8Array(len), cw = new Uint8Array(len);
    codesU.push(cu);
    codesW.push(cw);
    let uSumRe = 0, uSumIm = 0, uNIm = 0, wSumRe = 0, wSumIm = 0, wNIm = 0;
    for (let r = 0; r < n; r++) {
      const top = r * cols, bot = (r + n) * cols, row = r * m;
      for (let j = 0; j < m; j++) {
        const a11 = A[top + j], a12 = A[top + m + j], a21 = A[bot + j], a22 = A[bot + m + j];
        let ur = f(f(a11 + a22) / 2), ui = f(f(a21 - a12) / 2), wr = f(f(a11 - a22) / 2), wi = f(f(a12 + a21) / 2);
        const k = row + j;
        for (let t = 0; t < s; t++) {
          const pu = 8 * t + codesU[t][k], pw = 8 * t + 4 + codesW[t][k];
          ur = f(ur - dRe[pu]); ui = f(ui - dIm[pu]);
          wr = f(wr - dRe[pw]); wi = f(wi - dIm[pw]);
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
    const scale = (sum: number, count: number) => Math.max(count ? f(sum / count) : 0, SCALE_MIN);
    const usr = scale(uSumRe, len - uNIm), usi = scale(uSumIm, uNIm), wsr = scale(wSumRe, len - wNIm), wsi = scale(wSumIm, wNIm);
    scales.set([usr, usi, wsr, wsi], 4 * s);
    dRe.set([usr, 0, -usr, 0, wsr, 0, -wsr, 0], 8 * s);
    dIm.set([0, usi, 0, -usi, 0, wsi, 0, -wsi], 8 * s);
  }
  return { n, m, stages, codesU, codesW, scales };
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
