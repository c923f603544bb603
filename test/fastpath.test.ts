// The quantized linears' table kernels (activation tables + cmatvec, assembly/cmatvec.ts) at both
// precisions, 'fast' (2 digit levels, the default) and 'exact' (3), against the exact scalar
// reference (set_kernel(0): cmatvec_ref) over the golden sequences: top-1 agreement and perplexity,
// the exactness criteria for the fast path. engine.test.ts checks 'exact' against the
// float64 goldens themselves.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { convert } from '../src/convert/convert.ts';
import { loadModel } from '../src/node.ts';
import { tempDir } from './fixtures.ts';
import { manifest, sharedPath, sharedSuite } from './shared.ts';

/** Fraction of positions whose arg-max must agree between the fast path and the reference. */
const MIN_TOP1_AGREEMENT = 0.995;
/** Largest relative difference of the perplexity over the golden sequences. */
const MAX_PPL_REL_DIFF = 0.005;

const dir = tempDir();

async function fileFor(key: string, src: string, stages: number): Promise<string> {
  const out = join(dir, `${key}.gguf`);
  if (!existsSync(out)) await convert(sharedPath(src), { output: out, stages, quiet: true });
  return out;
}

/** Σ −log p(next token) over a sequence's positions, from logits (T, V). */
function nll(logits: Float32Array, ids: number[], V: number): number {
  let s = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    let mx = -Infinity;
    for (let i = 0; i < V; i++) mx = Math.max(mx, logits[t * V + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[t * V + i] - mx);
    s -= logits[t * V + ids[t + 1]] - mx - Math.log(z);
  }
  return s;
}

function argmax(logits: Float32Array, t: number, V: number): number {
  let a = 0;
  for (let i = 1; i < V; i++) if (logits[t * V + i] > logits[t * V + a]) a = i;
  return a;
}

const s = sharedSuite('fast path: table kernel against the exact reference on the golden sequences');

const CASES: { name: string; key: string; src: string; stages: number; V: number; seqs: () => number[][] }[] = [
  { name: 'stories260K V2 (story256, story64)', key: 'v2', src: 'models/stories260K-hf', stages: 2, V: 512,
    seqs: () => ['story256', 'story64'].map((n) => manifest().stories260K.sequences[n].ids as number[]) },
  { name: 'stories260K V1 (story256, story64)', key: 'v1', src: 'models/stories260K-hf', stages: 1, V: 512,
    seqs: () => ['story256', 'story64'].map((n) => manifest().stories260K.sequences[n].ids as number[]) },
  { name: 'tiny-gqa V2', key: 'gqa-v2', src: 'models/tiny-gqa-hf', stages: 2, V: 300,
    seqs: () => [manifest().tiny_gqa.sequence.ids as number[]] },
];

for (const precision of ['fast', 'exact'] as const) for (const c of CASES) {
  s(`${c.name}, precision ${precision}: top-1 agreement >= ${MIN_TOP1_AGREEMENT * 100} % and perplexity within ${MAX_PPL_REL_DIFF * 100} %`, async () => {
    const model = await loadModel(await fileFor(c.key, c.src, c.stages), { threads: 1, precision });
    // The kernel switch is a test hook of the wasm module (assembly/cmatvec.ts set_kernel), not API.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ex = (model as any).ex as { set_kernel(k: number): void };
    const levels = precision === 'fast' ? 2 : 3;
    try {
      let agree = 0, positions = 0, nllFast = 0, nllRef = 0, tokens = 0;
      for (const ids of c.seqs()) {
        const fast = model.evaluate(ids);
        ex.set_kernel(0);
        const ref = model.evaluate(ids);
        ex.set_kernel(levels);
        for (let t = 0; t < ids.length; t++) agree += +(argmax(fast, t, c.V) === argmax(ref, t, c.V));
        positions += ids.length;
        nllFast += nll(fast, ids, c.V);
        nllRef += nll(ref, ids, c.V);
        tokens += ids.length - 1;
        // The kernel did run: the table path's logits are not the reference's bits.
        assert.ok(fast.some((v, i) => v !== ref[i]), 'fast and reference logits are identical: the table kernel did not run');
      }
      assert.ok(positions > 0, 'no golden positions');
      const top1 = agree / positions;
      const pplFast = Math.exp(nllFast / tokens), pplRef = Math.exp(nllRef / tokens);
      const rel = Math.abs(pplFast / pplRef - 1);
      assert.ok(top1 >= MIN_TOP1_AGREEMENT, `top-1 agreement ${(top1 * 100).toFixed(2)} % over ${positions} positions`);
      assert.ok(rel <= MAX_PPL_REL_DIFF, `perplexity ${pplFast} (fast) vs ${pplRef} (reference): ${(rel * 100).toFixed(4)} %`);
    } finally {
      model.dispose();
    }
  });
}

s.run();

