// The peer benchmark in the page: one engine's model loaded at a time (ours or wllama), measured with
// the same token ids, and unloaded before the next. bench/peers/index.ts calls window.peers.* one
// step at a time, each with its own timeout.
//
// Prompts: ours gets token ids (ids ≥ 259, past the control and byte pieces of the synthetic
// vocabulary); wllama takes text only, so it gets lowercase letters, each of which its tokenizer turns
// into one byte-fallback token of the synthetic vocabulary (which has no letter pieces), plus BOS and
// the leading '▁' — that overhead is measured by the warm-up and subtracted, and every measurement
// checks the prompt token count llama.cpp reports. Generation is greedy and ignores EOS.

const out = document.getElementById('out');
const show = (s) => { out.textContent += `\n${s}`; };
const ids = (n, seed, V) => Array.from({ length: n }, (_, i) => 259 + ((i * 7919 + seed * 104729) % (V - 259)));
const letters = (n, seed) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed * 13 + ((i * i) % 5)) % 26))).join('');

/** The loaded engine: { engine, V, threads, model } for ours, { engine, V, threads, w, log } for wllama. */
let cur = null;

function memory64() {
  try {
    new WebAssembly.Memory({ address: 'i64', initial: 1n });
    return true;
  } catch {
    return false;
  }
}

/** Native log lines worth keeping: what llama.cpp says of the file, the CPU features and threads. */
const KEEP = /Multithread|system_info|file type|file size|model type|model params|type\s+(f32|f16|q2_K|tq1_0|tq2_0):|n_threads|CPU_REPACK|WASM|error|fail|abort/i;

async function completeOurs(prompt, n) {
  const t0 = performance.now();
  const r = await cur.model.complete(prompt, { temperature: 0, maxTokens: n, stopAtEos: false });
  return {
    wallMs: performance.now() - t0, promptN: r.usage.evaluatedPromptTokens, promptMs: r.timings.promptMs, promptTokS: r.timings.promptTokensPerSecond,
    genN: r.tokens.length, genMs: r.timings.generateMs, genTokS: r.timings.generateTokensPerSecond, tokens: r.tokens,
  };
}

async function completeWllama(prompt, n, extra = {}) {
  const t0 = performance.now();
  // max_tokens 0 would skip the prompt on some server versions: prefill asks for one token.
  const r = await cur.w.createCompletion({ prompt, max_tokens: Math.max(1, n), temperature: 0, ignore_eos: true, cache_prompt: false, ...extra });
  const t = r.timings;
  if (!t) throw new Error('wllama returned no timings');
  return {
    wallMs: performance.now() - t0, promptN: t.prompt_n, promptMs: t.prompt_ms, promptTokS: t.prompt_per_second,
    genN: t.predicted_n, genMs: t.predicted_ms, genTokS: t.predicted_per_second, text: r.choices?.[0]?.text, finish: r.choices?.[0]?.finish_reason, raw: r,
  };
}

/** An nPrompt-token prompt (a different one for each seed), then n greedy tokens. */
const complete = (nPrompt, seed, n) =>
  cur.engine === 'ours' ? completeOurs(ids(nPrompt, seed, cur.V), n) : completeWllama(letters(nPrompt - cur.overhead, seed), n);

