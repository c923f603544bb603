// One LLaMA decoder step in wasm (after llama2.c run.c `forward`), driven by a model descriptor that
// the host writes into memory (src/layout.ts is its only writer). Everything is addresses into the one
// linear memory: weights used in place from the loaded file, the KV cache, and scratch.

import { cmatvec } from './cmatvec';
import { matvec_f16, matvec_f32 } from './matvec';
import { rmsnorm } from './norm';
import { rope } from './rope';
import { attention, attention_f16kv } from './attention';
import { swiglu, add } from './act';
import { embed_f16, embed_f32, store_f32_to_f16 } from './f16';

// Descriptor slots (u32, 4 bytes each). Keep in sync with src/layout.ts.
const D_DIM: i32 = 0;
const D_LAYERS: i32 = 1;
const D_HEADS: i32 = 2;
const D_KV_HEADS: i32 = 3;
const D_HEAD_DIM: i32 = 4;
const D_FFN: i32 = 5;
const D_VOCAB: i32 = 6;
const D_CTX: i32 = 7;
const D_STAGES: i32 = 8;
const D_KV_F16: i32 = 9;
const D_RMS_EPS: i32 = 10; // f32 bits
const D_ROPE_THETA: i32 = 11; // f32 bits
const D_EMBD: i32 = 12;
const D_EMBD_F16: i32 = 13;
const D_OUT_NORM: i32 = 14;
const D_OUTPUT: i32 = 15; // linear record (4 slots)
const D_KV: i32 = 19; // key cache base; values follow after n_layers * ctx * kv_dim elements
const D_X: i32 = 20; // scratch: x, xb, xb2 (dim each), q (q_dim), k, v (kv_dim), att (heads*ctx), hb, hb2 (ffn)
const D_XB: i32 = 21;
const D_XB2: i32 = 22;
const D_Q: i32 = 23;
const D_K: i32 = 24;
const D_V: i32 = 25;
const D_ATT: i32 = 26;
const D_HB: i32 = 27;
const D_HB2: i32 = 28;
const D_LAYER0: i32 = 32;
// Per layer: attn_norm, ffn_norm, then 7 linear records of 4 slots (q, k, v, o, gate, up, down).
const L_SLOTS: i32 = 30;
const L_ATTN_NORM: i32 = 0;
const L_FFN_NORM: i32 = 1;
const L_LINEAR0: i32 = 2;

// Linear record: kind, a, b, unused. kind 0: f32 weight at a; 1: f16 weight at a; 2: codes at a, scales at b.
const LIN_F32: u32 = 0;
const LIN_F16: u32 = 1;
const LIN_CODES: u32 = 2;

@inline function slot(d: usize, i: i32): u32 {
  return load<u32>(d + (<usize>i << 2));
}

/** y (out) = linear(x (in)) for the record at `rec`; out/in are real sizes. */
export function linear(y: usize, x: usize, rec: usize, out: i32, inp: i32, stages: i32): void {
  const kind = load<u32>(rec);
  const a = <usize>load<u32>(rec, 4);
  if (kind == LIN_CODES) {
    const b = <usize>load<u32>(rec, 8);
    cmatvec(y, x, a, b, out >> 1, inp >> 1, stages, 0, out >> 1);
  } else if (kind == LIN_F16) {
    matvec_f16(y, x, a, out, inp, 0, out);
  } else {
    matvec_f32(y, x, a, out, inp, 0, out);
  }
}

/**
 * Runs token `token` at position `pos` through the model, storing its keys/values in the cache,
 * and writes the logits (vocab floats) to `logits` unless it is 0 (prefill positions skip lm_head).
 */
export function forward(d: usize, token: i32, pos: i32, logits: usize): void {
  const dim = <i32>slot(d, D_DIM);
  const nLayers = <i32>slot(d, D_LAYERS);
  const nHeads = <i32>slot(d, D_HEADS);
  const nKv = <i32>slot(d, D_KV_HEADS);
  const hd = <i32>slot(d, D_HEAD_DIM);
  const ffn = <i32>slot(d, D_FFN);
  const vocab = <i32>slot(d, D_VOCAB);
  const ctx = <i32>slot(d, D_CTX);
  const S = <i32>slot(d, D_STAGES);
  const kvF16 = slot(d, D_KV_F16) != 0;
  const eps = reinterpret<f32>(slot(d, D_RMS_EPS));
  const theta = <f64>reinterpret<f32>(slot(d, D_ROPE_THETA));
  const x = <usize>slot(d, D_X), xb = <usize>slot(d, D_XB), xb2 = <usize>slot(d, D_XB2);
  const q = <usize>slot(d, D_Q), k = <usize>slot(d, D_K), v = <usize>slot(d, D_V);
  const att = <usize>slot(d, D_ATT), hb = <usize>slot(d, D_HB), hb2 = <usize>slot(d, D_HB2);
  const qDim = nHeads * hd, kvDim = nKv * hd;
  const elem: usize = kvF16 ? 2 : 4;
  const kvBase = <usize>slot(d, D_KV);
  const layerKv = <usize>ctx * <usize>kvDim * elem;
  const vBase = kvBase + <usize>nLayers * layerKv;

  if (slot(d, D_EMBD_F16) != 0) embed_f16(x, <usize>slot(d, D_EMBD), token, dim);
  else embed_f32(x, <usize>slot(d, D_EMBD), token, dim);

  for (let l = 0; l < nLayers; l++) {
    const L = d + (<usize>(D_LAYER0 + l * L_SLOTS) << 2);
    const rec = L + (<usize>L_LINEAR0 << 2);
    rmsnorm(xb, x, <usize>load<u32>(L + (<usize>L_ATTN_NORM << 2)), dim, eps);
    linear(q, xb, rec, qDim, dim, S);
    linear(k, xb, rec + 16, kvDim, dim, S);
    linear(v, xb, rec + 32, kvDim, dim, S);
    rope(q, nHeads, hd, pos, theta);
    rope(k, nKv, hd, pos, theta);
    const kc = kvBase + <usize>l * layerKv, vc = vBase + <usize>l * layerKv;
    const at = <usize>pos * <usize>kvDim * elem;
    if (kvF16) {
      store_f32_to_f16(kc + at, k, kvDim);
      store_f32_to_f16(vc + at, v, kvDim);
      attention_f16kv(xb2, q, kc, vc, att, nHeads, nKv, hd, pos + 1);
    } else {
      memory.copy(kc + at, k, <usize>kvDim << 2);
      memory.copy(vc + at, v, <usize>kvDim << 2);
      attention(xb2, q, kc, vc, att, nHeads, nKv, hd, pos + 1);
    }
    linear(xb, xb2, rec + 48, dim, qDim, S);
    add(x, x, xb, dim);
    rmsnorm(xb, x, <usize>load<u32>(L + (<usize>L_FFN_NORM << 2)), dim, eps);
    linear(hb, xb, rec + 64, ffn, dim, S);
    linear(hb2, xb, rec + 80, ffn, dim, S);
    swiglu(hb, hb, hb2, ffn);
    linear(xb, hb, rec + 96, dim, ffn, S);
    add(x, x, xb, dim);
  }
  if (logits == 0) return;
  rmsnorm(x, x, <usize>slot(d, D_OUT_NORM), dim, eps);
  linear(logits, x, d + (<usize>D_OUTPUT << 2), vocab, dim, S);
}
