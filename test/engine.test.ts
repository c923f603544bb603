// Exactness of the whole forward pass against ../shared/golden, with precision 'exact' (20-bit
// activation tables): logits at every position within a bound × max|logit| of that position (the
// goldens are float64 forwards; ours is float32 with its own summation order), the same arg-max
// everywhere, and greedy continuations token for token. The default precision 'fast' is held to the
// fast-path criteria in fastpath.test.ts and runtimes/golden-check.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { convert } from '../src/convert/convert.ts';
import { loadModel } from '../src/node.ts';
import { tempDir } from './fixtures.ts';
import { compareLogits } from './runtimes/compare.mjs';
import { manifest, readF32, sharedPath, sharedSuite } from './shared.ts';

// Bounds on max |Δ logit| / max |logit| per position, about 4-8× what 'exact' measures (the wasm is
// deterministic, so the numbers only move when a kernel's arithmetic does):
//  - float weights (fp, fp_from_bf16; tiny-gqa fp): only float32 summation order differs from the
//    float64 goldens: measured 6.7e-7 (stories260K), 3.5e-7 (tiny-gqa);
//  - quantized weights (v1..v4): plus the 20-bit activation tables: measured 2.5e-5 (stories260K v2),
//    6.3e-6 (tiny-gqa v4).
// rms_eps × 10 gives 8e-4..6e-3 on every stories260K variant and 1e-5 on tiny-gqa fp, so it fails;
// on tiny-gqa's quantized variants it stays below 1.2e-5 (only 2× their own error: not separable).
// The earlier single bound, 1e-3, let that bug pass everywhere but stories260K v1/v2.
const MAX_REL_LOGIT_ERR = { float: 5e-6, quantized: 1e-4 };
const dir = tempDir();

/** The conversion each golden variant stands for. */
const VARIANTS: Record<string, { src: string; stages: number; keepLmHeadFloat?: boolean; arithmetic?: 'f32' }> = {
  fp: { src: 'models/stories260K-hf', stages: 0 },
  v1: { src: 'models/stories260K-hf', stages: 1 },
  v2: { src: 'models/stories260K-hf', stages: 2 },
  v3: { src: 'models/stories260K-hf', stages: 3 },
  v4: { src: 'models/stories260K-hf', stages: 4 },
  w2_skip_lm_head: { src: 'models/stories260K-hf', stages: 2, keepLmHeadFloat: true },
  fp_from_bf16: { src: 'models/stories260K-hf-bf16', stages: 0 },
  // The goldens' float32 reference on the widened bf16 weights (not the authors' bf16 arithmetic).
  v2_from_bf16: { src: 'models/stories260K-hf-bf16', stages: 2, arithmetic: 'f32' },
};

async function fileFor(key: string, src: string, stages: number, keepLmHeadFloat = false, arithmetic?: 'f32'): Promise<string> {
  const out = join(dir, `${key}.gguf`);
  if (!existsSync(out)) await convert(sharedPath(src), { output: out, stages, keepLmHeadFloat, arithmetic, quiet: true });
  return out;
}

function assertLogits(what: string, ours: Float32Array, golden: Float32Array, V: number, stages: number) {
  const { problems } = compareLogits(what, ours, golden, V, MAX_REL_LOGIT_ERR[stages ? 'quantized' : 'float']);
  assert.equal(problems.slice(0, 5), [], `${problems.length} positions fail`);
}

const stories = sharedSuite('engine: stories260K against the goldens');
for (const [variant, spec] of Object.entries(VARIANTS)) {
  stories(`${variant}: logits of every golden sequence, and greedy continuations`, async () => {
    const g = manifest().stories260K.variants[variant];
    assert.ok(g, `no golden for ${variant}`);
    const model = await loadModel(await fileFor(variant, spec.src, spec.stages, spec.keepLmHeadFloat, spec.arithmetic), { precision: 'exact' });
    try {
      const seqs = Object.entries(g.logits as Record<string, { file: string }>);
      assert.ok(seqs.length > 0);
      for (const [name, l] of seqs) {
        const ids = manifest().stories260K.sequences[name].ids as number[];
        assertLogits(`${variant}/${name}`, model.evaluate(ids), readF32(`golden/${l.file}`), 512, spec.stages);
      }
      for (const [name, gr] of Object.entries(g.greedy as Record<string, { prompt_ids: number[]; new_ids: number[] }>)) {
        const r = await model.complete(gr.prompt_ids, { temperature: 0, maxTokens: gr.new_ids.length, stopAtEos: false });
        assert.equal(r.tokens, gr.new_ids, `${variant} greedy ${name}`);
        assert.is(r.stopReason, 'length');
      }
    } finally {
      model.dispose();
    }
  });
}

stories('run --temperature 0 --json through the CLI gives the golden greedy tokens and text', async () => {
  const gr = manifest().stories260K.variants.v2.greedy.from_prompt;
  const file = await fileFor('v2', VARIANTS.v2.src, 2);
  const model = await loadModel(file);
  const prompt = model.detokenize(gr.prompt_ids);
  assert.equal(model.tokenize(prompt), gr.prompt_ids, 'the prompt text tokenizes back to the golden prompt ids');
  model.dispose();
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'run', '-m', file, '-p', prompt, '-n', String(gr.new_ids.length), '--temperature', '0', '--precision', 'exact', '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.tokens, gr.new_ids);
  assert.is(out.text, gr.new_text);
  assert.is(out.stopReason, 'length');
});

stories.run();

const gqa = sharedSuite('engine: tiny GQA model (3 query heads per kv head, odd complex FFN, untied lm_head)');
for (const v of ['fp', 'v1', 'v2', 'v3', 'v4']) {
  gqa(`${v}: logits and greedy continuation`, async () => {
    const g = manifest().tiny_gqa.variants[v];
    const model = await loadModel(await fileFor(`gqa-${v}`, 'models/tiny-gqa-hf', v === 'fp' ? 0 : Number(v[1])), { precision: 'exact' });
    try {
      assert.is(model.tokenizer, null, 'converted without a tokenizer');
      assertLogits(`tiny-gqa/${v}`, model.evaluate(manifest().tiny_gqa.sequence.ids), readF32(`golden/${g.logits.file}`), 300, v === 'fp' ? 0 : 1);
      const r = await model.complete(g.greedy_from_bos.prompt_ids, { temperature: 0, maxTokens: g.greedy_from_bos.new_ids.length, stopAtEos: false });
      assert.equal(r.tokens, g.greedy_from_bos.new_ids);
    } finally {
      model.dispose();
    }
  });
}
gqa.run();
