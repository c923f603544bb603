// Native llama.cpp for the peer bench: node-llama-cpp (prebuilt CPU backends, the CPU variant chosen at
// run time: AVX-512 on this machine), installed on demand into a cache folder, not as a dependency of
// this package (its optional CUDA/Vulkan packages are huge; --omit=optional leaves them out). It runs in
// this Node process, on the same GGUF files the wllama rows use, with the same lengths and threads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const NODE_LLAMA_CPP = '3.22.1';
const cacheDir = process.env.FAIRY2I_PEERS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fairy2i-wasm', `node-llama-cpp-${NODE_LLAMA_CPP}`);

/** node-llama-cpp's module, installed into the cache folder on first use (npm registry only). */
export async function nativeModule(log: (s: string) => void): Promise<any> {
  const entry = join(cacheDir, 'node_modules/node-llama-cpp/dist/index.js');
  if (!existsSync(entry)) {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(join(cacheDir, 'package.json'), JSON.stringify({ name: 'fairy2i-peers-native', private: true }));
    // --omit=optional leaves out every prebuilt backend (CUDA and Vulkan are hundreds of MB), so the
    // CPU one for this platform is named; --ignore-scripts: without it the postinstall step compiles
    // llama.cpp from source when it finds no backend (minutes of both cores).
    const cpu = `@node-llama-cpp/${process.platform}-${process.arch}@${NODE_LLAMA_CPP}`;
    log(`installing node-llama-cpp ${NODE_LLAMA_CPP} and ${cpu} into ${cacheDir} (--omit=optional --ignore-scripts) ...`);
    execFileSync('npm', ['install', `node-llama-cpp@${NODE_LLAMA_CPP}`, cpu, '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--no-progress'], { cwd: cacheDir, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  }
  return import(pathToFileURL(entry).href);
}

export interface NativeFigures {
  threads: number; loadMs: number; prefill: { n: number; tokS: number; wallMs: number }; decode: { promptN: number; n: number; tokS: number; wallMs: number };
  backend: string;
}

/** A loaded model and the llama.cpp instance it runs on (dispose `model` when done). */
export interface NativeModel { llama: any; model: any; threads: number; loadMs: number; backend: string }

/** Loads `file` into a CPU-only llama.cpp limited to `threads` threads (never builds llama.cpp). */
export async function loadNative(mod: any, file: string, threads: number): Promise<NativeModel> {
  const llama = await mod.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  return { llama, model, threads, loadMs: performance.now() - t0, backend: `${llama.gpu === false ? 'cpu' : llama.gpu} ${llama.buildType ?? ''}`.trim() };
}

/** Token ids spread over the vocabulary (past <unk> <s> </s>), different for each seed: the same prompts for every engine. */
export const promptIds = (n: number, seed: number, vocab = 32000) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % (vocab - 3)));
const vocabOf = (model: any) => Number(model.fileInfo?.metadata?.llama?.vocab_size ?? 32000);

/** Prefill of `prefillN` tokens from scratch, then `generate` greedy tokens after a `decodePrompt`-token prompt. */
export async function runNative(mod: any, file: string, threads: number, ctx: number, L: { prefill: number; decodePrompt: number; generate: number }): Promise<NativeFigures> {
  const { model, loadMs, backend } = await loadNative(mod, file, threads);
  try {
    const context = await model.createContext({ contextSize: ctx, threads, batchSize: Math.max(512, L.prefill) });
    const ids = (n: number, seed: number) => promptIds(n, seed, vocabOf(model));
    const seq = context.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(ids(Math.min(16, L.prefill), 3)); // warm-up, as ours
    await seq.clearHistory();
    let a = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids(L.prefill, 1));
    const pre = performance.now() - a;
    await seq.clearHistory();
    // Decode: the first token comes after the prompt; the rate counts the tokens after it.
    let n = 0, first = 0;
    for await (const _t of seq.evaluate(ids(L.decodePrompt, 2), { temperature: 0 })) {
      if (n === 0) first = performance.now();
      if (++n >= L.generate + 1) break;
    }
    const dec = performance.now() - first;
    await context.dispose();
    return {
      threads, loadMs, backend,
      prefill: { n: L.prefill, tokS: L.prefill / (pre / 1000), wallMs: pre },
      decode: { promptN: L.decodePrompt, n: n - 1, tokS: (n - 1) / (dec / 1000), wallMs: dec },
    };
  } finally {
    await model.dispose();
  }
}

