// The library entry for browsers and edge runtimes: the same API as src/node.ts, with models from a
// URL, a Response or bytes (there are no file paths here).

import { checkLoadOptions } from './load-options.js';
import { Model } from './model.js';
import { bytesSource, responseSource, urlSource, type ByteSource } from './sources.js';
import type { LoadOptions, ModelSource } from './types.js';
import { WEB_WORKER_SOURCE, type ThreadPlatform, type WorkerMessage } from './threads.js';

export { Model } from './model.js';
export { Sequence } from './sequence.js';
export type * from './types.js';
export { Tokenizer } from './tokenizer.js';
export { Fairy2iError, FormatError, OptionError, AbortError } from './errors.js';
/** Internal, not part of the API (may change): the thread split's tuning; the cross-runtime tests split tiny models with it. */
export { threadTuning as _threadTuning } from './threads.js';
/** Internal, not part of the API (may change): the sampler's PRNG; the cross-runtime tests check its pinned outputs. */
export { Rng as _Rng } from './sampler.js';

let defaultWasm: Promise<WebAssembly.Module> | null = null;
/** The engine's wasm next to this bundle (../build/fairy2i.wasm); pass `wasm` where that is not served. */
export function wasmModule(): Promise<WebAssembly.Module> {
  defaultWasm ??= (async () => {
    const url = new URL('../build/fairy2i.wasm', import.meta.url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} (pass the wasm with the 'wasm' option)`);
    return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
  })();
  return defaultWasm;
}

async function toSource(source: ModelSource, signal?: AbortSignal): Promise<ByteSource> {
  if (typeof source === 'string' || source instanceof URL) return urlSource(source, signal);
  if (typeof Response !== 'undefined' && source instanceof Response) return responseSource(source);
  return bytesSource(source as ArrayBuffer | Uint8Array);
}

/**
 * Web Workers from a blob URL holding the worker's code. A shared memory can be created on any
 * page, but posting it to a worker needs cross-origin isolation (COOP/COEP headers); edge runtimes
 * (workerd) have no Worker and report one core.
 */
const webThreads: ThreadPlatform = {
  cores: () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1),
  unavailable: () => {
    if (typeof Worker === 'undefined') return 'this runtime has no Worker';
    const g = globalThis as { crossOriginIsolated?: boolean };
    if (g.crossOriginIsolated === false) {
      return 'the page is not cross-origin isolated, so its shared memory cannot go to workers (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
    }
    return null;
  },
  spawn(init, onMessage) {
    const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
    let revoked = false;
    const revoke = () => { if (!revoked) { revoked = true; URL.revokeObjectURL(url); } };
    try {
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent<WorkerMessage>) => { revoke(); onMessage(e.data); };
      w.onerror = (e: ErrorEvent) => { revoke(); e.preventDefault(); onMessage({ error: e.message || 'the worker script failed to load' }); };
      w.postMessage(init);
      return { terminate: () => { revoke(); w.terminate(); } };
    } catch (e) {
      revoke();
      throw e;
    }
  },
};

/** Loads a Fairy2i model file into a new wasm instance. */
export async function loadModel(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
  checkLoadOptions(opts);
  return Model.load(await toSource(source, opts.signal), opts.wasm ?? (await wasmModule()), opts, webThreads);
}
