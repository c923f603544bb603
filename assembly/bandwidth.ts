// Memory roofline for bench/kernels.ts, and the one memory fact the host needs.

/** First byte the host may use: static data (math tables) lives below it. Never allocates. */
export function heap_base(): usize {
  // -> address of the end of static data, 16-byte aligned by the compiler
  return __heap_base;
}

export function bandwidth_read(ptr: usize, bytes: i32, reps: i32): f32 {
  // ptr u8 (bytes,), read reps times -> a value depending on every byte (so the loads stay)
  // Four independent xor chains per 64 bytes: the loop is load-bound, not latency-bound.
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  const n64 = bytes & ~63;
  for (let r = 0; r < reps; r++) {
    for (let o = 0; o < n64; o += 64) {
      const p = ptr + <usize>o;
      a0 = v128.xor(a0, v128.load(p));
      a1 = v128.xor(a1, v128.load(p, 16));
      a2 = v128.xor(a2, v128.load(p, 32));
      a3 = v128.xor(a3, v128.load(p, 48));
    }
    // Rotate between passes so that repeated passes do not xor the data away (a flipped data bit
    // then flips `reps` distinct bits of the result, for reps < 24).
    a0 = v128.or(i32x4.shl(a0, 1), i32x4.shr_u(a0, 31));
    a1 = v128.or(i32x4.shl(a1, 1), i32x4.shr_u(a1, 31));
    a2 = v128.or(i32x4.shl(a2, 1), i32x4.shr_u(a2, 31));
    a3 = v128.or(i32x4.shl(a3, 1), i32x4.shr_u(a3, 31));
  }
  let s = 0;
  for (let o = n64; o < bytes; o++) s += load<u8>(ptr + <usize>o);
  const v = v128.xor(v128.xor(a0, a1), v128.xor(a2, a3));
  const h = <u32>(i32x4.extract_lane(v, 0) ^ i32x4.extract_lane(v, 1) ^ i32x4.extract_lane(v, 2) ^ i32x4.extract_lane(v, 3) ^ s);
  // Fold to 24 bits, which an f32 holds exactly: any single flipped input bit changes the result.
  return <f32>((h ^ (h >> 24)) & 0xffffff);
}
