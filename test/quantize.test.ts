import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { codeAt, packCodes } from '../src/format.ts';
import { dequantizeLinear, phaseCode, quantizeLinear, quantizeLinearRef, SCALE_MIN, splitWidelyLinear } from '../src/convert/quantize.ts';
import { randn } from './fixtures.ts';
import { manifest, readF32, sharedPath, sharedSuite } from './shared.ts';

// The goldens' scales come from torch's float32 mean, which is not correctly rounded; ours is the
// float64 mean rounded once. The manifest measures the difference at 1-3 ulp (~2e-7 relative).
const MAX_SCALE_REL_ERR = 1e-6;

const golden = sharedSuite('quantize: reference goldens');

golden('every unit: codes bit for bit, scales within 1e-6, A_quant V1..V4, lossless split', () => {
  const units = Object.entries(manifest().quantizer_units as Record<string, any>).filter(([, u]) => !u.informational);
  assert.ok(units.length >= 6, `expected the quantizer goldens, found ${units.length}`);
  for (const [name, u] of units) {
    const [rows, cols] = u.shape;
    const n = rows / 2, m = cols / 2;
    const A = readF32(`golden/quant/${name}/A.f32.bin`);
    const UW = readF32(`golden/quant/${name}/UW.f32.bin`);
    const split = splitWidelyLinear(A, rows, cols);
    [split.Ure, split.Uim, split.Wre, split.Wim].forEach((p, i) => assert.equal(Array.from(p), Array.from(UW.subarray(i * n * m, (i + 1) * n * m)), `${name}: split part ${i}`));
    const cu = readFileSync(sharedPath(`golden/quant/${name}/codes_U.u8.bin`));
    const cw = readFileSync(sharedPath(`golden/quant/${name}/codes_W.u8.bin`));
    const sc = readF32(`golden/quant/${name}/scales.f32.bin`);
    const S = cu.length / (n * m);
    const q = quantizeLinear(A, rows, cols, S);
    for (let s = 0; s < S; s++) {
      assert.equal(Array.from(q.codesU[s]), Array.from(cu.subarray(s * n * m, (s + 1) * n * m)), `${name}: U codes stage ${s + 1}`);
      assert.equal(Array.from(q.codesW[s]), Array.from(cw.subarray(s * n * m, (s + 1) * n * m)), `${name}: W codes stage ${s + 1}`);
      for (let t = 0; t < 2; t++) for (let p = 0; p < 2; p++) {
        const g = sc[t * S * 2 + s * 2 + p], o = q.scales[4 * s + 2 * t + p];
        assert.ok(Math.abs(o - g) <= MAX_SCALE_REL_ERR * Math.abs(g), `${name}: scale ${t ? 'W' : 'U'} stage ${s + 1} ${p ? 's_im' : 's_re'}: ${o} vs ${g}`);
      }
    }
    for (let v = 1; v <= 4; v++) {
      const g = readF32(`golden/quant/${name}/A_quant_v${v}.f32.bin`);
      const d = dequantizeLinear(quantizeLinear(A, rows, cols, v));
      assert.is(d.length, g.length, `${name}: A_quant_v${v} size`);
      const scale = Math.max(1e-30, ...Array.from(g, Math.abs));
      let worst = 0;
      for (let i = 0; i < d.length; i++) worst = Math.max(worst, Math.abs(d[i] - g[i]));
      assert.ok(worst <= 4 * MAX_SCALE_REL_ERR * scale, `${name}: A_quant_v${v} differs by ${worst} (max |A| ${scale})`);
    }
  }
});

golden.run();

const rules = suite('quantize: phase rule');
rules('sectors are half-open and zeros follow IEEE atan2', () => {
  assert.is(phaseCode(1, 0), 0);
  assert.is(phaseCode(1, 1), 1); // phi = pi/4 belongs to +i
  assert.is(phaseCode(1, -1), 0); // phi = -pi/4 belongs to +1
  assert.is(phaseCode(-1, 1), 2); // 3pi/4 → −1
  assert.is(phaseCode(-1, -1), 3); // −3pi/4 → −i
  assert.is(phaseCode(0, 0), 0);
  assert.is(phaseCode(0, -0), 0);
  assert.is(phaseCode(-0, 0), 2);
  assert.is(phaseCode(-0, -0), 2);
  assert.is(phaseCode(0, 2), 1);
  assert.is(phaseCode(-0, -2), 3);
});
rules.run();

