// The Fairy2i model file (docs/format.md): the one module that knows its metadata keys, tensor
// names, shapes and the packed code layout. `convert` writes through it and the loader reads through it.

import { compileChatTemplate } from './chat-template.js';
import { FormatError } from './errors.js';
import {
  decodeHeader, encodeHeader, meta, metaArray, metaBool, metaNumber, metaString, tensorByteSize,
  tensorTypeName, TensorType, ValueType, type GGUFHeader, type Metadata, type TensorInfo,
} from './gguf.js';
import type { TokenizerVocab } from './tokenizer.js';

export const FORMAT_VERSION = 1;
export const CODE_LAYOUT = 2;
export const ALIGNMENT = 64;
export const ARCH = 'fairy2i';
export const MAX_STAGES = 4;

export interface ModelConfig {
  name: string;
  contextLength: number;
  dim: number;
  nLayers: number;
  ffnDim: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rmsEps: number;
  ropeTheta: number;
  vocabSize: number;
  /** 0 = every linear layer in float; 1..4 residual stages (2 = Fairy2i-W2). */
  stages: number;
  lmHeadQuantized: boolean;
  /** No `output` tensor: the logits use the embedding. */
  tieLmHead: boolean;
  /** Storage of float linears and the embedding. */
  floatType: 'f32' | 'f16';
  /** Arithmetic the quantizer ran in (docs/format.md `fairy2i.quant.arithmetic`); absent: f32. */
  arithmetic?: 'f32' | 'bf16';
  source: string;
  sourceFormat: string;
  converter: string;
}

/** The shape fields of a config, each stored in the file as a u32. */
export type ShapeField = 'contextLength' | 'dim' | 'nLayers' | 'ffnDim' | 'nHeads' | 'nKvHeads' | 'headDim' | 'vocabSize';

/**
 * Largest value of each shape field this engine takes, far above any LLaMA (7B: 4096 context, dim
 * 4096, 32 layers, ffn 11008, vocab 32000) yet small enough that nothing sized from a header before
 * its tensors are checked (tensor plans, vocabulary arrays, KV-cache sizes) can exhaust memory,
 * and every value fits the u32 the file stores it in.
 */
export const SHAPE_LIMITS: Record<ShapeField, number> = {
  contextLength: 1 << 30, dim: 1 << 16, nLayers: 1 << 10, ffnDim: 1 << 18, nHeads: 1 << 12, nKvHeads: 1 << 12, headDim: 1 << 12, vocabSize: 1 << 22,
};

/**
 * Checks every shape field is an integer from 1 to its SHAPE_LIMITS entry, and the norm epsilon
 * and RoPE base are finite and positive; `names` says how the source calls each field (config.json,
 * llama2.c header or model-file key), so the error names what the user can see.
 */
export function checkHyperRanges(h: Pick<ModelConfig, ShapeField | 'rmsEps' | 'ropeTheta'>, file: string, names: Record<ShapeField | 'rmsEps' | 'ropeTheta', string>): void {
  for (const k of Object.keys(SHAPE_LIMITS) as ShapeField[]) {
    const v = h[k];
    if (!Number.isInteger(v) || v < 1) throw new FormatError(file, names[k], `is ${v}, expected a positive integer`);
    if (v > SHAPE_LIMITS[k]) throw new FormatError(file, names[k], `is ${v}, more than the ${SHAPE_LIMITS[k]} this engine supports`);
  }
  for (const k of ['rmsEps', 'ropeTheta'] as const) {
    if (!(Number.isFinite(h[k]) && h[k] > 0)) throw new FormatError(file, names[k], `is ${h[k]}, expected a finite number > 0`);
  }
}

export const LINEARS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type LinearKind = (typeof LINEARS)[number];

/** Real (out, in) shape of each linear layer. */
export function linearShape(c: ModelConfig, kind: LinearKind | 'output'): [number, number] {
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim;
  switch (kind) {
    case 'attn_q': return [q, c.dim];
    case 'attn_k': case 'attn_v': return [kv, c.dim];
    case 'attn_output': return [c.dim, q];
    case 'ffn_gate': case 'ffn_up': return [c.ffnDim, c.dim];
    case 'ffn_down': return [c.dim, c.ffnDim];
    case 'output': return [c.vocabSize, c.dim];
  }
}

