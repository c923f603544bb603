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

/** Prefill of `prefillN` tokens from scratch, then `generate` greedy tokens after a `decodePrompt`-token prompt. */
export async function runNative(mod: any, file: string, threads: number, ctx: number, L: { prefill: number; decodePrompt: number; generate: number }): Promise<NativeFigures> {
  const llama = await mod.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const loadMs = performance.now() - t0;
  try {
    const context = await model.createContext({ contextSize: ctx, threads, batchSize: Math.max(512, L.prefill) });
    const V = model.fileInfo?.metadata?.llama?.vocab_size ?? 32000;
    const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % (Number(V) - 3)));
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
      threads, loadMs, backend: `${llama.gpu === false ? 'cpu' : llama.gpu} ${llama.buildType ?? ''}`.trim(),
      prefill: { n: L.prefill, tokS: L.prefill / (pre / 1000), wallMs: pre },
      decode: { promptN: L.decodePrompt, n: n - 1, tokS: (n - 1) / (dec / 1000), wallMs: dec },
    };
  } finally {
    await model.dispose();
  }
}
