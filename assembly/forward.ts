// The LLaMA decoder in wasm (after llama2.c run.c `forward`), driven by a model descriptor that the
// host writes into memory (src/layout.ts is its only writer). Everything is addresses into the one
// linear memory: weights used in place from the loaded file, the KV cache, and scratch.
//
// forward runs one token (decode); forward_batch runs T tokens at consecutive positions (prefill)
// with matrix × matrix linears, so each weight block is read once per batch. With a thread pool
// (descriptor slot D_CTRL, threads.ts) every linear is split by output rows and attention by heads;
// a row's (a head's) value is computed by the same code whichever thread runs it, so the results do
// not depend on the number of threads.

import { rmsnorm } from './norm';
import { rope } from './rope';
import { swiglu, add } from './act';
import { embed_f16, embed_f32, store_f32_to_f16 } from './f16';
import { attention_all, linear } from './dispatch';
import { D_DIM, D_LAYERS, D_HEADS, D_KV_HEADS, D_HEAD_DIM, D_FFN, D_VOCAB, D_CTX, D_STAGES, D_KV_F16, D_RMS_EPS, D_ROPE_THETA, D_EMBD, D_EMBD_F16, D_OUT_NORM, D_OUTPUT, D_KV, D_X, D_XB, D_XB2, D_Q, D_K, D_V, D_ATT, D_HB, D_HB2, D_CTRL, D_MAX_BATCH, D_THREAD_SCRATCH, D_LAYER0, L_SLOTS, L_ATTN_NORM, L_FFN_NORM, L_LINEAR0 } from './descriptor';

// @ts-ignore: decorator
@inline function slot(d: usize, i: i32): u32 {
  return load<u32>(d + (<usize>i << 2));
}

// ---- The decoder -----------------------------------------------------------------------------------

/**
 * Runs tokens[0 .. T) at positions pos0 .. pos0 + T − 1 through the model (1 ≤ T ≤ max batch; the
 * KV cache must hold positions 0 .. pos0 − 1), storing their keys and values in the cache. Logits:
 * none when `logits` is 0; with `all` false the last position's (vocab floats); with `all` true
 * every position's ((T, vocab) floats). Row t of the scratch buffers holds token t.
 */
export function forward_batch(d: usize, tokens: usize, T: i32, pos0: i32, logits: usize, all: bool): void {
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
  if (T < 1 || T > <i32>slot(d, D_MAX_BATCH) || pos0 < 0 || pos0 + T > ctx) unreachable();
  const x = <usize>slot(d, D_X), xb = <usize>slot(d, D_XB), xb2 = <usize>slot(d, D_XB2);
  const q = <usize>slot(d, D_Q), k = <usize>slot(d, D_K), v = <usize>slot(d, D_V);
  const att = <usize>slot(d, D_ATT), hb = <usize>slot(d, D_HB), hb2 = <usize>slot(d, D_HB2);
  const qDim = nHeads * hd, kvDim = nKv * hd;
  // Row strides in bytes.
  const sd = <usize>dim << 2, sq = <usize>qDim << 2, skv = <usize>kvDim << 2, sf = <usize>ffn << 2;
  const elem: usize = kvF16 ? 2 : 4;
  const kvBase = <usize>slot(d, D_KV);
  const layerKv = <usize>ctx * <usize>kvDim * elem;
  const vBase = kvBase + <usize>nLayers * layerKv;
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
    const kc = kvBase + <usize>l * layerKv, vc = vBase + <usize>l * layerKv;
    for (let t = 0; t < T; t++) {
      const pos = pos0 + t;
      const qt = q + <usize>t * sq, kt = k + <usize>t * skv, vt = v + <usize>t * skv;
      rope(qt, nHeads, hd, pos, theta);
      rope(kt, nKv, hd, pos, theta);
      const at = <usize>pos * <usize>kvDim * elem;
      if (kvF16) {
        store_f32_to_f16(kc + at, kt, kvDim);
        store_f32_to_f16(vc + at, vt, kvDim);
      } else {
        memory.copy(kc + at, kt, skv);
        memory.copy(vc + at, vt, skv);
      }
    }
    attention_all(ctrl, xb2, q, kc, vc, att, nHeads, nKv, hd, pos0, T, kvF16, ctx);
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
  if (logits == 0) return;
  const outNorm = <usize>slot(d, D_OUT_NORM);
  const head = d + (<usize>D_OUTPUT << 2);
  if (all) {
    for (let t = 0; t < T; t++) rmsnorm(x + <usize>t * sd, x + <usize>t * sd, outNorm, dim, eps);
    linear(ctrl, logits, x, head, vocab, dim, S, T, ts);
  } else {
    const last = x + <usize>(T - 1) * sd;
    rmsnorm(last, last, outNorm, dim, eps);
    linear(ctrl, logits, last, head, vocab, dim, S, 1, ts);
  }
}

/**
 * Runs token `token` at position `pos` through the model, storing its keys/values in the cache,
 * and writes the logits (vocab floats) to `logits` unless it is 0 (prefill positions skip lm_head).
 * This is forward_batch with T = 1: the token id goes through the first word of the att scratch,
 * which forward_batch reads before attention overwrites it.
 */
export function forward(d: usize, token: i32, pos: i32, logits: usize): void {
  const att = <usize>slot(d, D_ATT);
  store<i32>(att, token);
  forward_batch(d, att, 1, pos, logits, false);
}
