// Precision of the table arithmetic on the bundled trained model against 'exact' (issue 11's
// criteria: perplexity within 0.5 %, mean KL ≤ 0.003 nats, top-1 ≥ 95 %), over all of the held-out
// verses and the English prose of test/data; the suite (test/precision.test.ts) checks a sample.
//
//   npx tsx bench/precision.ts [--wasm build/other.wasm]... [--every N]
//
// Each --wasm (default: build/fairy2i.wasm) runs at precision 'fast'; the reference is 'exact' of
// build/fairy2i.wasm. Used to choose the arithmetic of assembly/cmatvec.ts (figures there).
import { readFileSync } from 'node:fs';
import { loadModel } from '../src/node.ts';
import { packWindows } from '../src/perplexity.ts';
import { argmax } from '../src/sampler.ts';
import { logSoftmax } from '../test/log-softmax.ts';

const args = process.argv.slice(2);
const wasms = args.flatMap((a, i) => (a === '--wasm' ? [args[i + 1]] : []));
if (!wasms.length) wasms.push('build/fairy2i.wasm');
const every = Number(args[args.indexOf('--every') + 1] ?? 1) || 1;
const MODEL = 'models/default.gguf';

const exact = await loadModel(MODEL, { precision: 'exact' });
const fasts = await Promise.all(wasms.map(async (w) => loadModel(MODEL, { precision: 'fast', wasm: readFileSync(w) })));
const tok = exact.tokenizer!;
const V = exact.config.vocabSize;
for (const path of ['models/heldout.txt', 'test/data/english-prose.txt']) {
  const docs = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '')
    .map((l) => [...tok.encode(l, { addBos: false, addEos: false }), tok.eosId]);
  const windows = packWindows(docs, exact.contextLength, tok.bosId).windows.filter((_, i) => i % every === 0);
  const st = fasts.map(() => ({ agree: 0, kld: 0, nll: 0 }));
  let nllE = 0, positions = 0;
  const pe = new Float64Array(V), pf = new Float64Array(V);
  for (const w of windows) {
    const le = exact.evaluate(w);
    const lfs = fasts.map((f) => f.evaluate(w));
    for (let t = 0; t + 1 < w.length; t++) {
      logSoftmax(le, t, V, pe);
      nllE -= pe[w[t + 1]];
      positions++;
      lfs.forEach((lf, k) => {
        logSoftmax(lf, t, V, pf);
        let kl = 0;
        for (let i = 0; i < V; i++) kl += Math.exp(pe[i]) * (pe[i] - pf[i]);
        st[k].kld += kl;
        st[k].agree += +(argmax(pe) === argmax(pf));
        st[k].nll -= pf[w[t + 1]];
      });
    }
  }
  const pplE = Math.exp(nllE / positions);
  console.log(`${path}: ${positions} positions, exact perplexity ${pplE.toFixed(4)}`);
  st.forEach((s, k) => console.log(`  ${wasms[k]} fast: perplexity ${(Math.exp(s.nll / positions) / pplE * 100 - 100).toFixed(3)} %, ` +
    `mean KLD ${(s.kld / positions).toExponential(2)} nats, top-1 ${(s.agree / positions * 100).toFixed(2)} %`));
}