// ---- code layout 2 (docs/format.md "Code layout 2") ----

/** Rows per tile: the 16 lanes of one i8x16.swizzle in the kernel (assembly/cmatvec.ts). */
export const CODE_TILE_ROWS = 16;

/**
 * Bytes of packed codes per row for m complex inputs and S stages: one byte per input pair and
 * stage (U and W codes of two inputs). Rows are stored in tiles of 16, interleaved (see codeAt).
 */
export function codesRowBytes(m: number, stages: number): number {
  return Math.ceil(m / 2) * stages;
}

/** Dims of a codes tensor: [bytes per tile of 16 rows, tiles]. Rows past n in the last tile are zero. */
export function codesDims(n: number, m: number, stages: number): [number, number] {
  return [CODE_TILE_ROWS * codesRowBytes(m, stages), Math.ceil(n / CODE_TILE_ROWS)];
}

/**
 * Packs per-stage row-major n×m codes of U and W (values 0..3) into layout 2: tiles of 16 rows;
 * in a tile, for each input pair p and stage s, 16 bytes (one per row) whose low nibble is
 * u | w << 2 for input 2p and high nibble the same for input 2p + 1. Padding (rows past n, input m
 * when m is odd) is zero. Each byte is built from its four codes in one store.
 */
export function packCodes(codesU: Uint8Array[], codesW: Uint8Array[], n: number, m: number): Uint8Array {
  const S = codesU.length;
  const [tileBytes, tiles] = codesDims(n, m, S);
  const out = new Uint8Array(tiles * tileBytes);
  const pairs = m >> 1;
  for (let r = 0; r < n; r++) {
    const base = (r >> 4) * tileBytes + (r & 15);
    for (let s = 0; s < S; s++) {
      const U = codesU[s], W = codesW[s];
      let at = base + s * 16, j = r * m;
      for (let p = 0; p < pairs; p++, at += S * 16, j += 2) out[at] = U[j] | (W[j] << 2) | (U[j + 1] << 4) | (W[j + 1] << 6);
      if (m & 1) out[at] = U[j] | (W[j] << 2);
    }
  }
  return out;
}

/** The code of plane p (U stage s → s−1, W stage s → S+s−1), row r, input j: the formula of docs/format.md. */
export function codeAt(packed: Uint8Array, m: number, stages: number, p: number, r: number, j: number): number {
  const s = p < stages ? p : p - stages;
  const at = (r >> 4) * CODE_TILE_ROWS * codesRowBytes(m, stages) + ((j >> 1) * stages + s) * 16 + (r & 15);
  return (packed[at] >> (4 * (j & 1) + (p < stages ? 0 : 2))) & 3;
}

// ---- the tensor plan: names, types and shapes a file of this config holds ----

export interface PlannedTensor {
  name: string;
  type: number;
  dims: number[];
  size: number;
  /** What it holds, for the converter. */
  role:
    | { kind: 'embedding' }
    | { kind: 'norm'; layer: number | null; which: 'attn_norm' | 'ffn_norm' | 'output_norm' }
    | { kind: 'float'; layer: number | null; linear: LinearKind | 'output' }
    | { kind: 'codes' | 'scales'; layer: number | null; linear: LinearKind | 'output' };
}

