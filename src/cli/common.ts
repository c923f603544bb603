// Pieces the model-running commands share: the -m flag, loading with a progress line, reading a
// prompt from a flag, a file or stdin.

import { existsSync, readFileSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import type { Model, Precision } from '../model.js';
import { defaultModelPath, loadModel } from '../node.js';
import type { FlagSpec } from './args.js';
import type { WasmBuild } from '../wasm.js';

export const modelFlags: Record<string, FlagSpec> = {
  model: { type: 'string', alias: 'm', arg: 'file', help: 'Fairy2i model file (default: the bundled model)' },
  ctx: { type: 'int', alias: 'c', min: 1, arg: 'n', help: "context length to allocate (default: the model's)" },
  threads: { type: 'int', min: 1, max: 256, arg: 'n', help: 'threads to run the model on (default: all cores; 1 for models too small to split)' },
  precision: { type: 'string', choices: ['fast', 'exact'], default: 'fast', arg: 'fast|exact', help: "quantized linears' tables: 'fast' int8, 'exact' ~20-bit (~3x slower)" },
  wasm: { type: 'string', choices: ['auto', 'relaxed', 'simd128'], default: 'auto', arg: 'auto|relaxed|simd128', help: "engine build: 'relaxed' needs relaxed SIMD (Node >= 22), 'simd128' runs everywhere; 'auto' picks" },
};

export async function openModel(flags: Record<string, unknown>, quiet = false): Promise<Model> {
  const path = (flags.model as string | undefined) ?? defaultModelPath();
  if (!flags.model && !existsSync(path)) {
    throw new Fairy2iError('input', `no model given and the bundled model is missing (${path}); pass -m FILE (make one with 'fairy2i-wasm convert')`);
  }
  const tty = !quiet && process.stderr.isTTY;
  const model = await loadModel(path, {
    contextLength: flags.ctx as number | undefined,
    threads: flags.threads as number | undefined,
    precision: flags.precision as Precision,
    wasm: flags.wasm as WasmBuild | 'auto',
    onProgress: tty ? ({ loaded, total }) => process.stderr.write(`\rloading ${path}: ${((100 * loaded) / total).toFixed(0)}%`) : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  return model;
}

export function readTextArg(value: string | undefined, file: string | undefined, what: string): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new Fairy2iError('input', `${file}: cannot read the ${what} file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return value;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
