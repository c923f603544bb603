// The wasm memory plan of a loaded model and the descriptor assembly/forward.ts reads (the only
// writer of those slots; src/descriptor.ts numbers them for both sides).
//
//   [ module data | file bytes (tensors used in place) | descriptor | KV caches | scratch | logits ]
//
// One KV cache per sequence (each the whole context's keys then values, every layer). Scratch holds
// MAX_BATCH rows of every activation buffer (forward_batch runs up to that many tokens at once,
// prompt tokens and other sequences' next tokens together), a batch's ids (tokens, positions,
// sequences, logits rows), and the thread pool's control block (assembly/threads.ts).
//
// wasm32 addresses at most 4 GiB, so the plan is checked against that before anything is allocated.

import { Fairy2iError } from './errors.js';
import { LINEARS, linearShape, type ModelConfig, type ModelHeader } from './format.js';
import { TensorType } from './gguf.js';
import * as D from './descriptor.js';

export const WASM_MAX_BYTES = 65536 * 65536; // 4 GiB
const ALIGN = 64;

const DESC_SLOTS = D.D_LAYER0;

/**
 * Most tokens forward_batch runs at once (rows of each scratch buffer), and so the most sequences
 * a model holds (their decode steps share one pass). Larger batches read the weights fewer times
 * per token but keep more activations in flight: at 7B shapes 64 rows are ~12 MiB of scratch plus
 * 64 rows of logits (8 MiB).
 */
export const MAX_BATCH = 64;

/** Sizes the engine defines, asked of the loaded wasm module (wasm.ts engineSizes). */
export interface EngineSizes {
  /** First free byte after the module's static data. */
  heapBase: number;
  /** Bytes of the thread pool's control block (assembly/threads.ts). */
  ctrlBytes: number;
  /** Bytes of scratch each thread owns for the batched kernel (assembly/cmatbatch.ts). */
  threadScratchBytes: number;
  /** Bytes of a quantized linear's tables scratch for T input vectors of m complex inputs at S stages (assembly/dispatch.ts). */
  tablesBytes(m: number, S: number, T: number): number;
}

export type KvType = 'f32' | 'f16';

export interface MemoryPlan {
  base: number;
  fileSize: number;
  desc: number;
  /** Sequence 0's KV cache; sequence s's is at kv + s · kvStride. */
  kv: number;
  kvStride: number;
  /** Bytes of all the KV caches. */
  kvBytes: number;
  sequences: number;
  kvType: KvType;
  contextLength: number;
  scratch: Record<'x' | 'xb' | 'xb2' | 'q' | 'k' | 'v' | 'att' | 'hb' | 'hb2' | 'logits' | 'ids' | 'ctrl' | 'tables' | 'threads', number>;
  /** Rows of the activation and logits buffers: the largest batch forward_batch takes. */
  maxBatch: number;
  scratchBytes: number;
  /** Bytes of the thread pool's control block at scratch.ctrl. */
  ctrlBytes: number;
  total: number;
}

const up = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function kvBytesFor(c: ModelConfig, ctx: number, kv: KvType): number {
  return 2 * c.nLayers * ctx * c.nKvHeads * c.headDim * (kv === 'f16' ? 2 : 4);
}

/** The largest tables scratch over the model's quantized linears (0 when none is quantized). */
function tablesBytes(c: ModelConfig, e: EngineSizes): number {
  if (c.stages === 0) return 0;
  const kinds = [...LINEARS, ...(c.lmHeadQuantized && !c.tieLmHead ? ['output' as const] : [])];
  return Math.max(...kinds.map((k) => e.tablesBytes(linearShape(c, k)[1] / 2, c.stages, MAX_BATCH)));
}

