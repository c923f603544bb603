// Small synthetic checkpoints written by the tests themselves (so that bad-input cases need no
// ../shared): a Hugging Face LLaMA directory with random float32 weights and no tokenizer.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeHeader, encodeHeader, meta, type Metadata } from '../src/gguf.ts';

export function tempDir(prefix = 'fairy2i-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Deterministic normal-ish values (sum of uniforms) from a seed. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() + next() + next() + next() - 2) * 1.7 * scale;
  return a;
}

export interface SafeTensorSpec {
  dtype?: 'F32' | 'F16' | 'BF16' | string;
  shape: number[];
  data: Uint8Array;
}

/** Writes a safetensors file; `patchHeader` may corrupt the JSON header for bad-input tests. */
export function writeSafetensors(path: string, tensors: Record<string, SafeTensorSpec>, patchHeader?: (h: any) => void): void {
  const header: any = {};
  let off = 0;
  const names = Object.keys(tensors).sort();
  for (const n of names) {
    const t = tensors[n];
    header[n] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  patchHeader?.(header);
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(path, Buffer.concat([len, hb, ...names.map((n) => tensors[n].data)]));
}

export interface TinyConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  [k: string]: unknown;
}

export const TINY: TinyConfig = {
  hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  vocab_size: 64, max_position_embeddings: 64, tie_word_embeddings: false,
};

export function tinyTensors(c: TinyConfig, seed = 7): Record<string, SafeTensorSpec> {
  const hd = c.hidden_size / c.num_attention_heads;
  const kv = c.num_key_value_heads * hd;
  const t: Record<string, SafeTensorSpec> = {};
  let s = seed;
  const add = (name: string, shape: number[], scale = 0.2) => {
    const a = randn(shape.reduce((x, y) => x * y, 1), s++, scale);
    t[name] = { shape, data: new Uint8Array(a.buffer) };
  };
  add('model.embed_tokens.weight', [c.vocab_size, c.hidden_size], 1);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'self_attn.q_proj.weight', [c.hidden_size, c.hidden_size]);
    add(p + 'self_attn.k_proj.weight', [kv, c.hidden_size]);
    add(p + 'self_attn.v_proj.weight', [kv, c.hidden_size]);
    add(p + 'self_attn.o_proj.weight', [c.hidden_size, c.hidden_size]);
    add(p + 'mlp.gate_proj.weight', [c.intermediate_size, c.hidden_size]);
    add(p + 'mlp.up_proj.weight', [c.intermediate_size, c.hidden_size]);
    add(p + 'mlp.down_proj.weight', [c.hidden_size, c.intermediate_size]);
    const ones = new Float32Array(c.hidden_size).fill(1);
    t[p + 'input_layernorm.weight'] = { shape: [c.hidden_size], data: new Uint8Array(ones.buffer.slice(0)) };
    t[p + 'post_attention_layernorm.weight'] = { shape: [c.hidden_size], data: new Uint8Array(ones.buffer.slice(0)) };
  }
  t['model.norm.weight'] = { shape: [c.hidden_size], data: new Uint8Array(new Float32Array(c.hidden_size).fill(1).buffer) };
  if (!c.tie_word_embeddings) add('lm_head.weight', [c.vocab_size, c.hidden_size]);
  return t;
}

/** Writes a complete tiny HF checkpoint directory; the hooks corrupt it for bad-input tests. */
export function writeTinyCheckpoint(dir: string, opts: { config?: Partial<TinyConfig> & Record<string, unknown>; tensors?: (t: Record<string, SafeTensorSpec>) => void; header?: (h: any) => void; rawConfig?: string } = {}): string {
  mkdirSync(dir, { recursive: true });
  const c = { ...TINY, ...opts.config } as TinyConfig;
  writeFileSync(join(dir, 'config.json'), opts.rawConfig ?? JSON.stringify({ architectures: ['LlamaForCausalLM'], rms_norm_eps: 1e-5, rope_theta: 10000, ...c }));
  const t = tinyTensors(c);
  opts.tensors?.(t);
  writeSafetensors(join(dir, 'model.safetensors'), t, opts.header);
  return dir;
}

/**
 * A tiny llama2.c checkpoint (version 0 header, float32 arrays, classifier shared) and its
 * tokenizer: <unk>, <s>, </s>, the 256 byte pieces and `extra` words. Returns both paths.
 */
export function writeTinyLlama2c(dir: string, extra = ['▁a', '▁b', '▁c']): { bin: string; tok: string } {
  mkdirSync(dir, { recursive: true });
  const dim = 8, hidden = 16, layers = 1, heads = 2, kvHeads = 2, vocab = 259 + extra.length, seq = 16;
  const hd = dim / heads, kv = kvHeads * hd;
  const floats = vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv * dim + layers * dim * dim + layers * dim + 3 * layers * hidden * dim + dim + seq * hd;
  const head = Buffer.alloc(28);
  [dim, hidden, layers, heads, kvHeads, vocab, seq].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  const bin = join(dir, 'model.bin');
  writeFileSync(bin, Buffer.concat([head, Buffer.from(randn(floats, 3, 0.2).buffer)]));
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`), ...extra.map((p) => p.replace(/▁/g, ' '))];
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(Math.max(...pieces.map((p) => Buffer.byteLength(p))));
  pieces.forEach((p, i) => {
    const b = Buffer.from(p, 'utf8');
    const h = Buffer.alloc(8);
    h.writeFloatLE(-i, 0);
    h.writeInt32LE(b.length, 4);
    parts.push(h, b);
  });
  const tok = join(dir, 'tokenizer.bin');
  writeFileSync(tok, Buffer.concat(parts));
  return { bin, tok };
}

/** A copy of a model file with its metadata edited (tensor data unchanged, header re-encoded). */
export function rewriteMetadata(bytes: Uint8Array, edit: (md: Metadata) => void): Uint8Array {
  const h = decodeHeader(bytes, 'file');
  edit(h.metadata);
  const sizes = h.tensors.map((t, i) => (i + 1 < h.tensors.length ? h.tensors[i + 1].offset : bytes.length - h.dataOffset) - t.offset);
  const { header } = encodeHeader(h.metadata, h.tensors.map((t, i) => ({ ...t, size: sizes[i] })), h.alignment);
  const out = new Uint8Array(header.length + bytes.length - h.dataOffset);
  out.set(header);
  out.set(bytes.subarray(h.dataOffset), header.length);
  return out;
}

/** A copy of a model file with every token typed unused (5): it loads as a file without a tokenizer. */
export function withoutTokenizer(bytes: Uint8Array, vocabSize: number): Uint8Array {
  return rewriteMetadata(bytes, (md) => md.set('tokenizer.ggml.token_type', meta.i32s(new Int32Array(vocabSize).fill(5))));
}
