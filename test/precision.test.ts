// Precision 'fast' (the default table arithmetic) judged the way the field judges low-bit
// arithmetic: on a trained model, against the exact path, by perplexity, mean per-position KL
// divergence and top-1 agreement (issue 11). The model is the bundled QAT W2 file; the texts are
// its held-out verses and general English prose (test/data/english-prose.txt), windowed with the
// perplexity protocol of src/perplexity.ts. The figures are printed on every run.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../src/node.ts';
import { packWindows } from '../src/perplexity.ts';
import { argmax } from '../src/sampler.ts';
import { logSoftmax } from './log-softmax.ts';

/** Largest relative difference of the perplexity, fast against exact. */
const MAX_PPL_REL_DIFF = 0.005;
/** Largest mean KL(exact ‖ fast) per position, nats (about what llama.cpp's Q6_K loses against F16). */
const MAX_MEAN_KLD = 0.003;
/** Smallest fraction of positions whose arg-max agrees. */
const MIN_TOP1 = 0.95;

const MODEL = 'models/default.gguf';
/**
 * The texts and which of their windows run: every 5th window of the held-out verses (about 4000 of
 * their 20 000 positions, spread over the whole file; all of them took the suite 100 s), all of the prose.
 */
const TEXTS: [string, string, number][] = [
  ['held-out verses (models/heldout.txt, every 5th window)', 'models/heldout.txt', 5],
  ['English prose (test/data/english-prose.txt)', 'test/data/english-prose.txt', 1],
];

const s = suite('precision: fast against exact on the bundled trained model');

for (const [label, path, every] of TEXTS) {
  s(`${label}: perplexity within ${MAX_PPL_REL_DIFF * 100} %, mean KLD <= ${MAX_MEAN_KLD}, top-1 >= ${MIN_TOP1 * 100} %`, async () => {
    const fast = await loadModel(MODEL, { precision: 'fast' });
    const exact = await loadModel(MODEL, { precision: 'exact' });
    try {
      const tok = exact.tokenizer!;
      const V = exact.config.vocabSize;
      const docs = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '')
        .map((l) => [...tok.encode(l, { addBos: false, addEos: false }), tok.eosId]);
      const windows = packWindows(docs, exact.contextLength, tok.bosId).windows.filter((_, i) => i % every === 0);
      const pe = new Float64Array(V), pf = new Float64Array(V);
      let positions = 0, agree = 0, kld = 0, nllE = 0, nllF = 0, differ = 0;
      for (const w of windows) {
        const le = exact.evaluate(w), lf = fast.evaluate(w);
        differ += +le.some((v, i) => v !== lf[i]);
        for (let t = 0; t + 1 < w.length; t++) {
          logSoftmax(le, t, V, pe);
          logSoftmax(lf, t, V, pf);
          let kl = 0;
          for (let i = 0; i < V; i++) kl += Math.exp(pe[i]) * (pe[i] - pf[i]);
          kld += kl;
          agree += +(argmax(pe) === argmax(pf));
          nllE -= pe[w[t + 1]];
          nllF -= pf[w[t + 1]];
          positions++;
        }
      }
      assert.ok(positions > 1500, `${positions} positions: the text is too short to judge`);
      // The two precisions did run different arithmetic (a test of fast against itself cannot fail).
      assert.ok(differ > 0, 'fast and exact logits are identical: the precision option did not reach the kernel');
      const pplE = Math.exp(nllE / positions), pplF = Math.exp(nllF / positions);
      const rel = pplF / pplE - 1, meanKld = kld / positions, top1 = agree / positions;
      console.log(`  ${label}: ${positions} positions; perplexity exact ${pplE.toFixed(4)}, fast ${pplF.toFixed(4)} (${(rel * 100).toFixed(3)} %); ` +
        `mean KLD ${meanKld.toExponential(2)} nats; top-1 agreement ${(top1 * 100).toFixed(2)} %`);
      assert.ok(Math.abs(rel) <= MAX_PPL_REL_DIFF, `perplexity fast ${pplF} vs exact ${pplE}: ${(rel * 100).toFixed(3)} %`);
      assert.ok(meanKld <= MAX_MEAN_KLD, `mean KLD ${meanKld}`);
      assert.ok(top1 >= MIN_TOP1, `top-1 agreement ${(top1 * 100).toFixed(2)} %`);
    } finally {
      fast.dispose();
      exact.dispose();
    }
  });
}

s.run();
