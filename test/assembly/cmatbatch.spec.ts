// The batched kernel (cmatbatch.ts): its transposed tables against the scalar byte loop, and every
// vector's result against cmatvec on that vector's own tables, bit for bit (same integer sums, same
// f32 operations), on awkward sizes: odd m, partial tiles, fewer than 16 vectors, row sub-ranges.

import { cmatvec, cmatvec_prepare, cmatvec_tables_bytes } from "../../assembly/cmatvec";
import { cmatbatch, cmatbatch_scratch_bytes, cmatbatch_tables, cmatbatch_tables_bytes, cmatbatch_tables_ref } from "../../assembly/cmatbatch";
import { M_SIZES, alloc, fillBytes, fillUniform, firstDiff, free, seed, uniform } from "./util";

const N_SIZES: StaticArray<i32> = [1, 5, 16, 17, 70, 130];

function codesBytes(n: i32, m: i32, S: i32): i32 {
  return ((n + 15) >> 4) * 16 * ((m + 1) >> 1) * S;
}

/** 16 vectors' tables at 1 level (int8) (one x each) and their batch tables. */
function prepare16(tables: usize, bt: usize, X: usize, scales: usize, m: i32, S: i32): void {
  const stride = cmatvec_tables_bytes(m, S, 1);
  for (let v = 0; v < 16; v++) cmatvec_prepare(tables + <usize>(v * stride), X + <usize>(v * 8 * m), scales, m, S, 1);
  cmatbatch_tables(bt, tables, m, S, 0, (m + 1) >> 1);
}

function fillScales(scales: usize, S: i32): void {
  for (let i = 0; i < 4 * S; i++) store<f32>(scales + (<usize>i << 2), <f32>0.005 + <f32>0.05 * (uniform() + 1));
}

describe("cmatbatch", () => {
  test("batch tables (shuffles, pair ranges) are the scalar transpose's bytes", () => {
    seed(21);
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        const m = M_SIZES[a], P = (m + 1) >> 1, stride = cmatvec_tables_bytes(m, S, 1), bb = cmatbatch_tables_bytes(m, S);
        const scales = alloc(16 * S), X = alloc(8 * m * 16), tables = alloc(16 * stride), b1 = alloc(bb), b2 = alloc(bb);
        fillScales(scales, S);
        fillUniform(X, 2 * m * 16, 1);
        memory.fill(b1, 0xaa, <usize>bb);
        memory.fill(b2, 0xaa, <usize>bb);
        const stride2 = <usize>stride;
        for (let v = 0; v < 16; v++) cmatvec_prepare(tables + <usize>v * stride2, X + <usize>(v * 8 * m), scales, m, S, 1);
        for (let p = 0; p < P; p += 3) cmatbatch_tables(b1, tables, m, S, p, min(P, p + 3)); // in ranges, as threads split it
        cmatbatch_tables_ref(b2, tables, m, S, 0, P);
        expect<i32>(memory.compare(b1, b2, <usize>bb)).toBe(0, "m=" + m.toString() + " S=" + S.toString());
        free(scales); free(X); free(tables); free(b1); free(b2);
      }
    }
  });

  test("each vector's rows equal cmatvec's bit for bit", () => {
    seed(22);
    const xt = alloc(cmatbatch_scratch_bytes());
    for (let S = 1; S <= 4; S++) {
      for (let a = 0; a < M_SIZES.length; a++) {
        for (let b = 0; b < N_SIZES.length; b++) {
          const m = M_SIZES[a], n = N_SIZES[b], stride = cmatvec_tables_bytes(m, S, 1);
          const nv = b == 2 ? 7 : 16; // fewer vectors than lanes too
          const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * 16);
          const tables = alloc(16 * stride), bt = alloc(cmatbatch_tables_bytes(m, S));
          const Y = alloc(8 * n * 18), y1 = alloc(8 * n);
          fillBytes(codes, codesBytes(n, m, S));
          fillScales(scales, S);
          fillUniform(X, 2 * m * 16, 1);
          if (m > 7) store<f32>(X, 40, 4 * 7); // an outlier: its block's scale is coarser
          prepare16(tables, bt, X, scales, m, S);
          memory.fill(Y, 0x7f, <usize>(8 * n * 18));
          // vectors go to Y rows 1 .. nv (row 0 and nv + 1 must stay untouched)
          cmatbatch(Y, bt, codes, n, m, S, 1, nv, 0, n, xt);
          const name = "n=" + n.toString() + " m=" + m.toString() + " S=" + S.toString();
          for (let v = 0; v < nv; v++) {
            cmatvec(y1, tables + <usize>(v * stride), codes, scales, n, m, S, 0, n);
            expect<i32>(firstDiff(Y + <usize>((1 + v) * 8 * n), y1, 2 * n)).toBe(-1, name + " v=" + v.toString());
          }
          let untouched = true;
          for (let i = 0; i < 2 * n; i++) {
            if (load<u32>(Y + (<usize>i << 2)) != 0x7f7f7f7f || load<u32>(Y + <usize>((nv + 1) * 8 * n) + (<usize>i << 2)) != 0x7f7f7f7f) untouched = false;
          }
          expect<bool>(untouched).toBe(true, name + ": only the nv vectors' rows are written");
          free(codes); free(scales); free(X); free(tables); free(bt); free(Y); free(y1);
        }
      }
    }
    free(xt);
  });

  test("a row range writes just those rows, as the full call does", () => {
    seed(23);
    const S = 2, m = 65, n = 200, stride = cmatvec_tables_bytes(m, S, 1);
    const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * 16);
    const tables = alloc(16 * stride), bt = alloc(cmatbatch_tables_bytes(m, S));
    const full = alloc(8 * n * 16), part = alloc(8 * n * 16), xt = alloc(cmatbatch_scratch_bytes());
    fillBytes(codes, codesBytes(n, m, S));
    fillScales(scales, S);
    fillUniform(X, 2 * m * 16, 1);
    prepare16(tables, bt, X, scales, m, S);
    cmatbatch(full, bt, codes, n, m, S, 0, 16, 0, n, xt);
    memory.fill(part, 0, <usize>(8 * n * 16));
    cmatbatch(part, bt, codes, n, m, S, 0, 16, 37, 181, xt);
    let bad = 0;
    for (let v = 0; v < 16; v++) {
      for (let i = 0; i < 2 * n; i++) {
        const r = i < n ? i : i - n;
        const at = <usize>(v * 8 * n) + (<usize>i << 2);
        const want = r >= 37 && r < 181 ? load<u32>(full + at) : 0;
        if (load<u32>(part + at) != want) bad++;
      }
    }
    expect<i32>(bad).toBe(0);
    free(codes); free(scales); free(X); free(tables); free(bt); free(full); free(part); free(xt);
  });
});