function scratchLayout(c: ModelConfig, ctx: number, threads: number, e: EngineSizes) {
  const B = MAX_BATCH;
  const qDim = c.nHeads * c.headDim, kvDim = c.nKvHeads * c.headDim;
  // Sizes in 4-byte words.
  const sizes = {
    x: B * c.dim, xb: B * c.dim, xb2: B * Math.max(c.dim, qDim), q: B * qDim, k: B * kvDim, v: B * kvDim,
    att: c.nHeads * ctx, hb: B * c.ffnDim, hb2: B * c.ffnDim, logits: B * c.vocabSize, ids: 4 * B, ctrl: e.ctrlBytes / 4,
    // the quantized kernels' tables for B input vectors (7B at S = 2: 68 MB, 3 levels)
    tables: tablesBytes(c, e) / 4,
    // each thread's own scratch (prompts through the quantized kernels)
    threads: c.stages === 0 ? 0 : threads * e.threadScratchBytes / 4,
  };
  let at = 0;
  const off = {} as MemoryPlan['scratch'];
  for (const [k, n] of Object.entries(sizes)) {
    off[k as keyof typeof sizes] = at;
    at += up(4 * n);
  }
  return { off, bytes: at };
}

/**
 * Lays out memory for a model file of `fileSize` bytes loaded at the first 64-byte boundary past
 * the engine's heap base, for `sequences` KV caches (default 1) and up to `threads` threads
 * (default 1). With kv 'auto', the caches are f32 when that fits and f16 otherwise.
 */
export function planMemory(h: ModelHeader, e: EngineSizes, opts: { contextLength?: number; kvCache?: KvType | 'auto'; threads?: number; sequences?: number }, file: string): MemoryPlan {
  const c = h.config;
  const ctx = opts.contextLength ?? c.contextLength;
  const threads = opts.threads ?? 1;
  const seqs = opts.sequences ?? 1;
  const base = up(e.heapBase);
  const desc = up(base + h.fileSize);
  const kv = up(desc + 4 * (DESC_SLOTS + D.L_SLOTS * c.nLayers));
  const fixed = (kvt: KvType, n: number, m: number) => kv + m * up(kvBytesFor(c, n, kvt)) + scratchLayout(c, n, threads, e).bytes;
  let kvType: KvType = opts.kvCache === 'f16' ? 'f16' : 'f32';
  if ((opts.kvCache ?? 'auto') === 'auto' && fixed('f32', ctx, seqs) > WASM_MAX_BYTES) kvType = 'f16';
  const total = fixed(kvType, ctx, seqs);
  if (total > WASM_MAX_BYTES) {
    let lo = 0, hi = ctx;
    while (lo < hi) { const mid = Math.ceil((lo + hi) / 2); if (fixed(kvType, mid, seqs) <= WASM_MAX_BYTES) lo = mid; else hi = mid - 1; }
    let most = 0;
    while (most < seqs && fixed(kvType, ctx, most + 1) <= WASM_MAX_BYTES) most++;
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    const caches = seqs === 1 ? `${kvType} KV cache ${gib(kvBytesFor(c, ctx, kvType))} for a context of ${ctx}` : `${seqs} ${kvType} KV caches of ${gib(kvBytesFor(c, ctx, kvType))} for a context of ${ctx}`;
    const fits: string[] = [];
    if (lo > 0) fits.push(`the largest context that fits${seqs > 1 ? ` ${seqs} sequences` : ''} is ${lo} (contextLength: ${lo}${kvType === 'f32' ? ", or kvCache: 'f16'" : ''})`);
    if (seqs > 1 && most > 0) fits.push(`at a context of ${ctx}, ${most} sequence${most > 1 ? 's fit' : ' fits'} (sequences: ${most})`);
    throw new Fairy2iError('memory',
      `${file}: needs ${gib(total)} of wasm memory (weights ${gib(h.fileSize)}, ${caches}); wasm32 allows 4 GiB. ` +
      (fits.length ? `${fits.join('; ')}.`.replace(/^t/, 'T') : 'The weights alone do not fit.'));
  }
  const kvStride = up(kvBytesFor(c, ctx, kvType));
  const s = scratchLayout(c, ctx, threads, e);
  const scratchBase = kv + seqs * kvStride;
  const scratch = {} as MemoryPlan['scratch'];
  for (const [k, v] of Object.entries(s.off)) scratch[k as keyof typeof s.off] = scratchBase + v;
  return { base, fileSize: h.fileSize, desc, kv, kvStride, kvBytes: seqs * kvStride, sequences: seqs, kvType, contextLength: ctx, scratch, scratchBytes: s.bytes, ctrlBytes: e.ctrlBytes, maxBatch: MAX_BATCH, total };
}

