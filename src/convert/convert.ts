// `convert`: a source checkpoint → a Fairy2i model file, one tensor at a time (bounded memory).
// The output is written to a temporary file beside the target and renamed at the end, so an error,
// Ctrl-C or kill leaves no partial file and an existing target untouched.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { AbortError, Fairy2iError, OptionError } from '../errors.js';
import { encodeModelHeader, linearShape, LINEARS, MAX_STAGES, placeholderVocab, type LinearKind, packCodes, type ModelConfig, type PlannedTensor } from '../format.js';
import { toHalfArray } from '../half.js';
import { quantizeLinear, type QuantizedLinear } from './quantize.js';
import { quantizeLinearBf16 } from './quantize-bf16.js';
import type { TokenizerVocab } from '../tokenizer.js';
import { VERSION } from '../version.js';
import type { Checkpoint, TensorRole } from './checkpoint.js';
import { openCheckpoint } from './open-checkpoint.js';
import { Progress } from './progress.js';
import { removeStaleTemps, resolveOutputTarget, tempPathFor } from './output-target.js';

export interface ConvertOptions {
  output: string;
  /** 0 keeps every linear in float; 1..4 residual stages (default 2, Fairy2i-W2). */
  stages?: number;
  keepLmHeadFloat?: boolean;
  /** Storage of the embedding and float linears. */
  float?: 'f32' | 'f16';
  /** llama2.c tokenizer file, when not beside the model. */
  tokenizer?: string;
  quiet?: boolean;
  /**
   * The quantizer's arithmetic: 'bf16' = the authors' bfloat16 inference quantizer
   * (quantize-bf16.ts), 'f32' = float32 PhaseQuant (quantize.ts).
   * @default 'bf16' when the checkpoint's linear weights are BF16, else 'f32'
   */
  arithmetic?: 'f32' | 'bf16';
  /** Shown as the source in the file's metadata (defaults to the input path). */
  source?: string;
  /** Receives one-line notices (a stale temporary of a killed convert removed). @default none */
  onNotice?: (message: string) => void;
  /** An open checkpoint to read instead of opening `input` (a remote one, src/hub); closed at the end. */
  checkpoint?: Checkpoint;
  /**
   * Write through this resumable partial file instead of a temporary: an interrupted conversion
   * keeps it, and the next call with the same path and the same output header continues after the
   * last tensor it completed (see writeResumably).
   */
  partial?: string;
}

export interface ConvertResult {
  output: string;
  bytes: number;
  seconds: number;
  config: ModelConfig;
}

export async function convert(input: string, opts: ConvertOptions): Promise<ConvertResult> {
  const stages = opts.stages ?? 2;
  if (!Number.isInteger(stages) || stages < 0 || stages > MAX_STAGES) throw new OptionError('--stages', `is ${stages}, expected an integer from 0 to ${MAX_STAGES}`);
  const floatType = opts.float ?? 'f32';
  if (floatType !== 'f32' && floatType !== 'f16') throw new OptionError('--float', `is ${floatType}, expected f32 or f16`);
  const t0 = Date.now();
  const ck = opts.checkpoint ?? openCheckpoint(input, { tokenizer: opts.tokenizer });
  try {
    // Before anything is written: the target must be a regular file (or absent) and none of the inputs.
    const target = resolveOutputTarget(opts.output, ck.inputs);
    for (const p of removeStaleTemps(target)) opts.onNotice?.(`removed ${p}, left by a convert that was killed`);
    ck.validate();
    const arithmetic = opts.arithmetic ?? (ck.linearDtype === 'BF16' ? 'bf16' : 'f32');
    if (arithmetic !== 'f32' && arithmetic !== 'bf16') throw new OptionError('--arithmetic', `is ${arithmetic}, expected f32 or bf16`);
    const config = { ...buildConfig(ck, input, stages, !!opts.keepLmHeadFloat, floatType, opts.source), ...(stages > 0 ? { arithmetic } : {}) };
    const vocab = fitVocab(ck.vocab, config.vocabSize, input);
    const { header, plan, tensors, dataSize } = encodeModelHeader(config, vocab);
    const bytes = header.length + dataSize;
    const write = opts.partial ? writeResumably.bind(null, opts.partial, header) : writeAtomically;
    await write(target, opts.output, async (fd: number, from = 0, completed = (_done: number) => {}) => {
      if (from === 0) writeAll(fd, header, 0, opts.output);
      // Progress in source bytes; f16/bf16 sources hold fewer bytes per float read back.
      const elements = plan.reduce((a, p) => a + (p.role.kind === 'scales' ? 0 : p.role.kind === 'codes' ? linearShape(config, p.role.linear).reduce((x, y) => x * y) : p.dims.reduce((x, y) => x * y)), 0);
      const progress = new Progress(ck.totalBytes, ck.totalBytes / elements, !!opts.quiet);
      let pending: { key: string; q: QuantizedLinear } | null = null;
      for (let i = from; i < plan.length; i++) {
        const p = plan[i];
        if (p.role.kind !== 'scales') await ck.prefetch?.(roleOf(p));
        const data = tensorBytes(ck, config, p, pending, (q) => (pending = q), progress);
        if (data.length !== p.size) throw new Error(`internal: ${p.name} is ${data.length} bytes, planned ${p.size}`);
        writeAll(fd, data, header.length + tensors[i].offset, opts.output);
        if (!pending) completed(i + 1);
        await yieldToSignals();
      }
      progress.done();
    });
    return { output: opts.output, bytes, seconds: (Date.now() - t0) / 1000, config };
  } finally {
    ck.close();
  }
}

