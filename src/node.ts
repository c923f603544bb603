// The library entry for Node, Deno and Bun: load from a path, a URL, bytes or a Response.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Model, type ModelLoadOptions } from './model.js';
import { fileSource } from './node/file-source.js';
import { bytesSource, responseSource, urlSource, type ByteSource } from './sources.js';
import { nodeThreads } from './node/threads.js';
import { WASM_FILES, pickBuild, type WasmBuild, type WasmInput } from './wasm.js';

export { Model } from './model.js';
export type { ModelLoadOptions, LoadProgress, Precision } from './model.js';
export { Tokenizer } from './tokenizer.js';
export { Fairy2iError, FormatError, OptionError, AbortError } from './errors.js';
/** Internal, not part of the API (may change): the thread split's tuning; the cross-runtime tests split tiny models with it. */
export { threadTuning as _threadTuning } from './threads.js';

export type ModelSource = string | URL | ArrayBuffer | Uint8Array | Response;

export interface LoadOptions extends ModelLoadOptions {
  /**
   * The engine's wasm: 'auto' (the relaxed-SIMD build where the runtime runs relaxed SIMD, else the
   * SIMD128 one), 'relaxed' or 'simd128' to force a build of this package, or a compiled module or its bytes.
   * @default 'auto'
   */
  wasm?: WasmInput | WasmBuild | 'auto';
}

const builds: Partial<Record<WasmBuild, Promise<WebAssembly.Module>>> = {};
/** The compiled module of one of this package's builds (default: the one 'auto' picks). */
export function wasmModule(build: WasmBuild = pickBuild('auto')!): Promise<WebAssembly.Module> {
  builds[build] ??= readFile(new URL(`../build/${WASM_FILES[build]}`, import.meta.url)).then((b) => WebAssembly.compile(b));
  return builds[build];
}

export async function toSource(source: ModelSource, signal?: AbortSignal): Promise<ByteSource> {
  if (typeof source === 'string' && /^https?:\/\//.test(source)) return urlSource(source, signal);
  if (source instanceof URL) return source.protocol === 'file:' ? fileSource(source.pathname) : urlSource(source, signal);
  if (typeof source === 'string') return fileSource(source);
  if (source instanceof Response) return responseSource(source);
  return bytesSource(source);
}

/** Loads a Fairy2i model file into a new wasm instance. */
export async function loadModel(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
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