export function planTensors(c: ModelConfig): PlannedTensor[] {
  const ft = c.floatType === 'f16' ? TensorType.F16 : TensorType.F32;
  const fsz = c.floatType === 'f16' ? 2 : 4;
  const plan: PlannedTensor[] = [];
  const linear = (prefix: string, layer: number | null, kind: LinearKind | 'output', quantized: boolean) => {
    const [out, inp] = linearShape(c, kind);
    if (quantized) {
      const dims = codesDims(out / 2, inp / 2, c.stages);
      plan.push({ name: `${prefix}.codes`, type: TensorType.I8, dims, size: dims[0] * dims[1], role: { kind: 'codes', layer, linear: kind } });
      plan.push({ name: `${prefix}.scales`, type: TensorType.F32, dims: [4, c.stages], size: 16 * c.stages, role: { kind: 'scales', layer, linear: kind } });
    } else {
      plan.push({ name: `${prefix}.weight`, type: ft, dims: [inp, out], size: inp * out * fsz, role: { kind: 'float', layer, linear: kind } });
    }
  };
  plan.push({ name: 'token_embd.weight', type: ft, dims: [c.dim, c.vocabSize], size: c.dim * c.vocabSize * fsz, role: { kind: 'embedding' } });
  for (let l = 0; l < c.nLayers; l++) {
    plan.push({ name: `blk.${l}.attn_norm.weight`, type: TensorType.F32, dims: [c.dim], size: 4 * c.dim, role: { kind: 'norm', layer: l, which: 'attn_norm' } });
    for (const k of LINEARS) linear(`blk.${l}.${k}`, l, k, c.stages > 0);
    plan.push({ name: `blk.${l}.ffn_norm.weight`, type: TensorType.F32, dims: [c.dim], size: 4 * c.dim, role: { kind: 'norm', layer: l, which: 'ffn_norm' } });
  }
  plan.push({ name: 'output_norm.weight', type: TensorType.F32, dims: [c.dim], size: 4 * c.dim, role: { kind: 'norm', layer: null, which: 'output_norm' } });
  if (!c.tieLmHead) linear('output', null, 'output', c.lmHeadQuantized);
  return plan;
}

// ---- metadata ----

export function buildMetadata(c: ModelConfig, vocab: TokenizerVocab): Metadata {
  const m: Metadata = new Map();
  const K = `${ARCH}.`;
  m.set('general.architecture', meta.str(ARCH));
  m.set('general.name', meta.str(c.name));
  m.set('general.alignment', meta.u32(ALIGNMENT));
  m.set('general.file_type', meta.u32(c.stages > 0 ? 1024 + c.stages : c.floatType === 'f16' ? 1 : 0));
  m.set(K + 'format_version', meta.u32(FORMAT_VERSION));
  m.set(K + 'code_layout', meta.u32(CODE_LAYOUT));
  m.set(K + 'converter', meta.str(c.converter));
  m.set(K + 'source', meta.str(c.source));
  m.set(K + 'source_format', meta.str(c.sourceFormat));
  m.set(K + 'context_length', meta.u32(c.contextLength));
  m.set(K + 'embedding_length', meta.u32(c.dim));
  m.set(K + 'block_count', meta.u32(c.nLayers));
  m.set(K + 'feed_forward_length', meta.u32(c.ffnDim));
  m.set(K + 'attention.head_count', meta.u32(c.nHeads));
  m.set(K + 'attention.head_count_kv', meta.u32(c.nKvHeads));
  m.set(K + 'attention.key_length', meta.u32(c.headDim));
  m.set(K + 'attention.layer_norm_rms_epsilon', meta.f32(c.rmsEps));
  m.set(K + 'rope.freq_base', meta.f32(c.ropeTheta));
  m.set(K + 'vocab_size', meta.u32(c.vocabSize));
  m.set(K + 'quant.stages', meta.u32(c.stages));
  m.set(K + 'quant.lm_head_quantized', meta.bool(c.lmHeadQuantized));
  if (c.stages > 0) m.set(K + 'quant.arithmetic', meta.str(c.arithmetic ?? 'f32'));
  m.set(K + 'tie_lm_head', meta.bool(c.tieLmHead));
  m.set('tokenizer.ggml.model', meta.str('llama'));
  m.set('tokenizer.ggml.tokens', meta.strings(vocab.tokens));
  m.set('tokenizer.ggml.scores', meta.f32s(Float32Array.from(vocab.scores)));
  m.set('tokenizer.ggml.token_type', meta.i32s(Int32Array.from(vocab.types)));
  // A vocabulary without one of these (id −1) simply has no key for it.
  if (vocab.bosId >= 0) m.set('tokenizer.ggml.bos_token_id', meta.u32(vocab.bosId));
  if (vocab.eosId >= 0) m.set('tokenizer.ggml.eos_token_id', meta.u32(vocab.eosId));
  if (vocab.unkId >= 0) m.set('tokenizer.ggml.unknown_token_id', meta.u32(vocab.unkId));
  m.set('tokenizer.ggml.add_bos_token', meta.bool(vocab.addBos));
  m.set('tokenizer.ggml.add_eos_token', meta.bool(vocab.addEos));
  m.set('tokenizer.ggml.add_space_prefix', meta.bool(vocab.addSpacePrefix));
  m.set('tokenizer.ggml.remove_extra_whitespaces', meta.bool(vocab.removeExtraWhitespaces));
  if (vocab.chatTemplate) m.set('tokenizer.chat_template', meta.str(vocab.chatTemplate));
  return m;
}