function buildConfig(ck: Checkpoint, input: string, stages: number, keepLmHeadFloat: boolean, floatType: 'f32' | 'f16', source?: string): ModelConfig {
  const h = ck.hyper;
  const lmHeadQuantized = stages > 0 && !keepLmHeadFloat;
  if (stages > 0) {
    const kinds: (LinearKind | 'output')[] = [...LINEARS, ...(lmHeadQuantized ? ['output' as const] : [])];
    const base = { ...h, stages, floatType } as unknown as ModelConfig;
    for (const k of kinds) {
      const [o, i] = linearShape(base, k);
      if (o % 2 || i % 2) {
        throw new Fairy2iError('unsupported', `${input}: ${k} is ${o}x${i}, an odd size; the widely-linear split needs even in/out sizes (convert with --stages 0${k === 'output' ? ' or --keep-lm-head-float' : ''})`);
      }
    }
  }
  return {
    name: h.name, contextLength: h.contextLength, dim: h.dim, nLayers: h.nLayers, ffnDim: h.ffnDim,
    nHeads: h.nHeads, nKvHeads: h.nKvHeads, headDim: h.headDim, rmsEps: h.rmsEps, ropeTheta: h.ropeTheta,
    vocabSize: h.vocabSize, stages, lmHeadQuantized,
    // A tied lm_head that gets quantized is stored as its own tensor (the embedding lookup stays float).
    tieLmHead: h.tied && !lmHeadQuantized,
    floatType, source: source ?? input, sourceFormat: ck.format, converter: `fairy2i-wasm ${VERSION}`,
  };
}

/** Models often pad the vocabulary past the tokenizer: the extra ids become unused pieces. */
function fitVocab(v: TokenizerVocab | null, size: number, input: string): TokenizerVocab {
  if (!v) return placeholderVocab(size);
  if (v.tokens.length > size) throw new Fairy2iError('unsupported', `${input}: the tokenizer has ${v.tokens.length} pieces but the model's vocab_size is ${size}`);
  if (v.tokens.length === size) return v;
  const extra = size - v.tokens.length;
  const tokens = [...v.tokens, ...Array.from({ length: extra }, (_, i) => `<pad${v.tokens.length + i}>`)];
  const scores = new Float32Array(size); scores.set(v.scores);
  const types = new Int32Array(size).fill(5); types.set(v.types);
  return { ...v, tokens, scores, types };
}

function roleOf(p: PlannedTensor): TensorRole {
  const r = p.role;
  if (r.kind === 'embedding' || r.kind === 'norm') return r;
  return { kind: 'linear', layer: r.layer, linear: r.linear };
}

function tensorBytes(ck: Checkpoint, c: ModelConfig, p: PlannedTensor, pending: { key: string; q: QuantizedLinear } | null,
  setPending: (q: { key: string; q: QuantizedLinear } | null) => void, progress: Progress): Uint8Array {
  const r = p.role;
  const key = p.name.replace(/\.(codes|scales)$/, '');
  if (r.kind === 'scales') {
    if (!pending || pending.key !== key) throw new Error(`internal: scales of ${key} before its codes`);
    setPending(null);
    return u8(pending.q.scales);
  }
  const data = ck.read(roleOf(p));
  progress.add(data.length * progress.unit, p.name);
  if (r.kind === 'codes') {
    const [rows, cols] = linearShape(c, r.linear);
    const q = (c.arithmetic === 'bf16' ? quantizeLinearBf16 : quantizeLinear)(data, rows, cols, c.stages);
    setPending({ key, q });
    return packCodes(q.codesU, q.codesW, q.n, q.m);
  }
  if (r.kind === 'norm' || c.floatType === 'f32') return u8(data);
  return u8(toHalfArray(data));
}