window.peers = {
  info() {
    return {
      crossOriginIsolated: globalThis.crossOriginIsolated === true, hardwareConcurrency: navigator.hardwareConcurrency, userAgent: navigator.userAgent,
      sharedArrayBuffer: typeof SharedArrayBuffer === 'function', jspi: typeof WebAssembly.Suspending === 'function', memory64: memory64(), gc: typeof globalThis.gc === 'function',
    };
  },

  /** Loads a model and warms it up (a 16-token prompt, the smallest ours runs through its batched kernel, and 2 tokens). */
  async load({ engine, url, threads, ctx, wasm }) {
    if (cur) await this.unload();
    show(`load ${engine} ${url} threads=${threads}`);
    const t0 = performance.now();
    if (engine === 'ours') {
      const { loadModel } = await import('/ours/dist/browser.js');
      // `threads` is passed whether or not this build knows it; what it used is model.threads (1 when absent).
      // `wasm` (a build name) only when the bench asks for one build of ours: older builds lack the option.
      const model = await loadModel(url, { contextLength: ctx, threads, ...(wasm ? { wasm } : {}) });
      cur = { engine, model, V: model.config.vocabSize, threads: model.threads ?? 1, threadsOption: 'threads' in model, wasmBuild: model.wasmBuild };
    } else {
      const { Wllama } = await import('/wllama/esm/index.js');
      const log = [];
      const keep = (level) => (...a) => {
        const s = a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
        if (KEEP.test(s) || level === 'error') log.push(s.slice(0, 400));
        if (globalThis.peersDebug) console.log(`[wllama ${level}] ${s}`);
      };
      const w = new Wllama({ default: new URL('/wllama/esm/wasm/wllama.wasm', location.href).href }, { logger: { debug: keep('debug'), log: keep('log'), warn: keep('warn'), error: keep('error') } });
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      const blob = await res.blob();
      await w.loadModel([blob], { n_threads: threads, n_ctx: ctx, n_batch: 512, n_ubatch: 512, n_gpu_layers: 0, n_parallel: 1 });
      const info = w.getLoadedContextInfo();
      cur = { engine, w, log, V: info.n_vocab, threads: w.useMultiThread ? w.nbThreads : 1, multiThread: !!w.useMultiThread, overhead: 0 };
    }
    const loadMs = performance.now() - t0;
    const warm = await complete(16, 9, 2);
    if (cur.engine === 'wllama') cur.overhead = warm.promptN - 16;
    show(`  loaded in ${(loadMs / 1000).toFixed(1)} s, warm-up ${(warm.wallMs / 1000).toFixed(1)} s`);
    return { loadMs, warmMs: warm.wallMs, threads: cur.threads, vocab: cur.V, multiThread: cur.multiThread, threadsOption: cur.threadsOption, promptOverhead: cur.overhead, wasmBuild: cur.wasmBuild };
  },

  /** Prefill: a fresh n-token prompt (nothing of it cached). */
  async prefill(n) {
    const r = await complete(n, 1, 0);
    if (r.promptN !== n) throw new Error(`prefill evaluated ${r.promptN} prompt tokens, not ${n}`);
    show(`  prefill ${n}: ${r.promptTokS.toFixed(2)} tok/s`);
    return { n: r.promptN, ms: r.promptMs, tokS: r.promptTokS, wallMs: r.wallMs };
  },

  /** Decode: nGen greedy tokens after a fresh nPrompt-token prompt. */
  async decode(nPrompt, nGen) {
    const r = await complete(nPrompt, 2, nGen);
    if (r.promptN !== nPrompt) throw new Error(`decode's prompt was ${r.promptN} tokens, not ${nPrompt}`);
    if (r.genN !== nGen) throw new Error(`decode generated ${r.genN} tokens, not ${nGen}`);
    show(`  decode ${nGen} after ${nPrompt}: ${r.genTokS.toFixed(2)} tok/s`);
    return { promptN: r.promptN, promptTokS: r.promptTokS, n: r.genN, ms: r.genMs, tokS: r.genTokS, wallMs: r.wallMs, sample: r.tokens?.slice(0, 8) ?? r.text?.slice(0, 60) };
  },

  /** That the model computes numbers: finite logits (ours) or finite log-probabilities and text (wllama). */
  async check() {
    if (cur.engine === 'ours') {
      const logits = cur.model.evaluate(ids(1, 3, cur.V), 0);
      let bad = 0, min = Infinity, max = -Infinity;
      for (const x of logits) {
        if (!Number.isFinite(x)) bad++;
        else { min = Math.min(min, x); max = Math.max(max, x); }
      }
      return { ok: bad === 0 && max > min, nonFinite: bad, min, max };
    }
    const r = await completeWllama(letters(4, 5), 4, { logprobs: 1 });
    const lp = [];
    const walk = (o, key) => {
      if (o === null && /logprob/.test(key)) lp.push(NaN);
      else if (typeof o === 'number' && /logprob/.test(key)) lp.push(o);
      else if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) walk(v, Array.isArray(o) ? key : k);
    };
    walk(r.raw.choices?.[0]?.logprobs ?? null, 'logprobs');
    const ok = r.genN === 4 && typeof r.text === 'string' && r.text.length > 0 && lp.length > 0 && lp.every(Number.isFinite);
    return { ok, text: r.text, logprobs: lp.slice(0, 8), log: cur.log };
  },

  async unload() {
    if (!cur) return;
    if (cur.engine === 'ours') cur.model.dispose();
    else await cur.w.exit();
    cur = null;
    globalThis.gc?.();
  },
};
show('page ready');