export function encodeModelHeader(c: ModelConfig, vocab: TokenizerVocab) {
  const plan = planTensors(c);
  return { plan, ...encodeHeader(buildMetadata(c, vocab), plan, ALIGNMENT) };
}

// ---- reading ----

export interface ModelTensor extends TensorInfo {
  size: number;
}

export interface ModelHeader {
  config: ModelConfig;
  vocab: TokenizerVocab;
  tensors: Map<string, ModelTensor>;
  dataOffset: number;
  /** Bytes the file must have: data offset plus the end of the last tensor. */
  fileSize: number;
  gguf: GGUFHeader;
}

/** Parses and validates a Fairy2i file header (from a prefix of the file, see gguf.decodeHeader). */
export function readModelHeader(bytes: Uint8Array, file: string, totalSize = bytes.length): ModelHeader {
  const gguf = decodeHeader(bytes, file, totalSize);
  const md = gguf.metadata;
  const arch = metaString(md, 'general.architecture', file, false);
  if (arch !== ARCH) {
    throw new FormatError(file, 'general.architecture',
      `is '${arch ?? '(missing)'}', not '${ARCH}': this is not a Fairy2i model file; make one with 'fairy2i-wasm convert <checkpoint> -o model.gguf'`);
  }
  const K = `${ARCH}.`;
  const num = (k: string) => metaNumber(md, K + k, file);
  const version = num('format_version');
  if (version !== FORMAT_VERSION) {
    throw new FormatError(file, K + 'format_version', `is ${version}, this engine reads version ${FORMAT_VERSION}; convert the checkpoint again with this version`);
  }
  const layout = num('code_layout');
  if (layout !== CODE_LAYOUT) {
    throw new FormatError(file, K + 'code_layout', `is ${layout}, this engine reads code layout ${CODE_LAYOUT}; convert the checkpoint again with this version`);
  }
  const positive = (k: string) => {
    const v = num(k);
    if (!Number.isInteger(v) || v <= 0) throw new FormatError(file, K + k, `is ${v}, expected a positive integer`);
    return v;
  };
  const fileType = metaNumber(md, 'general.file_type', file, false);
  const config: ModelConfig = {
    name: metaString(md, 'general.name', file, false) ?? '',
    contextLength: positive('context_length'),
    dim: positive('embedding_length'),
    nLayers: positive('block_count'),
    ffnDim: positive('feed_forward_length'),
    nHeads: positive('attention.head_count'),
    nKvHeads: positive('attention.head_count_kv'),
    headDim: positive('attention.key_length'),
    rmsEps: num('attention.layer_norm_rms_epsilon'),
    ropeTheta: num('rope.freq_base'),
    vocabSize: positive('vocab_size'),
    stages: num('quant.stages'),
    lmHeadQuantized: metaBool(md, K + 'quant.lm_head_quantized', file),
    tieLmHead: metaBool(md, K + 'tie_lm_head', file),
    floatType: fileType === 1 ? 'f16' : 'f32',
    ...readArithmetic(md, K + 'quant.arithmetic', file),
    source: metaString(md, K + 'source', file, false) ?? '',
    sourceFormat: metaString(md, K + 'source_format', file, false) ?? '',
    converter: metaString(md, K + 'converter', file, false) ?? '',
  };
  checkHyperRanges(config, file, {
    contextLength: K + 'context_length', dim: K + 'embedding_length', nLayers: K + 'block_count', ffnDim: K + 'feed_forward_length',
    nHeads: K + 'attention.head_count', nKvHeads: K + 'attention.head_count_kv', headDim: K + 'attention.key_length', vocabSize: K + 'vocab_size',
    rmsEps: K + 'attention.layer_norm_rms_epsilon', ropeTheta: K + 'rope.freq_base',
  });
  if (!Number.isInteger(config.stages) || config.stages < 0 || config.stages > MAX_STAGES) {
    throw new FormatError(file, K + 'quant.stages', `is ${config.stages}, expected 0 to ${MAX_STAGES}`);
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw new FormatError(file, K + 'attention.head_count_kv', `${config.nKvHeads} does not divide the head count ${config.nHeads}`);
  }
  if (config.headDim % 2 !== 0) throw new FormatError(file, K + 'attention.key_length', `${config.headDim} is odd; RoPE needs an even head size`);

  const vocab = readVocab(md, file, config.vocabSize);

  // Every tensor the config implies must be there with the planned type and dims (which also
  // fixes its size), within the file; extra tensors are an error too, they mean a different layout.
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  const embd = byName.get('token_embd.weight');
  if (embd && embd.type === TensorType.F16) config.floatType = 'f16';
  const tensors = new Map<string, ModelTensor>();
  let end = 0;
  for (const p of planTensors(config)) {
    let t = byName.get(p.name);
    // Float linears may be f32 in an f16 file and vice versa (e.g. lm_head kept in f32): accept both.
    if (!t) throw new FormatError(file, p.name, `tensor missing (expected ${tensorTypeName(p.type)} ${JSON.stringify(p.dims)} for this model's metadata)`);
    const floatOk = (p.type === TensorType.F32 || p.type === TensorType.F16) && (t.type === TensorType.F32 || t.type === TensorType.F16);
    if (t.type !== p.type && !floatOk) {
      throw new FormatError(file, p.name, `has type ${tensorTypeName(t.type)}, expected ${tensorTypeName(p.type)}`);
    }
    if (t.dims.length !== p.dims.length || t.dims.some((d, i) => d !== p.dims[i])) {
      throw new FormatError(file, p.name, `has dims ${JSON.stringify(t.dims)}, the metadata implies ${JSON.stringify(p.dims)}`);
    }
    const size = tensorByteSize(t, file);
    tensors.set(p.name, { ...t, size });
    end = Math.max(end, t.offset + size);
    byName.delete(p.name);
  }
  if (byName.size > 0) {
    const extra = [...byName.keys()].slice(0, 3).join(', ');
    throw new FormatError(file, extra, `unexpected tensor(s) for this model's metadata (${byName.size} extra)`);
  }
  const fileSize = gguf.dataOffset + end;
  if (totalSize < fileSize) {
    throw new FormatError(file, 'tensor data', `file is ${totalSize} bytes but its tensors end at byte ${fileSize} (truncated?)`);
  }
  return { config, vocab, tensors, dataOffset: gguf.dataOffset, fileSize, gguf };
}

