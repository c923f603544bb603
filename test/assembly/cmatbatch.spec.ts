// The batched kernel (cmatbatch.ts): its transposed tables against the scalar byte loop, every
// vector's result against the scalar twin cmatbatch_ref and against cmatvec on that vector's own
// tables, bit for bit (same integer sums, same f32 operations), on awkward sizes: odd m, partial
// tiles, fewer vectors than lanes, both widths, row sub-ranges; and the engine's batch dispatch
// (dispatch.ts: groups, the rest through cmatmul, split by units and rows as threads split it) at
// every batch size 1..17 and both precisions against one-vector decode.

import { cmatvec, cmatvec_prepare, cmatvec_tables_bytes } from "../../assembly/cmatvec";
import { cmatbatch, cmatbatch_ref, cmatbatch_scratch_bytes, cmatbatch_tables, cmatbatch_tables_bytes, cmatbatch_tables_ref } from "../../assembly/cmatbatch";
import { linear_codes_batch, linear_codes_begin, linear_codes_groups, linear_codes_prepare, linear_codes_rows, linear_codes_scratch_bytes, linear_codes_units, set_kernel } from "../../assembly/dispatch";
import { M_SIZES, alloc, fillBytes, fillUniform, firstDiff, free, seed, uniform } from "./util";

const N_SIZES: StaticArray<i32> = [1, 5, 16, 17, 70, 130];

function codesBytes(n: i32, m: i32, S: i32): i32 {
  return ((n + 15) >> 4) * 16 * ((m + 1) >> 1) * S;
}

/** nv vectors' tables at 1 level (int8) (one x each) and their batch tables of width W. */
function prepareW(tables: usize, bt: usize, X: usize, scales: usize, m: i32, S: i32, W: i32, nv: i32): void {
  const stride = cmatvec_tables_bytes(m, S, 1);
  for (let v = 0; v < nv; v++) cmatvec_prepare(tables + <usize>(v * stride), X + <usize>(v * 8 * m), scales, m, S, 1);
  cmatbatch_tables(bt, tables, m, S, W, nv, 0, (m + 1) >> 1);
}

function fillScales(scales: usize, S: i32): void {
  for (let i = 0; i < 4 * S; i++) store<f32>(scales + (<usize>i << 2), <f32>0.005 + <f32>0.05 * (uniform() + 1));
}

