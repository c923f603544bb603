import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantizeLinear, phaseCode, quantizeLinear, splitWidelyLinear } from '../src/quantize.ts';
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
