// llama.cpp model files for the peer benchmark: a plain llama-architecture GGUF of a real LLaMA shape
// whose linear weights (and output) are random blocks of one of llama.cpp's 2-bit-class types, the
// token embedding F16 (as in our own synthetic models), the norms F32, and a minimal SentencePiece
// ('llama') vocabulary of the right size, so that llama.cpp (wllama) loads and runs it. What is
// measured is the cost of reading and applying the weights, which random blocks exercise fully.
//
// Block layouts (ggml-common.h, QK_K = 256 weights per block, ggml_half = IEEE f16, little-endian):
//   TQ2_0 (type 35): { uint8 qs[64]; half d }                         66 bytes, 2.0625 bits/weight
//                    q = 2-bit field, weight = (q − 1)·d
//   TQ1_0 (type 34): { uint8 qs[48]; uint8 qh[4]; half d }            54 bytes, 1.6875 bits/weight
//                    5 (qs) or 4 (qh) base-3 digits per byte, weight = (trit − 1)·d
//   Q2_K  (type 10): { uint8 scales[16]; uint8 qs[64]; half d; half dmin }  84 bytes, 2.625 bits/weight
//                    16 sub-blocks of 16: weight = d·(scales[j] & 15)·q − dmin·(scales[j] >> 4)
// Random bytes are valid in every field of all three (every byte decodes to some digits); only the
// f16 scales are set, to small values that keep activations finite (weights of standard deviation
// about 1/√(row length), like a trained layer's).

import { closeSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { encodeHeader, meta, TensorType, type Metadata } from '../../src/gguf.ts';
import { floatToHalf } from '../../src/half.ts';
import { SHAPES, type ShapeName } from '../../src/node/synthetic.ts';

export const QUANTS = {
  TQ2_0: { type: 35, blockBytes: 66, scaleAt: [64], ftype: 37, std: Math.sqrt(1.25) },
  TQ1_0: { type: 34, blockBytes: 54, scaleAt: [52], ftype: 36, std: Math.sqrt(2 / 3) },
  // d·sc·q with sc uniform 0..15 and q uniform 0..3: std √(E[sc²]E[q²] − (E[sc]E[q])²) = √162.2
  Q2_K: { type: 10, blockBytes: 84, scaleAt: [80, 82], ftype: 10, std: Math.sqrt(162.1875) },
} as const;
export type QuantName = keyof typeof QUANTS;
const QK_K = 256;

type Role = 'quant' | 'embed' | 'norm';
interface Plan { name: string; dims: number[]; type: number; size: number; role: Role }

function plan(shape: ShapeName, quant: QuantName): Plan[] {
  const s = SHAPES[shape];
  const q = QUANTS[quant];
  const kvDim = (s.dim / s.nHeads) * s.nKvHeads;
  const lin = (name: string, nIn: number, nOut: number): Plan => {
    if (nIn % QK_K) throw new Error(`${name}: rows of ${nIn} are not whole ${QK_K}-weight blocks`);
    return { name, dims: [nIn, nOut], type: q.type, size: (nIn / QK_K) * q.blockBytes * nOut, role: 'quant' };
  };
  const norm = (name: string): Plan => ({ name, dims: [s.dim], type: TensorType.F32, size: s.dim * 4, role: 'norm' });
  const out: Plan[] = [
    { name: 'token_embd.weight', dims: [s.dim, s.vocabSize], type: TensorType.F16, size: s.dim * s.vocabSize * 2, role: 'embed' },
  ];
  for (let l = 0; l < s.nLayers; l++) {
    const b = `blk.${l}.`;
    out.push(
      norm(`${b}attn_norm.weight`),
      lin(`${b}attn_q.weight`, s.dim, s.dim),
      lin(`${b}attn_k.weight`, s.dim, kvDim),
      lin(`${b}attn_v.weight`, s.dim, kvDim),
      lin(`${b}attn_output.weight`, s.dim, s.dim),
      norm(`${b}ffn_norm.weight`),
      lin(`${b}ffn_gate.weight`, s.dim, s.ffnDim),
      lin(`${b}ffn_up.weight`, s.dim, s.ffnDim),
      lin(`${b}ffn_down.weight`, s.ffnDim, s.dim),
    );
  }
  out.push(norm('output_norm.weight'), lin('output.weight', s.dim, s.vocabSize));
  return out;
}

/** llama.cpp's SentencePiece vocabulary: <unk> <s> </s>, the 256 byte pieces, then placeholders. */
function vocab(n: number): Metadata {
  const tokens = Array.from({ length: n }, (_, i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : i === 2 ? '</s>' : i < 259 ? `<0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>` : `▁w${i}`));
  // llama_token_type: 1 normal, 2 unknown, 3 control, 6 byte
  const types = Int32Array.from(tokens, (_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1));
  const scores = Float32Array.from(tokens, (_, i) => (i < 259 ? 0 : -i));
  return new Map([
    ['tokenizer.ggml.model', meta.str('llama')],
    ['tokenizer.ggml.tokens', meta.strings(tokens)],
    ['tokenizer.ggml.scores', meta.f32s(scores)],
    ['tokenizer.ggml.token_type', meta.i32s(types)],
    ['tokenizer.ggml.bos_token_id', meta.u32(1)],
    ['tokenizer.ggml.eos_token_id', meta.u32(2)],
    ['tokenizer.ggml.unknown_token_id', meta.u32(0)],
    ['tokenizer.ggml.add_bos_token', meta.bool(true)],
    ['tokenizer.ggml.add_eos_token', meta.bool(false)],
  ]);
}

function metadata(shape: ShapeName, quant: QuantName): Metadata {
  const s = SHAPES[shape];
  const md: Metadata = new Map([
    ['general.architecture', meta.str('llama')],
    ['general.name', meta.str(`synthetic ${shape} ${quant} (random blocks, fairy2i-wasm peer bench)`)],
    ['general.file_type', meta.u32(QUANTS[quant].ftype)],
    ['general.quantization_version', meta.u32(2)],
    ['general.alignment', meta.u32(32)],
    ['llama.context_length', meta.u32(s.contextLength)],
    ['llama.embedding_length', meta.u32(s.dim)],
    ['llama.block_count', meta.u32(s.nLayers)],
    ['llama.feed_forward_length', meta.u32(s.ffnDim)],
    ['llama.attention.head_count', meta.u32(s.nHeads)],
    ['llama.attention.head_count_kv', meta.u32(s.nKvHeads)],
    ['llama.rope.dimension_count', meta.u32(s.dim / s.nHeads)],
    ['llama.rope.freq_base', meta.f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', meta.f32(1e-5)],
    ['llama.vocab_size', meta.u32(s.vocabSize)],
  ]);
  for (const [k, v] of vocab(s.vocabSize)) md.set(k, v);
  return md;
}

/** Bytes the file of this shape and type will have. */
export function llamaGgufSize(shape: ShapeName, quant: QuantName): number {
  const p = plan(shape, quant);
  const { header, dataSize } = encodeHeader(metadata(shape, quant), p, 32);
  return header.length + dataSize;
}

/**
 * Writes the model file, streaming (a 7B file is over 2 GB): random blocks with their f16 scales set,
 * the embedding random f16 values of magnitude 1/128..1/64, the norms 1. Returns its size in bytes.
 */
export function writeLlamaGguf(path: string, shape: ShapeName, quant: QuantName): number {
  const p = plan(shape, quant);
  const q = QUANTS[quant];
  const { header, tensors, dataSize } = encodeHeader(metadata(shape, quant), p, 32);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    const chunk = new Uint8Array(Math.floor((16 << 20) / (q.blockBytes * 4)) * q.blockBytes * 4); // whole blocks, even length
    const view = new DataView(chunk.buffer);
    p.forEach((t, i) => {
      let pos = header.length + tensors[i].offset;
      if (t.role === 'norm') {
        const ones = new Uint8Array(new Float32Array(t.size / 4).fill(1).buffer);
        writeSync(fd, ones, 0, ones.length, pos);
        return;
      }
      const rowLength = t.dims[0];
      const d = floatToHalf(1 / (q.std * Math.sqrt(rowLength)));
      for (let left = t.size; left > 0; ) {
        const n = Math.min(left, chunk.length);
        randomFillSync(chunk, 0, n);
        if (t.role === 'quant') {
          for (let b = 0; b < n; b += q.blockBytes) for (const at of q.scaleAt) view.setUint16(b + at, d, true);
        } else {
          // f16 with biased exponent 8: ±(1 + m/1024)/128, random sign and mantissa.
          for (let k = 0; k < n; k += 2) view.setUint16(k, (view.getUint16(k, true) & 0x83ff) | 0x2000, true);
        }
        writeSync(fd, chunk, 0, n, pos);
        pos += n;
        left -= n;
      }
    });
  } finally {
    closeSync(fd);
  }
  return header.length + dataSize;
}
