// The wasm memory plan of a loaded model and the descriptor assembly/forward.ts reads (the only
// writer of those slots; keep the slot numbers in sync with forward.ts).
//
//   [ module data | file bytes (tensors used in place) | descriptor | KV cache | scratch | logits ]
//
// Scratch holds MAX_BATCH rows of every activation buffer (forward_batch runs up to that many
// prompt tokens at once; decode uses row 0), the token ids of a batch, and the thread pool's
// control block (assembly/threads.ts).
//
// wasm32 addresses at most 4 GiB, so the plan is checked against that before anything is allocated.

import { Fairy2iError } from './errors.js';
import { LINEARS, linearShape, type ModelConfig, type ModelHeader } from './format.js';
import { TensorType } from './gguf.js';

export const WASM_MAX_BYTES = 65536 * 65536; // 4 GiB
const ALIGN = 64;

const D = {
  DIM: 0, LAYERS: 1, HEADS: 2, KV_HEADS: 3, HEAD_DIM: 4, FFN: 5, VOCAB: 6, CTX: 7, STAGES: 8, KV_F16: 9,
  RMS_EPS: 10, ROPE_THETA: 11, EMBD: 12, EMBD_F16: 13, OUT_NORM: 14, OUTPUT: 15, KV: 19,
  X: 20, XB: 21, XB2: 22, Q: 23, K: 24, V: 25, ATT: 26, HB: 27, HB2: 28, CTRL: 29, MAX_BATCH: 30, THREAD_SCRATCH: 31, LAYER0: 32,
} as const;
const L_SLOTS = 30;
const DESC_SLOTS = D.LAYER0;

/**
 * Most tokens forward_batch runs at once (rows of each scratch buffer). Larger batches read the
 * weights fewer times per token but keep more activations in flight: at 7B shapes 64 rows are
 * ~12 MiB of scratch plus 64 rows of logits (8 MiB).
 */
export const MAX_BATCH = 64;
/** Bytes of the thread pool's control block (assembly/threads.ts CTRL_BYTES). */
export const CTRL_BYTES = 256;
/**
 * Bytes of scratch each thread owns for the batched kernel (assembly/cmatbatch.ts
 * cmatbatch_scratch_bytes; keep in sync; tested): expanded tables of 16 records × 16 KiB, then the
 * sums of a group of 4096 rows, 256 bytes each.
 */
export const THREAD_SCRATCH_BYTES = 16 * 16384 + 4096 * 256;

export type KvType = 'f32' | 'f16';

export interface MemoryPlan {
  base: number;
  fileSize: number;
  desc: number;
  kv: number;
  kvBytes: number;
  kvType: KvType;
  contextLength: number;
  scratch: Record<'x' | 'xb' | 'xb2' | 'q' | 'k' | 'v' | 'att' | 'hb' | 'hb2' | 'logits' | 'tokens' | 'ctrl' | 'tables' | 'threads', number>;
  /** Rows of the activation and logits buffers: the largest batch forward_batch takes. */
  maxBatch: number;
  scratchBytes: number;
  total: number;
}

const up = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function kvBytesFor(c: ModelConfig, ctx: number, kv: KvType): number {
  return 2 * c.nLayers * ctx * c.nKvHeads * c.headDim * (kv === 'f16' ? 2 : 4);
}

/**
 * Bytes of a quantized linear's tables scratch for T input vectors (assembly/cmatvec.ts
 * linear_codes_scratch_bytes; keep in sync; tested): the most either precision uses.
 * - 'exact': T vectors' tables at 3 digit levels, each a 64-byte header, one f32 per block of 64
 *   inputs (padded to 64 bytes), then 192 bytes per input pair and stage;
 * - 'fast': T vectors' int8 tables (1 level, 64 bytes per pair and stage), then for each whole group
 *   of 16 vectors their transposed tables (cmatbatch.ts: 64 bytes per block, padded, then 1 KiB per
 *   pair and stage).
 * m: complex inputs.
 */
export function kernelScratchBytes(m: number, stages: number, T: number): number {
  const pairs = Math.ceil(m / 2), blocks = Math.ceil(pairs / 32);
  const perVector = (levels: number) => 64 + up(4 * blocks) + pairs * stages * 64 * levels;
  const exact = T * perVector(3);
  const fast = T * perVector(1) + Math.floor(T / 16) * (up(64 * blocks) + pairs * stages * 1024);
  return Math.max(exact, fast);
}

/** The largest kernelScratchBytes over the model's quantized linears (0 when none is quantized). */
function tablesBytes(c: ModelConfig): number {
  if (c.stages === 0) return 0;
  const kinds = [...LINEARS, ...(c.lmHeadQuantized && !c.tieLmHead ? ['output' as const] : [])];
  return Math.max(...kinds.map((k) => {
    const inp = linearShape(c, k)[1];
    return kernelScratchBytes(inp / 2, c.stages, MAX_BATCH);
  }));
}

