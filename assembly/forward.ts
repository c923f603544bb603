// The LLaMA decoder in wasm (after llama2.c run.c `forward`), driven by a model descriptor that the
// host writes into memory (src/layout.ts is its only writer). Everything is addresses into the one
// linear memory: weights used in place from the loaded file, the KV cache, and scratch.
//
// forward_batch runs a batch of tokens, each at its own position of its own sequence's KV cache (a
// prompt's tokens, the next tokens of several conversations, or both) with matrix × matrix
// linears, so each weight block is read once per batch; forward runs one token (decode). With a thread pool
// (descriptor slot D_CTRL, threads.ts) every linear is split by output rows and attention by heads;
// a row's (a head's) value is computed by the same code whichever thread runs it, so the results do
// not depend on the number of threads.

import { rmsnorm } from './norm';
import { rope } from './rope';
import { swiglu, add } from './act';
import { embed_f16, embed_f32, store_f32_to_f16 } from './f16';
import { attention_all, kv_layer, linear } from './dispatch';
import { D_DIM, D_LAYERS, D_HEADS, D_KV_HEADS, D_HEAD_DIM, D_FFN, D_VOCAB, D_CTX, D_STAGES, D_KV_F16, D_RMS_EPS, D_ROPE_THETA, D_EMBD, D_EMBD_F16, D_OUT_NORM, D_OUTPUT, D_X, D_XB, D_XB2, D_Q, D_K, D_V, D_HB, D_HB2, D_CTRL, D_MAX_BATCH, D_THREAD_SCRATCH, D_IDS, D_SEQUENCES, D_LAYER0, L_SLOTS, L_ATTN_NORM, L_FFN_NORM, L_LINEAR0 } from '../src/descriptor';

// @ts-ignore: decorator
@inline function slot(d: usize, i: i32): u32 {
  return load<u32>(d + (<usize>i << 2));
}

// ---- The decoder -----------------------------------------------------------------------------------

/**
 * Runs a batch of T tokens through the model (1 ≤ T ≤ max batch): token t (tokens[t], i32) at
 * position pos[t] of sequence seqs[t]'s KV cache, which must hold that sequence's positions
 * 0 .. pos[t] − 1 (earlier tokens of the same sequence in this batch count: a prompt's tokens are
 * consecutive positions). Each token's keys and values go to its own cache and its attention reads
 * only that cache, so a token's result does not depend on what else is in the batch. Logits: for
 * the nOut tokens listed in outs (i32 indices, ascending), row j of `logits` (vocab floats) for
 * outs[j]; none when `logits` is 0. Row t of the scratch buffers holds token t.
 */
