// The WebAssembly module's exports: plain functions over byte addresses (usize) and sizes (i32).
// Nothing here allocates; the host owns memory above heap_base(). Each fast kernel has a
// scalar twin <name>_ref with the same signature (tests and bench/kernels.ts compare them).

export {
  cmatvec, cmatvec_ref, cmatvec_lut_ref, cmatvec_prepare, cmatvec_prepare_blocks, cmatvec_prepare_ref, cmatvec_tables_bytes, cmatmul, cmatmul_ref,
} from "./cmatvec";
// linear_codes_groups: the tests check which kernel a linear of a given size takes.
export { set_kernel, kernel_build, linear_codes_scratch_bytes, linear_codes_groups, attention_tokens } from "./dispatch";
export { cmatbatch, cmatbatch_ref, cmatbatch_scratch_bytes, cmatbatch_tables, cmatbatch_tables_ref, cmatbatch_tables_bytes } from "./cmatbatch";
export {
  matvec_f32, matvec_f32_ref, matvec_f16, matvec_f16_ref,
  matmul_f32, matmul_f32_ref, matmul_f16, matmul_f16_ref,
} from "./matvec";
export {
  store_f32_to_f16, store_f32_to_f16_ref, load_f16_to_f32, load_f16_to_f32_ref,
  embed_f16, embed_f16_ref, embed_f32, f16_bits_to_f32, f32_to_f16_bits,
} from "./f16";
export { rmsnorm, rmsnorm_ref } from "./norm";
export { rope, rope_table, rope_apply, rope_apply_ref } from "./rope";
export {
  attention, attention_ref, attention_f16kv, attention_f16kv_ref,
  attention_heads, attention_heads_ref, attention_heads_f16kv, attention_heads_f16kv_ref, softmax, softmax_ref,
} from "./attention";
export { swiglu, swiglu_ref, add, add_ref, exp_f32 } from "./act";
export { heap_base, bandwidth_read } from "./bandwidth";
export { forward, forward_batch } from "./forward";
export { worker_main, threads_stop, ctrl_bytes } from "./threads";