/**
 * Checks that the scales and norm gains in `file` (its bytes from offset 0, tensor data included)
 * are finite: a NaN or Inf there turns every logit into NaN, and sampling would pick token 0
 * without a word. These are a few KB per layer, so the check costs nothing next to the load; the
 * big float tensors are covered by the non-finite-logit check where logits are read.
 */
export function checkStoredFloats(h: ModelHeader, file: Uint8Array, name: string): void {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (const t of h.tensors.values()) {
    if (t.type !== TensorType.F32 || !(t.name.endsWith('.scales') || t.name.includes('norm'))) continue;
    const at = h.dataOffset + t.offset;
    for (let i = 0; i < t.size / 4; i++) {
      const v = view.getFloat32(at + 4 * i, true);
      if (!Number.isFinite(v)) throw new FormatError(name, t.name, `holds ${v} at element ${i}; every scale and norm weight must be finite (the file is damaged: convert the checkpoint again)`);
    }
  }
}

/** `fairy2i.quant.arithmetic`: absent in files written before it existed (their quantizer was f32). */
function readArithmetic(md: Metadata, key: string, file: string): { arithmetic?: 'f32' | 'bf16' } {
  const v = metaString(md, key, file, false);
  if (v === undefined) return {};
  if (v !== 'f32' && v !== 'bf16') throw new FormatError(file, key, `is ${JSON.stringify(v)}, expected "f32" or "bf16"`);
  return { arithmetic: v };
}

