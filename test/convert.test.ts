import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { codeAt, type ModelHeader } from '../src/format.ts';
import { convert } from '../src/convert/convert.ts';
import { readModelHeaderFromFile } from '../src/node/read-header.ts';
import { SafetensorsFile } from '../src/convert/safetensors.ts';
import { dequantizeLinear } from '../src/convert/quantize.ts';
import { tempDir } from './fixtures.ts';
import { manifest, sharedPath, sharedSuite } from './shared.ts';

const MAX_SCALE_REL_ERR = 1e-6; // see quantize.test.ts

const HF_TO_OURS: Record<string, string> = {
  'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
};
export function oursName(hf: string): string {
  if (hf === 'lm_head.weight') return 'output';
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hf)!;
  return `blk.${m[1]}.${HF_TO_OURS[m[2]]}`;
}

function tensorBytes(path: string, h: ModelHeader, name: string): Uint8Array {
  const t = h.tensors.get(name)!;
  const all = readFileSync(path);
  return new Uint8Array(all.buffer, all.byteOffset + h.dataOffset + t.offset, t.size);
}

/** Asserts the file's codes and scales for stages 1..S equal the goldens of a model. */
function assertGoldenCodes(path: string, goldenKey: 'stories260K' | 'tiny_gqa', codesFile: string, S: number) {
  const h = readModelHeaderFromFile(path);
  const index = manifest()[goldenKey].codes_index as any[];
  assert.ok(index.length > 0, 'empty codes index');
  const golden = readFileSync(sharedPath(codesFile));
  for (const e of index) {
    const name = oursName(e.name);
    const packed = tensorBytes(path, h, `${name}.codes`);
    const scales = new Float32Array(tensorBytes(path, h, `${name}.scales`).slice().buffer);
    const { n, m } = e;
    for (const [p0, part] of [[0, e.U], [S, e.W]] as const) {
      for (let s = 0; s < S; s++) {
        let diffs = 0;
        for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) {
          if (codeAt(packed, m, S, p0 + s, r, j) !== golden[part.offset + s * n * m + r * m + j]) diffs++;
        }
        assert.is(diffs, 0, `${e.name} ${p0 ? 'W' : 'U'} stage ${s + 1}: ${diffs} codes differ`);
        for (let k = 0; k < 2; k++) {
          const g = part.scales[s][k], o = scales[4 * s + (p0 ? 2 : 0) + k];
          assert.ok(Math.abs(o - g) <= MAX_SCALE_REL_ERR * Math.abs(g), `${e.name} scale ${s + 1}/${k}: ${o} vs ${g}`);
        }
      }
    }
  }
}

const golden = sharedSuite('convert: stories260K and tiny-gqa against the reference quantizer');
const dir = tempDir();

for (const S of [1, 2, 3, 4]) {
  golden(`stories260K V${S}: every code and scale of every linear (lm_head included)`, async () => {
    const out = join(dir, `s-v${S}.gguf`);
    await convert(sharedPath('models/stories260K-hf'), { output: out, stages: S, quiet: true });
    assertGoldenCodes(out, 'stories260K', 'golden/stories260K/codes.u8.bin', S);
  });
}

golden('tiny-gqa V4 (odd complex sizes, untied lm_head, no tokenizer)', async () => {
  const out = join(dir, 'gqa-v4.gguf');
  await convert(sharedPath('models/tiny-gqa-hf'), { output: out, stages: 4, quiet: true });
  assertGoldenCodes(out, 'tiny_gqa', 'golden/tiny-gqa/codes.u8.bin', 4);
});

golden('stories260K V2 dequantized weights equal the golden w2_dequantized matrices', async () => {
  const out = join(dir, 's-v2.gguf');
  if (!existsSync(out)) await convert(sharedPath('models/stories260K-hf'), { output: out, stages: 2, quiet: true });
  const h = readModelHeaderFromFile(out);
  const st = new SafetensorsFile(sharedPath('golden/stories260K/w2_dequantized.safetensors'));
  let checked = 0;
  try {
    for (const name of st.tensors.keys()) {
      if (!/(proj|lm_head)\.weight$/.test(name)) continue;
      const g = st.readF32(name);
      const t = st.tensors.get(name)!;
      const [rows, cols] = t.shape;
      const ours = oursName(name);
      const packed = tensorBytes(out, h, `${ours}.codes`);
      const scales = new Float32Array(tensorBytes(out, h, `${ours}.scales`).slice().buffer);
      const n = rows / 2, m = cols / 2;
      const unpack = (p: number) => Uint8Array.from({ length: n * m }, (_, k) => codeAt(packed, m, 2, p, Math.floor(k / m), k % m));
      const A = dequantizeLinear({ n, m, stages: 2, codesU: [unpack(0), unpack(1)], codesW: [unpack(2), unpack(3)], scales });
      const maxAbs = Math.max(...Array.from(g, Math.abs));
      assert.is(A.length, g.length, `${name}: dequantized size`);
      let worst = 0;
      for (let i = 0; i < A.length; i++) worst = Math.max(worst, Math.abs(A[i] - g[i]));
      assert.ok(worst <= 4 * MAX_SCALE_REL_ERR * maxAbs, `${name}: dequantized differs by ${worst}`);
      checked++;
    }
  } finally {
    st.close();
  }
  assert.is(checked, 36, 'every quantized linear of stories260K (35 + lm_head)');
});

golden('llama2.c checkpoint converts to the same tensors as the Hugging Face one (q/k permuted)', async () => {
  const a = join(dir, 'l2c.gguf'), b = join(dir, 'hf.gguf');
  await convert(sharedPath('models/stories260K-llama2c/stories260K.bin'), { output: a, stages: 2, quiet: true });
  await convert(sharedPath('models/stories260K-hf'), { output: b, stages: 2, quiet: true });
  const ha = readModelHeaderFromFile(a), hb = readModelHeaderFromFile(b);
  assert.equal([...ha.tensors.keys()], [...hb.tensors.keys()]);
  for (const name of ha.tensors.keys()) {
    assert.ok(Buffer.compare(tensorBytes(a, ha, name), tensorBytes(b, hb, name)) === 0, `${name} differs`);
  }
  assert.equal(ha.vocab.tokens, hb.vocab.tokens);
  assert.is(ha.config.sourceFormat, 'llama2c');
});

golden('CLI convert + info --json on the bf16 checkpoint with --float f16', () => {
  const out = join(dir, 'bf16.gguf');
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'convert', sharedPath('models/stories260K-hf-bf16'), '-o', out, '--float', 'f16'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const info = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', out, '--json', '--tensors'], { encoding: 'utf8' });
  assert.is(info.status, 0, info.stderr);
  const d = JSON.parse(info.stdout);
  assert.is(d.stages, 2);
  assert.is(d.floatType, 'f16');
  assert.is(d.dim, 64);
  assert.is(d.kvHeads, 4);
  assert.is(d.tokenizer.pieces, 512);
  assert.ok(d.tensors.find((t: any) => t.name === 'token_embd.weight').type === 'F16');
  assert.ok(d.tensors.every((t: any) => t.offset % 64 === 0), 'tensor data aligned to 64 bytes');
});

golden.run();