function scratchLayout(c: ModelConfig, ctx: number, threads: number) {
  const B = MAX_BATCH;
  const qDim = c.nHeads * c.headDim, kvDim = c.nKvHeads * c.headDim;
  // Sizes in 4-byte words.
  const sizes = {
    x: B * c.dim, xb: B * c.dim, xb2: B * Math.max(c.dim, qDim), q: B * qDim, k: B * kvDim, v: B * kvDim,
    att: c.nHeads * ctx, hb: B * c.ffnDim, hb2: B * c.ffnDim, logits: B * c.vocabSize, tokens: B, ctrl: CTRL_BYTES / 4,
    // the quantized kernels' tables for B input vectors (7B at S = 2: 68 MB, 3 levels)
    tables: tablesBytes(c) / 4,
    // each thread's own scratch (prompts through the quantized kernels)
    threads: c.stages === 0 ? 0 : threads * THREAD_SCRATCH_BYTES / 4,
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
 * `heapBase`, for up to `threads` threads (default 1). With kv 'auto', the cache is f32 when that
 * fits and f16 otherwise.
 */
export function planMemory(h: ModelHeader, heapBase: number, opts: { contextLength?: number; kvCache?: KvType | 'auto'; threads?: number }, file: string): MemoryPlan {
  const c = h.config;
  const ctx = opts.contextLength ?? c.contextLength;
  const threads = opts.threads ?? 1;
  const base = up(heapBase);
  const fixed = (kv: KvType, n: number) => up(base + h.fileSize) + up(4 * (DESC_SLOTS + L_SLOTS * c.nLayers)) + up(kvBytesFor(c, n, kv)) + scratchLayout(c, n, threads).bytes;
  let kvType: KvType = opts.kvCache === 'f16' ? 'f16' : 'f32';
  if ((opts.kvCache ?? 'auto') === 'auto' && fixed('f32', ctx) > WASM_MAX_BYTES) kvType = 'f16';
  const total = fixed(kvType, ctx);
  if (total > WASM_MAX_BYTES) {
    let lo = 0, hi = ctx;
    while (lo < hi) { const mid = Math.ceil((lo + hi) / 2); if (fixed(kvType, mid) <= WASM_MAX_BYTES) lo = mid; else hi = mid - 1; }
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    throw new Fairy2iError('memory',
      `${file}: needs ${gib(total)} of wasm memory (weights ${gib(h.fileSize)}, ${kvType} KV cache ${gib(kvBytesFor(c, ctx, kvType))} for a context of ${ctx}); wasm32 allows 4 GiB. ` +
      (lo > 0 ? `The largest context that fits is ${lo} (contextLength: ${lo}${kvType === 'f32' ? ", or kvCache: 'f16'" : ''}).` : 'The weights alone do not fit.'));
  }
  const desc = up(base + h.fileSize);
  const kv = up(desc + 4 * (DESC_SLOTS + L_SLOTS * c.nLayers));
  const kvBytes = kvBytesFor(c, ctx, kvType);
  const s = scratchLayout(c, ctx, threads);
  const scratchBase = up(kv + kvBytes);
  const scratch = {} as MemoryPlan['scratch'];
  for (const [k, v] of Object.entries(s.off)) scratch[k as keyof typeof s.off] = scratchBase + v;
  return { base, fileSize: h.fileSize, desc, kv, kvBytes, kvType, contextLength: ctx, scratch, scratchBytes: s.bytes, maxBatch: MAX_BATCH, total };
}

/** Writes the descriptor for a file loaded at plan.base. */
export function writeDescriptor(mem: ArrayBuffer, plan: MemoryPlan, h: ModelHeader): void {
  const c = h.config;
  const n = DESC_SLOTS + L_SLOTS * c.nLayers;
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
      u[slot] = 2;
      u[slot + 1] = addr(`${prefix}.codes`);
      u[slot + 2] = addr(`${prefix}.scales`);
      u[slot + 3] = plan.scratch.tables;
    } else {
      const name = h.tensors.has(`${prefix}.weight`) ? `${prefix}.weight` : 'token_embd.weight'; // tied lm_head
      u[slot] = h.tensors.get(name)!.type === TensorType.F16 ? 1 : 0;
      u[slot + 1] = addr(name);
    }
  };
  u[D.DIM] = c.dim; u[D.LAYERS] = c.nLayers; u[D.HEADS] = c.nHeads; u[D.KV_HEADS] = c.nKvHeads;
  u[D.HEAD_DIM] = c.headDim; u[D.FFN] = c.ffnDim; u[D.VOCAB] = c.vocabSize; u[D.CTX] = plan.contextLength;
  u[D.STAGES] = c.stages; u[D.KV_F16] = plan.kvType === 'f16' ? 1 : 0;
  f[D.RMS_EPS] = c.rmsEps; f[D.ROPE_THETA] = c.ropeTheta;
  u[D.EMBD] = addr('token_embd.weight');
  u[D.EMBD_F16] = h.tensors.get('token_embd.weight')!.type === TensorType.F16 ? 1 : 0;
  u[D.OUT_NORM] = addr('output_norm.weight');
  linear(D.OUTPUT, 'output');
  u[D.KV] = plan.kv;
  const s = plan.scratch;
  u[D.X] = s.x; u[D.XB] = s.xb; u[D.XB2] = s.xb2; u[D.Q] = s.q; u[D.K] = s.k; u[D.V] = s.v;
  u[D.ATT] = s.att; u[D.HB] = s.hb; u[D.HB2] = s.hb2;
  u[D.CTRL] = s.ctrl; u[D.MAX_BATCH] = plan.maxBatch; u[D.THREAD_SCRATCH] = s.threads;
  new Uint8Array(mem, s.ctrl, CTRL_BYTES).fill(0);
  for (let l = 0; l < c.nLayers; l++) {
    const L = D.LAYER0 + l * L_SLOTS;
    u[L] = addr(`blk.${l}.attn_norm.weight`);
    u[L + 1] = addr(`blk.${l}.ffn_norm.weight`);
    LINEARS.forEach((k, i) => linear(L + 2 + 4 * i, `blk.${l}.${k}`));
  }
}
