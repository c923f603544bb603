// Ours in this Node process (the runtime native llama.cpp runs in, bench/peers/native.ts), measured
// as the page measures ours in Chromium (bench/peers/page.mjs: the same token ids, a 16-token warm-up,
// model.complete's own timings), so that a row of ours and a native row differ only in the engine.
import { loadModel } from '../../src/node.ts';

/** The page's prompt ids: past the control and byte pieces of the synthetic vocabulary. */
const ids = (n: number, seed: number, V: number) => Array.from({ length: n }, (_, i) => 259 + ((i * 7919 + seed * 104729) % (V - 259)));

export async function runOursNode(file: string, threads: number, ctx: number, L: { prefill: number; decodePrompt: number; generate: number }, wasm?: 'relaxed' | 'simd128') {
  const t0 = performance.now();
  const model = await loadModel(file, { contextLength: ctx, threads, ...(wasm ? { wasm } : {}) });
  const loadMs = performance.now() - t0;
  try {
    const V = model.config.vocabSize;
    const complete = (n: number, seed: number, gen: number) => model.complete(ids(n, seed, V), { temperature: 0, maxTokens: gen, stopAtEos: false });
    await complete(16, 9, 2);
    const pre = await complete(L.prefill, 1, 0);
    if (pre.usage.evaluatedPromptTokens !== L.prefill) throw new Error(`prefill evaluated ${pre.usage.evaluatedPromptTokens} prompt tokens, not ${L.prefill}`);
    const dec = await complete(L.decodePrompt, 2, L.generate);
    if (dec.tokens.length !== L.generate) throw new Error(`decode generated ${dec.tokens.length} tokens, not ${L.generate}`);
    return {
      threads: model.threads, loadMs, wasmBuild: model.wasmBuild,
      prefill: { n: L.prefill, tokS: pre.timings.promptTokensPerSecond, wallMs: pre.timings.promptMs },
      decode: { promptN: L.decodePrompt, n: dec.tokens.length, tokS: dec.timings.generateTokensPerSecond, wallMs: dec.timings.generateMs },
    };
  } finally {
    model.dispose();
  }
}