function u8(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeAll(fd: number, data: Uint8Array, pos: number, target: string): void {
  let done = 0;
  while (done < data.length) {
    try {
      done += writeSync(fd, data, done, data.length - done, pos + done);
    } catch (e) {
      throw ioError(target, e);
    }
  }
}

/** Errors from writing the output (not from reading the source): writeResumably drops its partial on these. */
const writeFailures = new WeakSet<Error>();

function ioError(target: string, e: unknown): Fairy2iError {
  const err = writeError(target, e);
  writeFailures.add(err);
  return err;
}

function writeError(target: string, e: unknown): Fairy2iError {
  const code = (e as NodeJS.ErrnoException).code;
  const what = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOENT' ? 'the directory does not exist' : code === 'EROFS' ? 'read-only file system' : (e as Error).message;
  return new Fairy2iError('io', `${target}: cannot write (${what}${code ? `, ${code}` : ''}); no output was written`);
}

let interrupted: string | null = null;
const onSignal = (sig: string) => () => { interrupted = sig; };
function yieldToSignals(): Promise<void> {
  return new Promise((resolve, reject) => setImmediate(() => (interrupted ? reject(new AbortError(`interrupted by ${interrupted}`)) : resolve())));
}

/** Catches SIGINT/SIGTERM/SIGHUP while `body` runs: yieldToSignals then rejects, so `body` cleans up. */
async function catchingSignals(body: () => Promise<void>): Promise<void> {
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, onSignal(s)] as const);
  interrupted = null;
  for (const [s, h] of handlers) process.on(s, h);
  try {
    await body();
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}

/** Runs `write` on a temporary file beside `target`, then renames it over the target (`shown` in errors). */
async function writeAtomically(target: string, shown: string, write: (fd: number, from?: number) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(target);
  // Handlers go in before the temporary exists, so a signal can never leave it behind.
  await catchingSignals(async () => {
    let fd = -1;
    let created = false;
    let ok = false;
    try {
      try {
        fd = openSync(tmp, 'wx');
        created = true;
      } catch (e) {
        throw ioError(shown, e);
      }
      await write(fd);
      try {
        fsyncSync(fd);
      } catch (e) {
        throw ioError(shown, e);
      }
      closeSync(fd);
      fd = -1;
      try {
        renameSync(tmp, target);
      } catch (e) {
        throw ioError(shown, e);
      }
      ok = true;
    } finally {
      if (!ok && created) {
        if (fd >= 0) try { closeSync(fd); } catch { /* already closed */ }
        try { unlinkSync(tmp); } catch { /* already gone */ }
      }
    }
  });
}

/**
 * Like writeAtomically, but through a partial file that survives an interruption, so a long
 * (streamed) conversion resumes instead of starting over. Beside it, `<partial>.state` holds the
 * sha256 of the output header and how many planned tensors are complete; it is updated after a
 * tensor's bytes are on disk (fdatasync first), and only between whole linears (codes + scales),
 * so resuming never needs a quantization it did not keep. A partial whose header differs (other
 * options, other source commit) is started again. A full disk or any write error removes both
 * files (nothing partial is left); other failures (network, signals) keep them for the next run.
 */
async function writeResumably(partial: string, header: Uint8Array, target: string, shown: string,
  write: (fd: number, from: number, completed: (n: number) => void) => Promise<void>): Promise<void> {
  const statePath = `${partial}.state`;
  const headerHash = createHash('sha256').update(header).digest('hex');
  let from = 0;
  if (existsSync(partial) && existsSync(statePath)) {
    try {
      const st = JSON.parse(readFileSync(statePath, 'utf8'));
      if (st.header === headerHash && Number.isInteger(st.done) && st.done > 0) from = st.done;
    } catch { /* unreadable state: start again */ }
  }
  await catchingSignals(async () => {
    let fd = -1;
    let ok = false;
    let ioFailed = false;
    try {
      try {
        fd = openSync(partial, from > 0 ? 'r+' : 'w');
      } catch (e) {
        throw ioError(shown, e);
      }
      if (from > 0 && fstatSync(fd).size < header.length) from = 0;
      const completed = (n: number) => {
        try {
          fdatasyncSync(fd);
          writeFileSync(`${statePath}.tmp`, JSON.stringify({ header: headerHash, done: n }));
          renameSync(`${statePath}.tmp`, statePath);
        } catch (e) {
          throw ioError(shown, e);
        }
      };
      try {
        await write(fd, from, completed);
        fsyncSync(fd);
        closeSync(fd);
        fd = -1;
        renameSync(partial, target);
      } catch (e) {
        // A system error from the fs calls here (the rename, the final sync) is a write failure too.
        const raw = !(e instanceof Fairy2iError) && /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code ?? ''));
        ioFailed = raw || writeFailures.has(e as Error);
        throw raw ? ioError(shown, e) : e;
      }
      ok = true;
      try { unlinkSync(statePath); } catch { /* already gone */ }
    } finally {
      if (fd >= 0) try { closeSync(fd); } catch { /* already closed */ }
      if (!ok && ioFailed) for (const f of [partial, statePath, `${statePath}.tmp`]) try { unlinkSync(f); } catch { /* already gone */ }
    }
  });
}