// quantizeLinear (fused, branchless) and packCodes (whole bytes per full block) are the converter's
// fast paths; their references are quantizeLinearRef (split + phaseQuant) and codeAt (the layout
// formula of docs/format.md). Same summation order and exact operations: bit equality, including
// sector ties (re = ±im), signed zeros and the partial last 64-input block.
const fast = suite('quantize: fast paths equal their references');

const sameQuant = (a: ReturnType<typeof quantizeLinear>, b: ReturnType<typeof quantizeLinear>, what: string) => {
  assert.equal([a.n, a.m, a.stages], [b.n, b.m, b.stages], what);
  for (let i = 0; i < a.scales.length; i++) assert.ok(Object.is(a.scales[i], b.scales[i]), `${what}: scale ${i} ${a.scales[i]} vs ${b.scales[i]}`);
  for (let s = 0; s < a.stages; s++) {
    assert.ok(Buffer.compare(a.codesU[s], b.codesU[s]) === 0, `${what}: U codes stage ${s + 1}`);
    assert.ok(Buffer.compare(a.codesW[s], b.codesW[s]) === 0, `${what}: W codes stage ${s + 1}`);
  }
};

fast('quantizeLinear equals quantizeLinearRef bit for bit (random, ties, signed zeros; S = 1..4)', () => {
  const TIES = [-0.5, -0.25, -0, 0, 0.25, 0.5];
  let cases = 0;
  // m = cols / 2 both odd and even: with the zeros/ties patterns below, U's re = (a11 + a22) / 2 is −0
  // only where a11 and a22 are both −0, i.e. when m is even (a22 sits n·cols + m entries after a11).
  for (const [rows, cols] of [[2, 2], [2, 4], [2, 6], [6, 2], [4, 8], [10, 34], [34, 128], [34, 130], [66, 258], [6, 132], [130, 2], [4, 4098]]) {
    const len = rows * cols;
    const random = randn(len, rows * 131 + cols, 0.05);
    const ties = Float32Array.from({ length: len }, (_, i) => TIES[(i * 7 + (i >> 3)) % TIES.length]);
    const mixed = random.map((v, i) => (i % 3 === 0 ? TIES[i % TIES.length] : v));
    const zeros = Float32Array.from({ length: len }, (_, i) => (i % 2 ? -0 : 0));
    for (const [name, A] of [['random', random], ['ties', ties], ['mixed', mixed], ['zeros', zeros]] as const) {
      for (const S of [1, 2, 3, 4]) {
        sameQuant(quantizeLinear(A, rows, cols, S), quantizeLinearRef(A, rows, cols, S), `${rows}x${cols} ${name} S=${S}`);
        cases++;
      }
    }
  }
  assert.is(cases, 192);
});

fast('packCodes agrees with codeAt on every plane, row and input (m across block and tail sizes)', () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 30);
  for (const m of [1, 3, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200]) {
    for (const S of [1, 2, 3, 4]) {
      const n = 3;
      const planes = () => Array.from({ length: S }, () => Uint8Array.from({ length: n * m }, rnd));
      const U = planes(), W = planes();
      const packed = packCodes(U, W, n, m);
      for (let p = 0; p < 2 * S; p++) {
        const src = p < S ? U[p] : W[p - S];
        for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) {
          if (codeAt(packed, m, S, p, r, j) !== src[r * m + j]) assert.unreachable(`m=${m} S=${S} plane ${p} row ${r} input ${j}`);
        }
      }
      // padding is zero: rows n .. 15 of the last tile, and input m (the high nibble of the last pair) when m is odd
      const pairBytes = Math.ceil(m / 2) * S; // bytes per row; a tile is 16 rows of them, interleaved
      for (let at = 0; at < packed.length; at++) {
        const r = Math.floor(at / (16 * pairBytes)) * 16 + (at & 15), pair = Math.floor((at % (16 * pairBytes)) / (16 * S));
        const mask = r >= n ? 0xff : m & 1 && pair === pairBytes / S - 1 ? 0xf0 : 0;
        assert.is(packed[at] & mask, 0, `padding m=${m} S=${S} byte ${at}`);
      }
    }
  }
});

fast.run();

const edges = suite('quantize: by hand');