/** Writes the descriptor for a file loaded at plan.base. */
export function writeDescriptor(mem: ArrayBuffer, plan: MemoryPlan, h: ModelHeader): void {
  const c = h.config;
  const n = DESC_SLOTS + D.L_SLOTS * c.nLayers;
  const u = new Uint32Array(mem, plan.desc, n);
  const f = new Float32Array(mem, plan.desc, n);
  u.fill(0);
  const addr = (name: string) => {
    const t = h.tensors.get(name);
    if (!t) throw new Error(`internal: tensor ${name} not in the plan`);
    return plan.base + h.dataOffset + t.offset;
  };
  const linear = (slot: number, prefix: string) => {
    const codes = h.tensors.get(`${prefix}.codes`);
    if (codes) {
      u[slot] = D.LIN_CODES;
      u[slot + 1] = addr(`${prefix}.codes`);
      u[slot + 2] = addr(`${prefix}.scales`);
      u[slot + 3] = plan.scratch.tables;
    } else {
      const name = h.tensors.has(`${prefix}.weight`) ? `${prefix}.weight` : 'token_embd.weight'; // tied lm_head
      u[slot] = h.tensors.get(name)!.type === TensorType.F16 ? D.LIN_F16 : D.LIN_F32;
      u[slot + 1] = addr(name);
    }
  };
  u[D.D_DIM] = c.dim; u[D.D_LAYERS] = c.nLayers; u[D.D_HEADS] = c.nHeads; u[D.D_KV_HEADS] = c.nKvHeads;
  u[D.D_HEAD_DIM] = c.headDim; u[D.D_FFN] = c.ffnDim; u[D.D_VOCAB] = c.vocabSize; u[D.D_CTX] = plan.contextLength;
  u[D.D_STAGES] = c.stages; u[D.D_KV_F16] = plan.kvType === 'f16' ? 1 : 0;
  f[D.D_RMS_EPS] = c.rmsEps; f[D.D_ROPE_THETA] = c.ropeTheta;
  u[D.D_EMBD] = addr('token_embd.weight');
  u[D.D_EMBD_F16] = h.tensors.get('token_embd.weight')!.type === TensorType.F16 ? 1 : 0;
  u[D.D_OUT_NORM] = addr('output_norm.weight');
  linear(D.D_OUTPUT, 'output');
  u[D.D_KV] = plan.kv;
  const s = plan.scratch;
  u[D.D_X] = s.x; u[D.D_XB] = s.xb; u[D.D_XB2] = s.xb2; u[D.D_Q] = s.q; u[D.D_K] = s.k; u[D.D_V] = s.v;
  u[D.D_ATT] = s.att; u[D.D_HB] = s.hb; u[D.D_HB2] = s.hb2;
  u[D.D_CTRL] = s.ctrl; u[D.D_MAX_BATCH] = plan.maxBatch; u[D.D_THREAD_SCRATCH] = s.threads;
  u[D.D_IDS] = s.ids; u[D.D_SEQUENCES] = plan.sequences; u[D.D_KV_STRIDE] = plan.kvStride;
  new Uint8Array(mem, s.ctrl, plan.ctrlBytes).fill(0);
  for (let l = 0; l < c.nLayers; l++) {
    const L = D.D_LAYER0 + l * D.L_SLOTS;
    u[L + D.L_ATTN_NORM] = addr(`blk.${l}.attn_norm.weight`);
    u[L + D.L_FFN_NORM] = addr(`blk.${l}.ffn_norm.weight`);
    LINEARS.forEach((k, i) => linear(L + D.L_LINEAR0 + 4 * i, `blk.${l}.${k}`));
  }
}
