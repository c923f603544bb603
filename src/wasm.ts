// The wasm module's exports as the host sees them, and instantiation from whatever the platform
// provides (a compiled Module for edge runtimes that forbid compiling at run time, or bytes).

export interface Fairy2iExports {
  memory: WebAssembly.Memory;
  forward(desc: number, token: number, pos: number, logits: number): void;
  bandwidth_read(ptr: number, bytes: number, reps: number): number;
  heap_base(): number;
}

export type WasmInput = WebAssembly.Module | ArrayBuffer | Uint8Array;

export async function instantiateWasm(input: WasmInput): Promise<Fairy2iExports> {
  const module = input instanceof WebAssembly.Module ? input : await WebAssembly.compile(input as BufferSource);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`wasm abort at ${line}:${col}`);
      },
    },
  });
  return instance.exports as unknown as Fairy2iExports;
}

/** First free byte after the module's static data: the host's allocations start there. */
export function heapBase(ex: Fairy2iExports): number {
  return ex.heap_base();
}