edges('a 2×2 layer through two stages: split, codes, scales (clamped where a part is empty), dequantized', () => {
  // A = [[3, −1], [1, 1]]: U = ((3 + 1)/2, (1 − (−1))/2) = (2, 1) → +1; W = ((3 − 1)/2, (−1 + 1)/2) = (1, 0) → +1.
  // Stage 1 scales: U s_re 2, s_im none → SCALE_MIN; W s_re 1, s_im SCALE_MIN. Residuals: U (0, 1) → +i
  // (s_im 1, s_re SCALE_MIN); W (+0, 0) → +1 with |re| = 0 → SCALE_MIN, s_im SCALE_MIN.
  const A = Float32Array.from([3, -1, 1, 1]);
  const f = Math.fround, e = SCALE_MIN;
  assert.is(e, f(1e-6));
  for (const q of [quantizeLinear(A, 2, 2, 2), quantizeLinearRef(A, 2, 2, 2)]) {
    assert.equal([q.n, q.m, q.stages], [1, 1, 2]);
    assert.equal(q.codesU.map((c) => Array.from(c)), [[0], [1]]);
    assert.equal(q.codesW.map((c) => Array.from(c)), [[0], [0]]);
    assert.equal(Array.from(q.scales), [2, e, 1, e, e, 1, e, e]);
    // [[W_re + U_re, W_im − U_im], [W_im + U_im, −W_re + U_re]] with W_re = 1 + e, U = (2, 1), W_im = 0
    assert.equal(Array.from(dequantizeLinear(q)), [f(f(1 + e) + 2), -1, 1, f(-f(1 + e) + 2)]);
    assert.equal(Array.from(dequantizeLinear({ ...q, stages: 1, codesU: q.codesU.slice(0, 1), codesW: q.codesW.slice(0, 1) })), [3, 0, 0, 1]);
  }
  assert.equal(splitWidelyLinear(A, 2, 2), { n: 1, m: 1, Ure: Float32Array.of(2), Uim: Float32Array.of(1), Wre: Float32Array.of(1), Wim: Float32Array.of(0) });
});

/**
 * The real 2n × 2m matrix of complex U, W (n rows of m (re, im) entries), laid out as
 * [[W_re + U_re, W_im − U_im], [W_im + U_im, −W_re + U_re]]: small layers whose codes are known.
 */
function realMatrix(U: number[][][], W: number[][][]): Float32Array {
  const n = U.length, m = U[0].length, cols = 2 * m;
  const A = new Float32Array(4 * n * m);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      const [ur, ui] = U[r][j], [wr, wi] = W[r][j];
      A[r * cols + j] = wr + ur; A[r * cols + m + j] = wi - ui;
      A[(r + n) * cols + j] = wi + ui; A[(r + n) * cols + m + j] = -wr + ur;
    }
  }
  return A;
}

edges('the four codes dequantize to +s_re, +i·s_im, −s_re, −i·s_im (a 2×4 layer, one stage)', () => {
  // n = 1, m = 2 with U = (4, 0) → +1 and (0, −2) → −i; W = (−1, 0) → −1 and (0, 3) → +i.
  const A = realMatrix([[[4, 0], [0, -2]]], [[[-1, 0], [0, 3]]]);
  const q = quantizeLinear(A, 2, 4, 1);
  assert.equal([Array.from(q.codesU[0]), Array.from(q.codesW[0])], [[0, 3], [2, 1]]);
  assert.equal(Array.from(q.scales), [4, 2, 1, 3]);
  assert.equal(Array.from(dequantizeLinear(q)), Array.from(A));
});

edges('a 4×2 layer (two complex rows) dequantizes to the whole matrix', () => {
  // n = 2, m = 1: U rows (2, 0) → +1 and (0, 3) → +i; W rows (−1, 0) → −1 and (0, −5) → −i.
  const A = realMatrix([[[2, 0]], [[0, 3]]], [[[-1, 0]], [[0, -5]]]);
  const q = quantizeLinear(A, 4, 2, 1);
  assert.equal([Array.from(q.codesU[0]), Array.from(q.codesW[0])], [[0, 1], [2, 3]]);
  assert.equal(Array.from(dequantizeLinear(q)), Array.from(A));
});

edges('an odd side is refused', () => {
  assert.throws(() => quantizeLinear(new Float32Array(6), 3, 2, 1), /quantizeLinear: 3x2 has an odd side/);
  assert.throws(() => quantizeLinear(new Float32Array(6), 2, 3, 1), /2x3 has an odd side/);
  assert.throws(() => splitWidelyLinear(new Float32Array(6), 2, 3), /splitWidelyLinear: 2x3 has an odd side/);
  assert.throws(() => splitWidelyLinear(new Float32Array(6), 3, 2), /3x2 has an odd side/);
});

edges.run();