function readVocab(md: Metadata, file: string, vocabSize: number): TokenizerVocab {
  const model = metaString(md, 'tokenizer.ggml.model', file);
  if (model !== 'llama') throw new FormatError(file, 'tokenizer.ggml.model', `is '${model}', this engine reads 'llama' (SentencePiece BPE)`);
  const tokens = metaArray(md, 'tokenizer.ggml.tokens', file, ValueType.STRING) as string[];
  const scores = metaArray(md, 'tokenizer.ggml.scores', file, ValueType.F32) as Float32Array;
  const types = metaArray(md, 'tokenizer.ggml.token_type', file, ValueType.I32) as Int32Array;
  for (const [k, a] of [['tokens', tokens], ['scores', scores], ['token_type', types]] as const) {
    if (a.length !== vocabSize) throw new FormatError(file, `tokenizer.ggml.${k}`, `has ${a.length} entries, expected vocab_size ${vocabSize}`);
  }
  const id = (k: string) => {
    const v = metaNumber(md, `tokenizer.ggml.${k}`, file, false);
    if (Number.isNaN(v)) return -1;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) throw new FormatError(file, `tokenizer.ggml.${k}`, `is ${v}, expected a token id below ${vocabSize}`);
    return v;
  };
  return {
    tokens, scores, types,
    bosId: id('bos_token_id'), eosId: id('eos_token_id'), unkId: id('unknown_token_id'),
    addBos: metaBool(md, 'tokenizer.ggml.add_bos_token', file, true),
    addEos: metaBool(md, 'tokenizer.ggml.add_eos_token', file, false),
    addSpacePrefix: metaBool(md, 'tokenizer.ggml.add_space_prefix', file, true),
    removeExtraWhitespaces: metaBool(md, 'tokenizer.ggml.remove_extra_whitespaces', file, false),
    chatTemplate: checkedTemplate(metaString(md, 'tokenizer.chat_template', file, false), file),
  };
}

function checkedTemplate(source: string | undefined, file: string): string | undefined {
  if (source !== undefined) compileChatTemplate(source, file);
  return source;
}

/**
 * A file converted from a checkpoint without a tokenizer carries a placeholder vocabulary of unused
 * pieces (GGUF token type 5): it takes token ids only.
 */
export function placeholderVocab(size: number): TokenizerVocab {
  const tokens = Array.from({ length: size }, (_, i) => `<unused${i}>`);
  return { tokens, scores: new Float32Array(size), types: new Int32Array(size).fill(5), bosId: Math.min(1, size - 1), eosId: Math.min(2, size - 1), unkId: 0, addBos: true, addEos: false, addSpacePrefix: true, removeExtraWhitespaces: false };
}

export function isPlaceholderVocab(v: TokenizerVocab): boolean {
  return v.types.every((t) => t === 5);
}

/** Bits per real weight of the linear layers (codes + scales), for `info`. */
export function bitsPerWeight(h: ModelHeader): number {
  let bytes = 0, weights = 0;
  for (const [name, t] of h.tensors) {
    if (name.endsWith('.codes') || name.endsWith('.scales')) bytes += t.size;
    if (name.endsWith('.codes')) {
      const key = name.slice(0, -'.codes'.length);
      const kind = (key === 'output' ? 'output' : key.split('.')[2]) as LinearKind | 'output';
      const [o, i] = linearShape(h.config, kind);
      weights += o * i;
    }
    if (name.endsWith('.weight') && !name.includes('norm') && name !== 'token_embd.weight') {
      bytes += t.size;
      weights += t.dims[0] * t.dims[1];
    }
  }
  return weights ? (8 * bytes) / weights : 0;
}
