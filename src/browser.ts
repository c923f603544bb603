// The library entry for browsers and edge runtimes: the same API as src/node.ts, with models from a
// URL, a Response, bytes or a Blob/File (there are no file paths here); URLs can be kept in the
// browser's storage (src/browser/model-cache.ts), and loadModelInWorker runs it all in a Web Worker.

import { checkLoadOptions } from './load-options.js';
import { Model } from './model.js';
import { blobSource, bytesSource, responseSource, urlSource, type ByteSource } from './sources.js';
import type { LoadOptions, ModelSource } from './types.js';
import { OptionError } from './errors.js';
import { cachedModelSource, type CacheMode } from './browser/model-cache.js';
import { WEB_WORKER_SOURCE, type ThreadPlatform, type WorkerMessage } from './threads.js';
import { WASM_FILES, pickBuild, type WasmBuild, type WasmInput } from './wasm.js';

export { Model } from './model.js';
export { Sequence } from './sequence.js';
export type * from './types.js';
export { Tokenizer } from './tokenizer.js';
export { Fairy2iError, FormatError, OptionError, AbortError } from './errors.js';
/** Internal, not part of the API (may change): the thread split's tuning; the cross-runtime tests split tiny models with it. */
export { threadTuning as _threadTuning } from './threads.js';
/** Internal, not part of the API (may change): the sampler's PRNG; the cross-runtime tests check its pinned outputs. */
export { Rng as _Rng } from './sampler.js';
export { listCachedModels, deleteCachedModel, MODEL_CACHE_NAME, type CachedModel, type CacheMode } from './browser/model-cache.js';
export { loadModelInWorker, WorkerModel, type WorkerLoadOptions, type ModelFacts } from './worker/client.js';

/** A model file in a browser: a URL, a Response, bytes, or a Blob/File (read in chunks). */
export type BrowserModelSource = ModelSource | Blob;

export interface BrowserLoadOptions extends LoadOptions {
  /**
   * Keep a URL's file in the browser's storage (Cache API) and load it from there next time: true
   * uses a stored copy without any network request; 'revalidate' first asks the server (HEAD) and
   * fetches again when its ETag, Last-Modified or size changed. URL sources only. @default false
   */
  cache?: CacheMode;
}

const builds: Partial<Record<WasmBuild, Promise<WebAssembly.Module>>> = {};
/** One of the engine's builds next to this bundle (../build/*.wasm); pass `wasm` where they are not served. */
export function wasmModule(build: WasmBuild = pickBuild('auto')!): Promise<WebAssembly.Module> {
  return builds[build] ??= (async () => {
    const url = new URL(`../build/${WASM_FILES[build]}`, import.meta.url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} (pass the wasm with the 'wasm' option)`);
    return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
  })();
}

function isUrl(source: BrowserModelSource): source is string | URL {
  return typeof source === 'string' || source instanceof URL;
}

async function toSource(source: BrowserModelSource, signal?: AbortSignal): Promise<ByteSource> {
  if (isUrl(source)) return urlSource(source, signal);
  if (typeof Response !== 'undefined' && source instanceof Response) return responseSource(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return blobSource(source);
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
export async function loadModel(source: BrowserModelSource, opts: BrowserLoadOptions = {}): Promise<Model> {
  checkLoadOptions(opts, ['cache']);
  const { cache, ...rest } = opts;
  if (cache !== undefined && typeof cache !== 'boolean' && cache !== 'revalidate') throw new OptionError('cache', `is ${JSON.stringify(cache)}, expected true, false or 'revalidate'`);
  if (cache && !isUrl(source)) throw new OptionError('cache', 'applies to URL sources only (bytes, Responses and files are not kept)');
  const build = pickBuild(rest.wasm);
  const wasm = build ? await wasmModule(build) : (rest.wasm as WasmInput);
  if (!cache) return Model.load(await toSource(source, rest.signal), wasm, rest, webThreads);
  const c = await cachedModelSource(source as string | URL, cache, rest.signal, rest.onNotice ?? console.warn);
  let loaded = false;
  try {
    const model = await Model.load(c.source, wasm, rest, webThreads);
    loaded = true;
    return model;
  } finally {
    await c.finish(loaded);
  }
}
