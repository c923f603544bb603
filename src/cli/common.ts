// Pieces the model-running commands share: the -m flag, loading with a progress line, reading a
// prompt from a flag, a file or stdin.

import { existsSync, readFileSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import type { Model, Precision } from '../model.js';
import { defaultModelPath, loadModel } from '../node.js';
import type { FlagSpec } from './args.js';

export const modelFlags: Record<string, FlagSpec> = {
  model: { type: 'string', alias: 'm', arg: 'file', help: 'Fairy2i model file, or hf:OWNER/REPO[@REV][/FILE] from the Hugging Face Hub (default: the bundled model)' },
  ctx: { type: 'int', alias: 'c', min: 1, arg: 'n', help: "context length to allocate (default: the model's)" },
  threads: { type: 'int', min: 1, max: 256, arg: 'n', help: 'threads to run the model on (default: all cores; 1 for models too small to split)' },
  precision: { type: 'string', choices: ['fast', 'exact'], default: 'fast', arg: 'fast|exact', help: "quantized linears' tables: 'fast' ~14-bit, 'exact' ~20-bit (~1.4x slower)" },
};

export async function openModel(flags: Record<string, unknown>, quiet = false): Promise<Model> {
  let path = (flags.model as string | undefined) ?? defaultModelPath();
  if (path.startsWith('hf:')) path = (await (await import('../hub/pull.js')).pull(path, { quiet })).path;
  if (!flags.model && !existsSync(path)) {
    throw new Fairy2iError('input', `no model given and the bundled model is missing (${path}); pass -m FILE (make one with 'fairy2i-wasm convert')`);
  }
  const tty = !quiet && process.stderr.isTTY;
  const model = await loadModel(path, {
    contextLength: flags.ctx as number | undefined,
    threads: flags.threads as number | undefined,
    precision: flags.precision as Precision,
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
