// The wasm module's exports as the host sees them, and instantiation from whatever the platform
// provides (a compiled Module for edge runtimes that forbid compiling at run time, or bytes).
//
// The module is built with threads and imports its memory (asconfig.json: importMemory,
// sharedMemory, initialMemory 2, maximumMemory 65536): every instance, the host's and each worker
// thread's, runs over one shared WebAssembly.Memory of up to 4 GiB. Creating a shared memory needs
// no cross-origin isolation (Chromium, Deno, Bun, Node and workerd all allow it); only posting it to
// a worker does, which is where src/threads.ts falls back to one thread.

import { Fairy2iError, OptionError } from './errors.js';
import type { EngineSizes } from './layout.js';
import { RELAXED_PROBE } from './relaxed-probe.mjs';

export interface Fairy2iExports {
  memory: WebAssembly.Memory;
  forward(desc: number, token: number, pos: number, logits: number): void;
  /** A batch: tokens, positions, sequences (i32 arrays of T), logits rows for the nOut tokens listed at outs. */
  forward_batch(desc: number, tokens: number, pos: number, seqs: number, T: number, logits: number, outs: number, nOut: number): void;
  /** Table digit levels of the quantized linears (1: int8, or 3; 0: the scalar reference), for this instance's calls. */
  set_kernel(levels: number): void;
  /** 1 in the relaxed-SIMD build, 0 in the SIMD128 one. */
  kernel_build(): number;
  worker_main(ctrl: number, tid: number): void;
  threads_stop(ctrl: number): void;
  bandwidth_read(ptr: number, bytes: number, reps: number): number;
  heap_base(): number;
  ctrl_bytes(): number;
  cmatbatch_scratch_bytes(): number;
  linear_codes_scratch_bytes(m: number, S: number, T: number): number;
}

export type WasmInput = WebAssembly.Module | ArrayBuffer | Uint8Array;

/**
 * The two builds of the engine (asconfig.json targets): 'relaxed' (build/fairy2i-relaxed.wasm) uses
 * relaxed SIMD where its results are deterministic (i8x16.relaxed_swizzle with 4-bit indices, so
 * bit-identical to the other); 'simd128' (build/fairy2i.wasm) runs where relaxed SIMD is off (Node
 * 20, Safari). 'auto' picks 'relaxed' where the runtime validates it.
 */
export type WasmBuild = 'relaxed' | 'simd128';
export const WASM_BUILDS: readonly (WasmBuild | 'auto')[] = ['auto', 'relaxed', 'simd128'];
export const WASM_FILES: Record<WasmBuild, string> = { relaxed: 'fairy2i-relaxed.wasm', simd128: 'fairy2i.wasm' };

let relaxed: boolean | null = null;
/** Whether this runtime runs relaxed SIMD (WebAssembly.validate of a tiny module using it). */
export function relaxedSimdSupported(): boolean {
  relaxed ??= WebAssembly.validate(RELAXED_PROBE);
  return relaxed;
}

/** The build a loadModel `wasm` option names (default 'auto'), or null when it is a module or bytes. */
export function pickBuild(request: WasmInput | WasmBuild | 'auto' | undefined): WasmBuild | null {
  if (request !== undefined && typeof request !== 'string') return null;
  const r = (request ?? 'auto') as WasmBuild | 'auto';
  if (!WASM_BUILDS.includes(r)) throw new OptionError('wasm', `is ${JSON.stringify(r)}, expected 'auto', 'relaxed', 'simd128', a WebAssembly.Module or the bytes of a .wasm`);
  if (r === 'auto') return relaxedSimdSupported() ? 'relaxed' : 'simd128';
  if (r === 'relaxed' && !relaxedSimdSupported()) {
    throw new Fairy2iError('unsupported', "wasm 'relaxed': this runtime does not enable relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd); use 'simd128' or 'auto'");
  }
  return r;
}

/** Pages the module's memory import asks for at least (asconfig.json initialMemory). */
export const WASM_INITIAL_PAGES = 2;
/** wasm32's 4 GiB, the import's maximum (asconfig.json maximumMemory); a shared memory must declare it. */
export const WASM_MAX_PAGES = 65536;

/** A fresh shared memory the module can import: initial pages as the module asks, growable to 4 GiB. */
export function createMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: WASM_INITIAL_PAGES, maximum: WASM_MAX_PAGES, shared: true });
}

export async function compileWasm(input: WasmInput): Promise<WebAssembly.Module> {
  return input instanceof WebAssembly.Module ? input : WebAssembly.compile(input as BufferSource);
}

/** The imports of every instance: the memory, and abort (unused: the build replaces it). */
export function wasmImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`wasm abort at ${line}:${col}`);
      },
    },
  };
}

/** An instance over `memory` (a new shared memory when omitted). */
export async function instantiateWasm(input: WasmInput, memory: WebAssembly.Memory = createMemory()): Promise<Fairy2iExports> {
  const instance = await WebAssembly.instantiate(await compileWasm(input), wasmImports(memory));
  return instance.exports as unknown as Fairy2iExports;
}

/** First free byte after the module's static data: the host's allocations start there. */
export function heapBase(ex: Fairy2iExports): number {
  return ex.heap_base();
}

/** The sizes the memory plan needs, as this module defines them (layout.ts EngineSizes). */
export function engineSizes(ex: Fairy2iExports): EngineSizes {
  return {
    heapBase: ex.heap_base(),
    ctrlBytes: ex.ctrl_bytes(),
    threadScratchBytes: ex.cmatbatch_scratch_bytes(),
    tablesBytes: (m, S, T) => ex.linear_codes_scratch_bytes(m, S, T),
  };
}