describe("cmatbatch", () => {
  test("batch tables (shuffles, pair ranges, both widths, fewer vectors than lanes) are the scalar transpose's bytes", () => {
    seed(21);
    for (let w = 0; w < 2; w++) {
      const W = w == 0 ? 8 : 16;
      for (let S = 1; S <= 4; S++) {
        for (let a = 0; a < M_SIZES.length; a++) {
          const m = M_SIZES[a], P = (m + 1) >> 1, stride = cmatvec_tables_bytes(m, S, 1), bb = cmatbatch_tables_bytes(m, S, W);
          const nv = a % 3 == 0 ? W - 3 : W;
          const scales = alloc(16 * S), X = alloc(8 * m * W), tables = alloc(W * stride), b1 = alloc(bb), b2 = alloc(bb);
          fillScales(scales, S);
          fillUniform(X, 2 * m * W, 1);
          memory.fill(b1, 0xaa, <usize>bb);
          memory.fill(b2, 0xaa, <usize>bb);
          for (let v = 0; v < nv; v++) cmatvec_prepare(tables + <usize>(v * stride), X + <usize>(v * 8 * m), scales, m, S, 1);
          for (let p = 0; p < P; p += 3) cmatbatch_tables(b1, tables, m, S, W, nv, p, min(P, p + 3)); // in ranges, as threads split it
          cmatbatch_tables_ref(b2, tables, m, S, W, nv, 0, P);
          expect<i32>(memory.compare(b1, b2, <usize>bb)).toBe(0, "W=" + W.toString() + " m=" + m.toString() + " S=" + S.toString());
          free(scales); free(X); free(tables); free(b1); free(b2);
        }
      }
    }
  });

  test("each vector's rows equal cmatbatch_ref's and cmatvec's bit for bit", () => {
    seed(22);
    const xt = alloc(cmatbatch_scratch_bytes());
    for (let w = 0; w < 2; w++) {
      const W = w == 0 ? 8 : 16;
      for (let S = 1; S <= 4; S++) {
        for (let a = 0; a < M_SIZES.length; a++) {
          for (let b = 0; b < N_SIZES.length; b++) {
            const m = M_SIZES[a], n = N_SIZES[b], stride = cmatvec_tables_bytes(m, S, 1);
            const nv = b == 2 ? W - 5 : W; // fewer vectors than lanes too
            const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * W);
            const tables = alloc(W * stride), bt = alloc(cmatbatch_tables_bytes(m, S, W));
            const Y = alloc(8 * n * (W + 2)), Yr = alloc(8 * n * (W + 2)), y1 = alloc(8 * n);
            fillBytes(codes, codesBytes(n, m, S));
            fillScales(scales, S);
            fillUniform(X, 2 * m * W, 1);
            if (m > 7) store<f32>(X, 40, 4 * 7); // an outlier: its block's scale is coarser
            prepareW(tables, bt, X, scales, m, S, W, nv);
            memory.fill(Y, 0x7f, <usize>(8 * n * (W + 2)));
            // vectors go to Y rows 1 .. nv (row 0 and nv + 1 must stay untouched)
            cmatbatch(Y, bt, codes, n, m, S, W, 1, nv, 0, n, xt);
            cmatbatch_ref(Yr, bt, codes, n, m, S, W, 1, nv, 0, n);
            const name = "W=" + W.toString() + " n=" + n.toString() + " m=" + m.toString() + " S=" + S.toString();
            for (let v = 0; v < nv; v++) {
              cmatvec(y1, tables + <usize>(v * stride), codes, scales, n, m, S, 0, n);
              const at = <usize>((1 + v) * 8 * n);
              expect<i32>(firstDiff(Y + at, Yr + at, 2 * n)).toBe(-1, name + " v=" + v.toString() + " vs cmatbatch_ref");
              expect<i32>(firstDiff(Y + at, y1, 2 * n)).toBe(-1, name + " v=" + v.toString() + " vs cmatvec");
            }
            let untouched = true;
            for (let i = 0; i < 2 * n; i++) {
              if (load<u32>(Y + (<usize>i << 2)) != 0x7f7f7f7f || load<u32>(Y + <usize>((nv + 1) * 8 * n) + (<usize>i << 2)) != 0x7f7f7f7f) untouched = false;
            }
            expect<bool>(untouched).toBe(true, name + ": only the nv vectors' rows are written");
            free(codes); free(scales); free(X); free(tables); free(bt); free(Y); free(Yr); free(y1);
          }
        }
      }
    }
    free(xt);
  });

  test("a row range writes just those rows, as the full call does", () => {
    seed(23);
    const S = 2, m = 65, n = 200, W = 16, stride = cmatvec_tables_bytes(m, S, 1);
    const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S), X = alloc(8 * m * 16);
    const tables = alloc(16 * stride), bt = alloc(cmatbatch_tables_bytes(m, S, W));
    const full = alloc(8 * n * 16), part = alloc(8 * n * 16), xt = alloc(cmatbatch_scratch_bytes());
    fillBytes(codes, codesBytes(n, m, S));
    fillScales(scales, S);
    fillUniform(X, 2 * m * 16, 1);
    prepareW(tables, bt, X, scales, m, S, W, 16);
    cmatbatch(full, bt, codes, n, m, S, W, 0, 16, 0, n, xt);
    memory.fill(part, 0, <usize>(8 * n * 16));
    cmatbatch(part, bt, codes, n, m, S, W, 0, 16, 37, 181, xt);
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

describe("batch dispatch", () => {
  test("a batch of T = 1..17 vectors (groups, the rest through cmatmul; rows split in two) equals one-vector decode, both precisions", () => {
    seed(24);
    const xt = alloc(cmatbatch_scratch_bytes());
    const S = 2, m = 67, n = 1030; // at least dispatch.ts's BATCH_MIN_ROWS, a partial last tile
    const codes = alloc(codesBytes(n, m, S)), scales = alloc(16 * S);
    fillBytes(codes, codesBytes(n, m, S));
    fillScales(scales, S);
    for (let k = 0; k < 2; k++) {
      const L = k == 0 ? 1 : 3;
      set_kernel(L);
      for (let T = 1; T <= 17; T++) {
        const X = alloc(8 * m * T), tables = alloc(linear_codes_scratch_bytes(m, S, T)), one = alloc(cmatvec_tables_bytes(m, S, L));
        const Y = alloc(8 * n * T), y1 = alloc(8 * n);
        fillUniform(X, 2 * m * T, 1);
        expect<i32>(linear_codes_begin(tables)).toBe(L);
        linear_codes_prepare(tables, X, scales, m, S, T, L);
        const groups = linear_codes_groups(T, L, n), P = (m + 1) >> 1;
        if (groups > 0) { // the batch tables in two shares, as two threads split the pairs
          const half = (groups * P) >> 1;
          linear_codes_batch(tables, m, S, T, 0, half);
          linear_codes_batch(tables, m, S, T, half, groups * P);
        }
        const units = linear_codes_units(T, L, n);
        expect<i32>(linear_codes_units(T, L, 1023)).toBe(0, "fewer rows than BATCH_MIN_ROWS: cmatmul");
        expect<bool>(L == 1 ? (T >= 5) == (units > 0) : units == 0).toBe(true, "T=" + T.toString() + ": batches of 5 or more on int8 tables run through cmatbatch");
        memory.fill(Y, 0x7f, <usize>(8 * n * T));
        // in two row parts, as threads split the rows
        linear_codes_rows(Y, X, tables, codes, scales, n, m, S, T, 0, 517, xt);
        linear_codes_rows(Y, X, tables, codes, scales, n, m, S, T, 517, n, xt);
        for (let t = 0; t < T; t++) {
          cmatvec_prepare(one, X + <usize>(t * 8 * m), scales, m, S, L);
          cmatvec(y1, one, codes, scales, n, m, S, 0, n);
          expect<i32>(firstDiff(Y + <usize>(t * 8 * n), y1, 2 * n)).toBe(-1, "L=" + L.toString() + " T=" + T.toString() + " t=" + t.toString());
        }
        free(X); free(tables); free(one); free(Y); free(y1);
      }
    }
    set_kernel(1);
    free(codes); free(scales); free(xt);
  });
});