export function forward_batch(d: usize, tokens: usize, pos: usize, seqs: usize, T: i32, logits: usize, outs: usize, nOut: i32): void {
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
  const ctrl = <usize>slot(d, D_CTRL);
  const ts = <usize>slot(d, D_THREAD_SCRATCH);
  const nSeq = <i32>slot(d, D_SEQUENCES);
  if (T < 1 || T > <i32>slot(d, D_MAX_BATCH) || nOut < 0 || nOut > T) unreachable();
  for (let t = 0; t < T; t++) {
    const p = load<i32>(pos + (<usize>t << 2)), s = load<i32>(seqs + (<usize>t << 2));
    if (p < 0 || p >= ctx || s < 0 || s >= nSeq) unreachable();
  }
  for (let j = 0; j < nOut; j++) {
    const o = load<i32>(outs + (<usize>j << 2));
    if (o < j || o >= T || (j > 0 && o <= load<i32>(outs + (<usize>(j - 1) << 2)))) unreachable();
  }
  const x = <usize>slot(d, D_X), xb = <usize>slot(d, D_XB), xb2 = <usize>slot(d, D_XB2);
  const q = <usize>slot(d, D_Q), k = <usize>slot(d, D_K), v = <usize>slot(d, D_V);
  const hb = <usize>slot(d, D_HB), hb2 = <usize>slot(d, D_HB2);
  const qDim = nHeads * hd, kvDim = nKv * hd;
  // Row strides in bytes.
  const sd = <usize>dim << 2, sq = <usize>qDim << 2, skv = <usize>kvDim << 2, sf = <usize>ffn << 2;
  const elem: usize = kvF16 ? 2 : 4;
  const layerKv = <usize>ctx * <usize>kvDim * elem;
  const embd = <usize>slot(d, D_EMBD);
  const embdF16 = slot(d, D_EMBD_F16) != 0;

  for (let t = 0; t < T; t++) {
    const token = load<i32>(tokens + (<usize>t << 2));
    if (embdF16) embed_f16(x + <usize>t * sd, embd, token, dim);
    else embed_f32(x + <usize>t * sd, embd, token, dim);
  }

  for (let l = 0; l < nLayers; l++) {
    const L = d + (<usize>(D_LAYER0 + l * L_SLOTS) << 2);
    const rec = L + (<usize>L_LINEAR0 << 2);
    const attnNorm = <usize>load<u32>(L + (<usize>L_ATTN_NORM << 2));
    const ffnNorm = <usize>load<u32>(L + (<usize>L_FFN_NORM << 2));
    for (let t = 0; t < T; t++) rmsnorm(xb + <usize>t * sd, x + <usize>t * sd, attnNorm, dim, eps);
    linear(ctrl, q, xb, rec, qDim, dim, S, T, ts);
    linear(ctrl, k, xb, rec + 16, kvDim, dim, S, T, ts);
    linear(ctrl, v, xb, rec + 32, kvDim, dim, S, T, ts);
    for (let t = 0; t < T; t++) {
      const p = load<i32>(pos + (<usize>t << 2));
      const qt = q + <usize>t * sq, kt = k + <usize>t * skv, vt = v + <usize>t * skv;
      rope(qt, nHeads, hd, p, theta);
      rope(kt, nKv, hd, p, theta);
      const kc = kv_layer(d, load<i32>(seqs + (<usize>t << 2)), l) + <usize>p * <usize>kvDim * elem;
      const vc = kc + <usize>nLayers * layerKv;
      if (kvF16) {
        store_f32_to_f16(kc, kt, kvDim);
        store_f32_to_f16(vc, vt, kvDim);
      } else {
        memory.copy(kc, kt, skv);
        memory.copy(vc, vt, skv);
      }
    }
    attention_all(ctrl, d, xb2, q, l, T, pos, seqs);
    linear(ctrl, xb, xb2, rec + 48, dim, qDim, S, T, ts);
    for (let t = 0; t < T; t++) {
      const xt = x + <usize>t * sd, xbt = xb + <usize>t * sd;
      add(xt, xt, xbt, dim);
      rmsnorm(xbt, xt, ffnNorm, dim, eps);
    }
    linear(ctrl, hb, xb, rec + 64, ffn, dim, S, T, ts);
    linear(ctrl, hb2, xb, rec + 80, ffn, dim, S, T, ts);
    for (let t = 0; t < T; t++) swiglu(hb + <usize>t * sf, hb + <usize>t * sf, hb2 + <usize>t * sf, ffn);
    linear(ctrl, xb, hb, rec + 96, dim, ffn, S, T, ts);
    for (let t = 0; t < T; t++) add(x + <usize>t * sd, x + <usize>t * sd, xb + <usize>t * sd, dim);
  }
  if (logits == 0 || nOut == 0) return;
  // The rows that want logits, gathered to the front (outs ascending: row j's source is at or after j).
  const outNorm = <usize>slot(d, D_OUT_NORM);
  const head = d + (<usize>D_OUTPUT << 2);
  for (let j = 0; j < nOut; j++) {
    const src = load<i32>(outs + (<usize>j << 2));
    if (src != j) memory.copy(x + <usize>j * sd, x + <usize>src * sd, sd);
    rmsnorm(x + <usize>j * sd, x + <usize>j * sd, outNorm, dim, eps);
  }
  linear(ctrl, logits, x, head, vocab, dim, S, nOut, ts);
}

/**
 * Runs token `token` at position `pos` of sequence 0, storing its keys/values in the cache, and
 * writes the logits (vocab floats) to `logits` unless it is 0: forward_batch with T = 1, its
 * arguments in the descriptor's batch ids scratch (D_IDS).
 */
export function forward(d: usize, token: i32, pos: i32, logits: usize): void {
  const ids = <usize>slot(d, D_IDS), B = <usize>slot(d, D_MAX_BATCH) << 2;
  store<i32>(ids, token);
  store<i32>(ids + B, pos);
  store<i32>(ids + 2 * B, 0);
  store<i32>(ids + 3 * B, 0);
  forward_batch(d, ids, ids + B, ids + 2 * B, 1, logits, ids + 3 * B, 1);
}
