// bandwidth_read is only a roofline probe, but its result must depend on the data (or the
// engine could drop the loads) and it must read exactly `bytes` bytes.

import { bandwidth_read } from "../../assembly/bandwidth";
import { alloc, fillBytes, free, seed } from "./util";

describe("bandwidth_read", () => {
  test("depends on every 64-byte chunk and on the tail, and not on bytes past the end", () => {
    seed(71);
    const n = 64 * 9 + 5;
    const p = alloc(n + 64);
    fillBytes(p, n + 64);
    for (let reps = 1; reps <= 4; reps++) {
      const base = bandwidth_read(p, n, reps);
      let same = 0;
      for (let i = 0; i < n; i++) {
        store<u8>(p + <usize>i, load<u8>(p + <usize>i) ^ 0x10);
        if (bandwidth_read(p, n, reps) == base) same++;
        store<u8>(p + <usize>i, load<u8>(p + <usize>i) ^ 0x10);
      }
      expect<i32>(same).toBe(0, "reps=" + reps.toString());
      store<u8>(p + <usize>n, load<u8>(p + <usize>n) ^ 0xff);
      expect<f32>(bandwidth_read(p, n, reps)).toBe(base, "reps=" + reps.toString());
    }
    free(p);
  });
});