export interface NativeSequencesFigures {
  sequences: number; threads: number; batchSize: number;
  /** Decode part only: wall and process CPU time, tokens generated by all sequences together. */
  wallMs: number; cpuMs: number; generated: number; tokS: number;
  /** llama_decode calls in the decode part and the tokens they took (N each when all N are batched). */
  decodes: number; tokensPerDecode: number;
  /** Sequence 0's tokens (greedy). */
  first: number[];
}

/**
 * N sequences of one context decoding together: each prefills its own `promptTokens`-token prompt
 * but the last token (untimed; this also pages the weights in), then all N evaluate that last token
 * and `tokens` − 1 more greedy ones at the same time, each through its own evaluate() generator.
 * node-llama-cpp puts the decodes queued in one event-loop cycle into one llama_decode, but its
 * dispatch loop starts the next batch with whatever is queued when a batch's sampling ends, and the
 * N samplings end at different times: left alone, 2 sequences ran as batches of 2, 1, 1, 1, ... (4
 * as 4, 3, 3, ...). So each sequence asks for its next token only when all N have their current one
 * (a barrier between steps), as our engine's batcher joins all waiting sequences into one pass. The
 * batches are counted off the context's native binding, and a step that was not one batch of all N
 * is an error.
 */
export async function runNativeSequences(model: NativeModel, o: { sequences: number; threads: number; promptTokens: number; tokens: number }): Promise<NativeSequencesFigures> {
  const N = o.sequences;
  const context = await model.model.createContext({ sequences: N, contextSize: o.promptTokens + o.tokens + 8, threads: o.threads });
  try {
    if (context.batchSize < N) throw new Error(`native: the context's batch size ${context.batchSize} is below ${N} sequences`);
    const seqs = Array.from({ length: N }, () => context.getSequence());
    const prompts = seqs.map((_, i) => promptIds(o.promptTokens, i, vocabOf(model.model)));
    await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1))));
    const batches: number[] = [];
    const native = context._ctx; // internal: the binding whose initBatch(size) starts each llama_decode batch
    if (typeof native?.initBatch !== 'function') throw new Error(`native: node-llama-cpp ${NODE_LLAMA_CPP}'s context has no _ctx.initBatch to count batches with`);
    const initBatch = native.initBatch;
    // The binding's methods are read-only on its prototype: an own property on the instance shadows it.
    Object.defineProperty(native, 'initBatch', { configurable: true, value: (size: number) => { batches.push(size); return initBatch.call(native, size); } });
    const cpu0 = process.cpuUsage(), t0 = performance.now();
    const step = barrier(N);
    let out: number[][];
    try {
      out = await Promise.all(seqs.map(async (s, i) => {
        const got: number[] = [];
        // yieldEogToken: an end-of-generation token does not end a sequence early (as ours' stopAtEos: false).
        for await (const t of s.evaluate(prompts[i].slice(-1), { temperature: 0, yieldEogToken: true })) {
          if (got.push(t) >= o.tokens) break;
          await step();
        }
        return got;
      }));
    } finally {
      delete native.initBatch;
    }
    const wallMs = performance.now() - t0, c = process.cpuUsage(cpu0);
    const generated = out.reduce((a, g) => a + g.length, 0);
    if (batches.length !== o.tokens || batches.some((b) => b !== N)) throw new Error(`native: ${N} sequences × ${o.tokens} tokens ran as llama_decode batches of ${batches.join(', ')} tokens, not ${o.tokens} of ${N}`);
    return {
      sequences: N, threads: context.currentThreads, batchSize: context.batchSize,
      wallMs, cpuMs: (c.user + c.system) / 1000, generated, tokS: generated / (wallMs / 1000),
      decodes: batches.length, tokensPerDecode: batches.reduce((a, b) => a + b, 0) / batches.length, first: out[0],
    };
  } finally {
    await context.dispose();
  }
}

/** Resolves each caller's promise once `n` callers are waiting, then starts over (one step of n sequences). */
function barrier(n: number): () => Promise<void> {
  let waiting = 0, open = () => {}, gate = new Promise<void>((r) => (open = r));
  return () => {
    const g = gate;
    if (++waiting === n) {
      const release = open;
      waiting = 0;
      gate = new Promise<void>((r) => (open = r));
      release();
    }
    return g;
  };
}
