// The library entry for Node, Deno and Bun: load from a path, a URL, bytes or a Response.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Fairy2iError } from './errors.js';
import { checkLoadOptions } from './load-options.js';
import { Model } from './model.js';
import { fileSource } from './node/file-source.js';
import { bytesSource, responseSource, urlSource, type ByteSource } from './sources.js';
import { nodeThreads } from './node/threads.js';
import { WASM_FILES, pickBuild, type WasmBuild, type WasmInput } from './wasm.js';
import type { LoadOptions, ModelSource } from './types.js';

export { Model } from './model.js';
export { Sequence } from './sequence.js';
export type * from './types.js';
export { Tokenizer } from './tokenizer.js';
export { Fairy2iError, FormatError, OptionError, AbortError } from './errors.js';
export { createHandler } from './server/handler.js';
/** Internal, not part of the API (may change): the thread split's tuning; the cross-runtime tests split tiny models with it. */
export { threadTuning as _threadTuning } from './threads.js';
/** Internal, not part of the API (may change): the sampler's PRNG; the cross-runtime tests check its pinned outputs. */
export { Rng as _Rng } from './sampler.js';

const builds: Partial<Record<WasmBuild, Promise<WebAssembly.Module>>> = {};
/** The compiled module of one of this package's builds (default: the one 'auto' picks). */
export function wasmModule(build: WasmBuild = pickBuild('auto')!): Promise<WebAssembly.Module> {
  builds[build] ??= readFile(new URL(`../build/${WASM_FILES[build]}`, import.meta.url)).then((b) => WebAssembly.compile(b));
  return builds[build];
}

export async function toSource(source: ModelSource, signal?: AbortSignal): Promise<ByteSource> {
  // A Hugging Face Hub model (pulled into the cache first, see src/hub/pull.ts).
  if (typeof source === 'string' && source.startsWith('hf:')) return fileSource((await (await import('./hub/pull.js')).pull(source, { quiet: true })).path);
  if (typeof source === 'string' && /^https?:\/\//.test(source)) return urlSource(source, signal);
  // A file: URL, as a string or a URL, is the file it names (decoded: %20 is a space).
  if (typeof source === 'string' && /^file:/i.test(source)) return fileSource(filePathOf(source));
  if (source instanceof URL) return source.protocol === 'file:' ? fileSource(filePathOf(source)) : urlSource(source, signal);
  if (typeof source === 'string') return fileSource(source);
  if (source instanceof Response) return responseSource(source);
  return bytesSource(source);
}

function filePathOf(url: string | URL): string {
  try {
    return fileURLToPath(url);
  } catch (e) {
    throw new Fairy2iError('input', `${String(url)}: not a file URL this system can open (${(e as Error).message})`);
  }
}

/** Loads a Fairy2i model file into a new wasm instance. */
export async function loadModel(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
  checkLoadOptions(opts);
  const build = pickBuild(opts.wasm);
  return Model.load(await toSource(source, opts.signal), build ? await wasmModule(build) : (opts.wasm as WasmInput), opts, nodeThreads);
}

/** A file shipped in the package's models/ folder (same relative path from src/ and dist/). */
export function bundledPath(name: string): string {
  return fileURLToPath(new URL(`../models/${name}`, import.meta.url));
}

/** The model bundled with the package, used when no -m is given. */
export function defaultModelPath(): string {
  return bundledPath('default.gguf');
}
