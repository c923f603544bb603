// Pieces the model-running commands share: the -m flag, loading with a progress line, reading a
// prompt from a flag, a file or stdin (no more of it than the context can hold), and output into a
// pipe that closes early.

import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import type { Model, Precision } from '../model.js';
import { defaultModelPath, loadModel, type LoadOptions } from '../node.js';
import type { FlagSpec } from './args.js';
import type { WasmBuild } from '../wasm.js';

export const modelFlags: Record<string, FlagSpec> = {
  model: { type: 'string', alias: 'm', arg: 'file', help: 'Fairy2i model file, or hf:OWNER/REPO[@REV][/FILE] from the Hugging Face Hub (default: the bundled model)' },
  ctx: { type: 'int', alias: 'c', min: 1, arg: 'n', help: "context length to allocate (default: the model's)" },
  threads: { type: 'int', min: 1, max: 256, arg: 'n', help: 'threads to run the model on, at most the cores available (default: all cores; 1 for models too small to split)' },
  precision: { type: 'string', choices: ['fast', 'exact'], default: 'fast', arg: 'fast|exact', help: "quantized linears' tables: 'fast' int8, 'exact' ~20-bit (~3x slower)" },
  wasm: { type: 'string', choices: ['auto', 'relaxed', 'simd128'], default: 'auto', arg: 'auto|relaxed|simd128', help: "engine build: 'relaxed' needs relaxed SIMD (Node >= 22), 'simd128' runs everywhere; 'auto' picks" },
};

/** A model path as given (-m or a positional), with hf: sources pulled into the cache first. */
export async function localModelPath(given: string, quiet = false): Promise<string> {
  return given.startsWith('hf:') ? (await (await import('../hub/pull.js')).pull(given, { quiet })).path : given;
}

export async function openModel(flags: Record<string, unknown>, quiet = false, load: LoadOptions = {}): Promise<Model> {
  const path = await localModelPath((flags.model as string | undefined) ?? defaultModelPath(), quiet);
  if (!flags.model && !existsSync(path)) {
    throw new Fairy2iError('input', `no model given and the bundled model is missing (${path}); pass -m FILE (make one with 'fairy2i-wasm convert')`);
  }
  const tty = !quiet && process.stderr.isTTY;
  const model = await loadModel(path, {
    contextLength: flags.ctx as number | undefined,
    threads: flags.threads as number | undefined,
    precision: flags.precision as Precision,
    wasm: flags.wasm as WasmBuild | 'auto',
    ...load,
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

/**
 * Most bytes of text worth reading for a prompt of `model`: a token covers at most its longest piece
 * (U+2581 is 3 bytes for a 1-byte space, so this over-counts), plus a margin for BOS and control
 * tokens. Only texts the tokenizer shrinks (runs of whitespace it collapses, runs of unknown
 * characters) could fit beyond it; those are refused too, instead of reading /dev/zero into memory.
 */
export function promptByteLimit(model: Model): number {
  let piece = 4; // a character without a piece is one unknown token (UTF-8: at most 4 bytes)
  const enc = new TextEncoder();
  for (const t of model.tokenizer?.vocab.tokens ?? []) piece = Math.max(piece, enc.encode(t).length);
  return model.contextLength * piece + 4096;
}

function tooLong(what: string, limit: number, model: Model): Fairy2iError {
  return new Fairy2iError('option', `${what} has more than ${limit} bytes, more than the context of ${model.contextLength} tokens can hold; shorten it or give a longer --ctx`);
}

/** Opens a prompt file now (so a missing one is reported before the model loads); read it with readPromptFile. */
export function openPromptFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw new Fairy2iError('input', `${file}: cannot read the prompt file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Reads (and closes) a prompt file opened by openPromptFile: at most promptByteLimit(model) bytes. */
export function readPromptFile(fd: number, file: string, model: Model): string {
  const limit = promptByteLimit(model);
  const buf = Buffer.alloc(limit + 1);
  let n = 0;
  try {
    for (let k; n < buf.length && (k = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += k;
  } catch (e) {
    throw new Fairy2iError('input', `${file}: cannot read the prompt file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    closeSync(fd);
  }
  if (n > limit) throw tooLong(`the prompt file ${file}`, limit, model);
  return buf.toString('utf8', 0, n);
}

/** The prompt on stdin, read up to promptByteLimit(model) bytes. */
export async function readStdinPrompt(model: Model): Promise<string> {
  const limit = promptByteLimit(model);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n > limit) {
      process.stdin.destroy();
      throw tooLong('the prompt on stdin', limit, model);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Lines of `input` (without their newline), none longer than promptByteLimit(model): a longer one
 * stops the reading with the context error before it is held whole in memory.
 */
export async function* boundedLines(input: AsyncIterable<Buffer | string>, model: Model, what: string): AsyncGenerator<string> {
  const limit = promptByteLimit(model);
  let parts: Buffer[] = [];
  let size = 0;
  const line = () => {
    const s = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
    parts = [];
    size = 0;
    return s;
  };
  for await (const c of input) {
    let b = typeof c === 'string' ? Buffer.from(c) : c;
    for (let nl; (nl = b.indexOf(10)) >= 0; b = b.subarray(nl + 1)) {
      if (size + nl > limit) throw tooLong(what, limit, model);
      parts.push(b.subarray(0, nl));
      yield line();
    }
    size += b.length;
    if (size > limit) throw tooLong(what, limit, model);
    if (b.length) parts.push(b);
  }
  if (size > 0) yield line();
}

/**
 * Output into a pipe whose reader has gone (`| head -c 10`): exit quietly, as `yes | head` does,
 * instead of dying on an unhandled 'error' event with a stack trace. Other write errors are one line.
 */
export function exitQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && stream === process.stdout) {
        try { process.stderr.write(`fairy2i-wasm: cannot write the output (${e.code ?? e.message})\n`); } catch { /* stderr is gone too */ }
      }
      process.exit(e.code === 'EPIPE' ? 0 : 1);
    });
  }
}
