// The relaxed-SIMD probe, in plain JavaScript so that both the host (src/wasm.ts) and the test script
// (scripts/test.mjs, plain Node before any build) use these bytes: one definition.

/** A module of one function returning i8x16.relaxed_swizzle(0, 0): valid only where relaxed SIMD is on. */
export const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x2b, 0x01, 0x29, 0x00, // code: one body of 41 bytes, no locals
  0xfd, 0x0c, ...new Array(16).fill(0), 0xfd, 0x0c, ...new Array(16).fill(0), // two v128.const 0
  0xfd, 0x80, 0x02, 0x0b, // i8x16.relaxed_swizzle, end
]);
