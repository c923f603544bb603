// The batch's attention indexing (dispatch.ts attention_tokens): each token of a batch attends its
// own position range of its own sequence's cache, giving the same bits as attention_heads over
// that sequence's cache alone (the kernel a single-token decode runs).

import { attention_tokens } from "../../assembly/dispatch";
import { attention_heads, attention_heads_f16kv } from "../../assembly/attention";
import { D_ATT, D_CTX, D_HEAD_DIM, D_HEADS, D_KV, D_KV_F16, D_KV_HEADS, D_KV_STRIDE, D_LAYERS, D_SEQUENCES } from "../../src/descriptor";
import { f32_to_f16_bits } from "../../assembly/f16";
import { alloc, fillUniform, firstDiff, free, seed, uniform } from "./util";

describe("attention_tokens", () => {
  test("token t sees positions 0..pos[t] of sequence seqs[t], layer l: the same bits as attention_heads on that cache", () => {
    seed(71);
    for (let h = 0; h < 2; h++) {
      const half = h == 1;
      const nHeads = 4, nKv = 2, hd = 12, ctx = 9, nLayers = 2, nSeq = 3;
      const elem = half ? 2 : 4, kvDim = nKv * hd;
      const layerKv = ctx * kvDim * elem, seqBytes = 2 * nLayers * layerKv + 64; // a gap between caches, as a plan may leave
      const kv = alloc(nSeq * seqBytes), d = alloc(4 * 40), att = alloc(4 * nHeads * ctx), att1 = alloc(4 * nHeads * ctx);
      // Random caches (f16: random values rounded to halves).
      if (half) for (let i = 0; i < nSeq * seqBytes / 2; i++) store<u16>(kv + (<usize>i << 1), f32_to_f16_bits(uniform()));
      else fillUniform(kv, nSeq * seqBytes / 4, 1);
      store<u32>(d + (D_HEADS << 2), nHeads);
      store<u32>(d + (D_KV_HEADS << 2), nKv);
      store<u32>(d + (D_HEAD_DIM << 2), hd);
      store<u32>(d + (D_CTX << 2), ctx);
      store<u32>(d + (D_LAYERS << 2), nLayers);
      store<u32>(d + (D_KV_F16 << 2), half ? 1 : 0);
      store<u32>(d + (D_KV << 2), <u32>kv);
      store<u32>(d + (D_KV_STRIDE << 2), seqBytes);
      store<u32>(d + (D_SEQUENCES << 2), nSeq);
      store<u32>(d + (D_ATT << 2), <u32>att);
      // A batch mixing sequences, positions out of order, and two consecutive tokens of sequence 1.
      const T = 5;
      const pos = alloc(4 * T), seqs = alloc(4 * T);
      const P: StaticArray<i32> = [0, 8, 3, 4, 5];
      const Sq: StaticArray<i32> = [2, 0, 1, 1, 2];
      for (let t = 0; t < T; t++) { store<i32>(pos + (<usize>t << 2), P[t]); store<i32>(seqs + (<usize>t << 2), Sq[t]); }
      const qBytes = nHeads * hd * 4;
      const q = alloc(qBytes * T), out = alloc(qBytes * T), o1 = alloc(qBytes);
      fillUniform(q, nHeads * hd * T, 1);
      for (let l = 0; l < nLayers; l++) {
        // Two head ranges, as two threads would split them.
        attention_tokens(d, out, q, l, T, pos, seqs, 0, 1);
        attention_tokens(d, out, q, l, T, pos, seqs, 1, nHeads);
        for (let t = 0; t < T; t++) {
          const kc = kv + <usize>(Sq[t] * seqBytes + l * layerKv), vc = kc + <usize>(nLayers * layerKv);
          const qt = q + <usize>(t * qBytes);
          if (half) attention_heads_f16kv(o1, qt, kc, vc, att1, nHeads, nKv, hd, P[t] + 1, 0, nHeads, ctx);
          else attention_heads(o1, qt, kc, vc, att1, nHeads, nKv, hd, P[t] + 1, 0, nHeads, ctx);
          expect<i32>(firstDiff(out + <usize>(t * qBytes), o1, nHeads * hd)).toBe(-1, (half ? "f16" : "f32") + " l=" + l.toString() + " t=" + t.toString());
        }
      }
      free(kv); free(d); free(att); free(att1); free(pos); free(seqs); free(q); free(out); free(o1);
    }
  });
});
