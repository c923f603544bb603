// The runtime-neutral golden check: the same code runs in Node, Deno, Bun (through golden-main.mjs)
// and headless Chromium (through golden.html). Plain JavaScript importing only its sibling compare.mjs,
// so every runtime loads it unchanged; the caller passes the library's loadModel, the model source and a
// way to read files under ../shared/golden.
//
// Both precisions run. 'exact' is held to the criteria of test/engine.test.ts: on the golden story64
// sequence, every position's logits within 1e-4 × that position's max |logit| (the goldens are
// float64 forwards; ours is float32 with its own summation order; measured 2.5e-5) and the same
// arg-max; and 64 greedy tokens from BOS equal to the golden v2.greedy.from_bos.new_ids exactly.
// 'fast' (the default, 14-bit activation tables; measured 2.6e-3) to the same with 1e-2 in place of
// 1e-4.
//
// Sampling: the library's PRNG must give the pinned outputs of pinned-rng.mjs, and a sampled
// continuation (SAMPLED: temperature 0.8 with a fixed seed) is reported per precision; the caller
// compares it with the one the library samples in Node (no golden: the seed promises the same tokens
// in every runtime, not particular ones).
//
// With `loadOptions.threads` the model runs on worker threads (the caller lowers the split's
// threshold so that even this tiny model's layers are split); the report says how many threads it
// got and the notices it printed (one when workers cannot share memory).

import { compareLogits } from './compare.mjs';
import { checkPinnedRng } from './pinned-rng.mjs';

/** Largest |Δ logit| / max |logit| per position, by precision. */
export const MAX_REL_LOGIT_ERR = { exact: 1e-4, fast: 1e-2 };

/** The sampled continuation from BOS: default top-k/top-p/min-p, a fixed seed. */
export const SAMPLED = { temperature: 0.8, seed: 1234, maxTokens: 64, stopAtEos: false };

/**
 * @param {object} a
 * @param {(source: any, opts?: any) => Promise<any>} a.loadModel  the library's loadModel
 * @param {new (seed: number) => { next(): number }} a.Rng  the library's PRNG (its internal export _Rng)
 * @param {any} a.model  what to pass to loadModel (a path in Node/Deno/Bun, a URL in a browser)
 * @param {(rel: string) => Promise<Uint8Array>} a.readGolden  bytes of ../shared/golden/<rel>
 * @param {string} a.runtime  a name for the report, e.g. "deno 2.9.6"
 * @param {object} [a.loadOptions]  extra loadModel options, e.g. { threads: 2 }
 * @returns {Promise<object>} a JSON-able report; `ok` is true only when every check passed
 */
export async function goldenCheck({ loadModel, Rng, model: source, readGolden, runtime, loadOptions = {} }) {
  const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  const report = { runtime, ok: false, errors: [], timingsMs: {} };
  const manifest = JSON.parse(new TextDecoder().decode(await readGolden('manifest.json')));
  const st = manifest.stories260K;
  const g = st.variants.v2;

  report.errors.push(...(typeof Rng === 'function' ? checkPinnedRng(Rng) : ['the library exports no _Rng']));
  report.notices = [];
  report.logits = {};
  report.greedy = {};
  report.sampled = {};
  for (const precision of ['exact', 'fast']) {
    let t0 = now();
    const model = await loadModel(source, { ...loadOptions, precision, onNotice: (m) => report.notices.push(m) });
    report.timingsMs[`load_${precision}`] = now() - t0;
    report.threads = model.threads;
    try {
      const V = model.config.vocabSize;

      // Logits on story64.
      const ids = st.sequences.story64.ids;
      const b = await readGolden(g.logits.story64.file);
      const golden = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      t0 = now();
      const ours = model.evaluate(ids);
      report.timingsMs[`logits_${precision}`] = now() - t0;
      const { worstRelErr, problems } = compareLogits(`${precision} story64`, ours, golden, V, MAX_REL_LOGIT_ERR[precision]);
      report.errors.push(...problems);
      report.logits[precision] = { positions: ids.length, vocab: V, worstRelErr };

      // Greedy from BOS.
      const gr = g.greedy.from_bos;
      t0 = now();
      const r = await model.complete(gr.prompt_ids, { temperature: 0, maxTokens: gr.new_ids.length, stopAtEos: false });
      report.timingsMs[`greedy_${precision}`] = now() - t0;
      report.greedy[precision] = { tokens: r.tokens, expected: gr.new_ids };
      if (r.tokens.length !== gr.new_ids.length || r.tokens.some((x, i) => x !== gr.new_ids[i])) {
        report.errors.push(`${precision} greedy from BOS: got tokens ${JSON.stringify(r.tokens)}, expected ${JSON.stringify(gr.new_ids)}`);
      }

      // Sampled from BOS with a fixed seed.
      const sr = await model.complete(gr.prompt_ids, SAMPLED);
      report.sampled[precision] = { tokens: sr.tokens, seed: sr.seed };
    } finally {
      model.dispose();
    }
  }
  report.ok = report.errors.length === 0;
  if (report.errors.length > 8) report.errors = [...report.errors.slice(0, 8), `... and ${report.errors.length - 8} more`];
  return report;
}
