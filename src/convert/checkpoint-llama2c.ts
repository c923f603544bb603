// A llama2.c "version 0" checkpoint (karpathy/llama2.c export.py legacy_export): 7 int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means
// an unshared classifier at the end), then float32 arrays. q/k rows are in Meta's interleaved RoPE
// order and are permuted to the Hugging Face order here, before the quantizer sees them.

import { closeSync, existsSync, fstatSync, readdirSync, readSync } from 'node:fs';
import { openInputFile, readInputFile } from './read-input.js';
import { basename, dirname, join } from 'node:path';
import { Fairy2iError, FormatError } from '../errors.js';
import { checkHyperRanges, type LinearKind } from '../format.js';
import { parseLlama2cTokenizer } from './tokenizer-llama2c.js';
import type { Checkpoint, Hyper, TensorRole } from './checkpoint.js';

export function openLlama2cCheckpoint(path: string, tokenizerPath?: string): Checkpoint {
  const fd = openInputFile(path, 'llama2.c checkpoint');
  try {
    const size = fstatSync(fd).size;
    const hb = Buffer.alloc(28);
    if (size < 28 || readSync(fd, hb, 0, 28, 0) !== 28) throw new FormatError(path, 'header', `file is ${size} bytes, too short for a llama2.c header (28)`);
    const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
    const v = names.map((_, i) => hb.readInt32LE(4 * i));
    const [dim, ffn, nLayers, nHeads, nKvHeads, vocabSigned, seqLen] = v;
    v.forEach((x, i) => {
      if (i !== 5 && x <= 0) throw new FormatError(path, names[i], `is ${x}, expected a positive integer`);
    });
    if (vocabSigned === 0) throw new FormatError(path, 'vocab_size', 'is 0');
    if (dim % nHeads || nHeads % nKvHeads) throw new FormatError(path, 'n_heads', `dim ${dim}, n_heads ${nHeads}, n_kv_heads ${nKvHeads} are inconsistent`);
    if ((dim / nHeads) % 2) throw new FormatError(path, 'n_heads', `dim ${dim} / n_heads ${nHeads} is an odd head size; RoPE needs an even one`);
    const vocab = Math.abs(vocabSigned);
    const headDim = dim / nHeads, kvDim = nKvHeads * headDim;
    const hyper: Hyper = {
      name: basename(path).replace(/\.bin$/, ''), contextLength: seqLen, dim, nLayers, ffnDim: ffn, nHeads, nKvHeads, headDim,
      rmsEps: 1e-5, ropeTheta: 10000, vocabSize: vocab, tied: vocabSigned > 0,
    };
    checkHyperRanges(hyper, path, {
      contextLength: 'seq_len', dim: 'dim', nLayers: 'n_layers', ffnDim: 'hidden_dim', nHeads: 'n_heads', nKvHeads: 'n_kv_heads', headDim: 'dim', vocabSize: 'vocab_size',
      rmsEps: 'rms_eps', ropeTheta: 'rope_theta',
    });
    // Offsets (in floats) of each array after the header, in export order.
    const sizes: [string, number][] = [
      ['token_embedding', vocab * dim], ['rms_att', nLayers * dim], ['wq', nLayers * dim * dim], ['wk', nLayers * kvDim * dim],
      ['wv', nLayers * kvDim * dim], ['wo', nLayers * dim * dim], ['rms_ffn', nLayers * dim], ['w1', nLayers * ffn * dim],
      ['w2', nLayers * dim * ffn], ['w3', nLayers * ffn * dim], ['rms_final', dim], ['freq_cis', seqLen * headDim],
      ['wcls', vocabSigned < 0 ? vocab * dim : 0],
    ];
    const off = new Map<string, number>();
    let at = 28;
    for (const [n, s] of sizes) { off.set(n, at); at += 4 * s; }
    if (size < at) throw new FormatError(path, 'tensor data', `file is ${size} bytes, the header implies ${at}`);

    const read = (name: string, index: number, count: number): Float32Array => {
      const out = new Float32Array(count);
      const pos = off.get(name)! + 4 * index * count;
      readSync(fd, new Uint8Array(out.buffer), 0, 4 * count, pos);
      for (let i = 0; i < count; i++) {
        if (!Number.isFinite(out[i])) throw new FormatError(path, index >= 0 ? `${name}[layer ${index}]` : name, `contains ${out[i]} at element ${i}; every weight must be finite`);
      }
      return out;
    };
    const LIN: Record<LinearKind, [string, number, number]> = {
      attn_q: ['wq', dim, dim], attn_k: ['wk', kvDim, dim], attn_v: ['wv', kvDim, dim], attn_output: ['wo', dim, dim],
      ffn_gate: ['w1', ffn, dim], ffn_down: ['w2', dim, ffn], ffn_up: ['w3', ffn, dim],
    };
    const tokPath = tokenizerPath ?? findTokenizer(path, vocab);
    const vocabData = parseLlama2cTokenizer(new Uint8Array(readInputFile(tokPath, 'llama2.c tokenizer')), vocab, { file: tokPath });
    return {
      format: 'llama2c',
      hyper,
      vocab: vocabData,
      inputs: [path, tokPath],
      totalBytes: at - 28,
      linearDtype: 'F32',
      validate: () => {},
      read: (role: TensorRole) => {
        if (role.kind === 'embedding') return read('token_embedding', 0, vocab * dim);
        if (role.kind === 'norm') {
          if (role.which === 'output_norm') return read('rms_final', 0, dim);
          return read(role.which === 'attn_norm' ? 'rms_att' : 'rms_ffn', role.layer!, dim);
        }
        if (role.linear === 'output') return vocabSigned > 0 ? read('token_embedding', 0, vocab * dim) : read('wcls', 0, vocab * dim);
        const [name, rows, cols] = LIN[role.linear];
        const w = read(name, role.layer!, rows * cols);
        if (role.linear === 'attn_q') return permuteRotary(w, nHeads, headDim, cols);
        if (role.linear === 'attn_k') return permuteRotary(w, nKvHeads, headDim, cols);
        return w;
      },
      close: () => closeSync(fd),
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** llama2.c keeps the tokenizer beside the model as tokenizer.bin or tok<vocab>.bin. */
function findTokenizer(modelPath: string, vocab: number): string {
  const dir = dirname(modelPath);
  for (const n of [`tok${vocab}.bin`, 'tokenizer.bin']) {
    if (existsSync(join(dir, n))) return join(dir, n);
  }
  const cands = readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f));
  if (cands.length === 1) return join(dir, cands[0]);
  throw new Fairy2iError('input', `${modelPath}: no llama2.c tokenizer found beside it (tok${vocab}.bin or tokenizer.bin); pass --tokenizer FILE`);
}

/** HF's q/k permutation from Meta's interleaved RoPE rows: row h·d + i·d/2 + t ← h·d + 2t + i. */
export function permuteRotary(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < half; t++) {
      for (let i = 0; i < 2; i++) {
        const dst = h * headDim + i * half + t, src = h * headDim + 2 * t + i;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}
