// The authors' bf16 inference quantizer (src/convert/quantize-bf16.ts) against the goldens made by
// their own modules in torch.bfloat16: bit for bit, codes and scales (the scales are bf16 values, so
// exact equality is the only criterion that means anything). Also: the default arithmetic follows
// the checkpoint dtype, `info` reports it, and the float32 path gives different codes on the same
// input (so these tests would catch convert silently using the wrong quantizer).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { codeAt } from '../src/format.ts';
import { convert } from '../src/convert/convert.ts';
import { quantizeLinear } from '../src/convert/quantize.ts';
import { bf, quantizeLinearBf16 } from '../src/convert/quantize-bf16.ts';
import { readModelHeaderFromFile } from '../src/node/read-header.ts';
import { tempDir } from './fixtures.ts';
import { manifest, readF32, sharedPath, sharedSuite } from './shared.ts';

const dir = tempDir();
const BF16MATH = 'golden/stories260K/bf16math';

const unit = sharedSuite('quantize-bf16: rand_16x32_bf16math');
unit('codes and bf16 scales bit for bit; the float32 quantizer differs', () => {
  const u = manifest().quantizer_units.rand_16x32_bf16math;
  assert.ok(u, 'manifest has rand_16x32_bf16math');
  const [rows, cols] = u.shape, nm = u.n * u.m;
  const A = readF32('golden/quant/rand_16x32_bf16math/A.f32.bin');
  const cu = readFileSync(sharedPath('golden/quant/rand_16x32_bf16math/codes_U.u8.bin'));
  const cw = readFileSync(sharedPath('golden/quant/rand_16x32_bf16math/codes_W.u8.bin'));
  const sc = readF32('golden/quant/rand_16x32_bf16math/scales.f32.bin'); // [U/W, stage, (re, im)]
  const q = quantizeLinearBf16(A, rows, cols, 2);
  for (let s = 0; s < 2; s++) {
    assert.equal(Array.from(q.codesU[s]), Array.from(cu.subarray(s * nm, (s + 1) * nm)), `U codes stage ${s + 1}`);
    assert.equal(Array.from(q.codesW[s]), Array.from(cw.subarray(s * nm, (s + 1) * nm)), `W codes stage ${s + 1}`);
    for (let t = 0; t < 2; t++) for (let p = 0; p < 2; p++) {
      assert.ok(Object.is(q.scales[4 * s + 2 * t + p], sc[t * 4 + s * 2 + p]), `scale ${t ? 'W' : 'U'} stage ${s + 1} ${p ? 's_im' : 's_re'}`);
    }
  }
  const f = quantizeLinear(A, rows, cols, 2);
  assert.ok(Array.from(f.scales).some((v, i) => v !== q.scales[i]), 'float32 scales are not bf16 values');
});
unit.run();

const rounding = sharedSuite('quantize-bf16: rounding rule');
rounding('bf rounds to nearest even and keeps specials', () => {
  assert.is(bf(1 + 2 ** -8), 1); // tie → even (mantissa 0)
  assert.is(bf(1 + 3 * 2 ** -8), 1 + 2 ** -6); // tie → even (rounds up)
  assert.is(bf(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -7); // above the tie
  assert.ok(Object.is(bf(-0), -0));
  assert.is(bf(Infinity), Infinity);
  assert.ok(Number.isNaN(bf(NaN)));
  assert.is(bf(3.3895313892515355e38), 3.3895313892515355e38); // the largest bf16
  assert.is(bf(3.4e38), Infinity); // past the largest bf16 rounds to Inf
});
rounding.run();

const model = sharedSuite('quantize-bf16: convert of stories260K-hf-bf16');

/** Per converted file: how many codes and scales differ from the bf16math goldens. */
function diffFromGoldens(path: string): { codes: number; scales: number; checked: number } {
  const h = readModelHeaderFromFile(path);
  const all = readFileSync(path);
  const bytes = (name: string) => { const t = h.tensors.get(name)!; return new Uint8Array(all.buffer, all.byteOffset + h.dataOffset + t.offset, t.size); };
  const meta = JSON.parse(readFileSync(sharedPath(`${BF16MATH}/bf16math.json`), 'utf8'));
  const goldenCodes = readFileSync(sharedPath(`${BF16MATH}/codes.u8.bin`));
  const goldenScales = readF32(`${BF16MATH}/scales.f32.bin`); // [36, U/W, stage, (re, im)]
  const LIN: Record<string, string> = { q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' };
  let codes = 0, scales = 0, checked = 0;
  for (const e of meta.codes_index) {
    const mm = /^model\.layers\.(\d+)\.\w+\.(\w+)\.weight$/.exec(e.name);
    const ours = e.name === 'lm_head.weight' ? 'output' : `blk.${mm![1]}.${LIN[mm![2]]}`;
    const packed = bytes(`${ours}.codes`);
    const sc = new Float32Array(bytes(`${ours}.scales`).slice().buffer);
    const { n, m } = e;
    for (const [t, part] of [[0, e.U], [1, e.W]] as const) {
      for (let s = 0; s < 2; s++) {
        for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) {
          if (codeAt(packed, m, 2, t * 2 + s, r, j) !== goldenCodes[part.offset + s * n * m + r * m + j]) codes++;
        }
        for (let p = 0; p < 2; p++) if (!Object.is(sc[4 * s + 2 * t + p], goldenScales[e.scales_row * 8 + t * 4 + s * 2 + p])) scales++;
      }
    }
    checked++;
  }
  return { codes, scales, checked };
}

model('the default (bf16 for a BF16 checkpoint) matches all 36 linears bit for bit; info says bf16', async () => {
  const out = join(dir, 'bf16.gguf');
  await convert(sharedPath('models/stories260K-hf-bf16'), { output: out, stages: 2, quiet: true });
  assert.equal(diffFromGoldens(out), { codes: 0, scales: 0, checked: 36 });
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', out, '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).quantArithmetic, 'bf16');
  assert.match(spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', out], { encoding: 'utf8' }).stdout, 'bf16 arithmetic');
});

model('--arithmetic f32 on the same checkpoint differs from the bf16 goldens, and info says f32', async () => {
  const out = join(dir, 'f32.gguf');
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'convert', sharedPath('models/stories260K-hf-bf16'), '-o', out, '--arithmetic', 'f32', '-q'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const d = diffFromGoldens(out);
  assert.ok(d.codes > 100 && d.scales > 100, `f32 math should differ in codes and scales: ${JSON.stringify(d)}`);
  assert.is(JSON.parse(spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', out, '--json'], { encoding: 'utf8' }).stdout).quantArithmetic, 'f32');
});

model('a float32 checkpoint defaults to f32; --arithmetic bf16 on it rounds the weights to bf16 first (same codes as the BF16 checkpoint)', async () => {
  const a = join(dir, 'f32src.gguf'), b = join(dir, 'f32src-bf16.gguf');
  await convert(sharedPath('models/stories260K-hf'), { output: a, stages: 2, quiet: true });
  assert.is(readModelHeaderFromFile(a).config.arithmetic, 'f32');
  await convert(sharedPath('models/stories260K-hf'), { output: b, stages: 2, arithmetic: 'bf16', quiet: true });
  assert.equal(diffFromGoldens(b), { codes: 0, scales: 0, checked: 36 });
});

model('a bad --arithmetic is an option error', () => {
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'convert', sharedPath('models/stories260K-hf-bf16'), '-o', join(dir, 'x.gguf'), '--arithmetic', 'f16'], { encoding: 'utf8' });
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, 'arithmetic');
});
model.run();
