// The model descriptor: the u32 slots the host writes (src/layout.ts) and the engine reads
// (assembly/forward.ts, assembly/dispatch.ts). Written in the subset of TypeScript that
// AssemblyScript also compiles (untyped integer constants), so this one file is the layout for both
// sides. It lives in src/ because the declaration build (tsconfig.dts.json, rootDir src) takes only
// files under src/; the engine imports it from there.

// Descriptor slots (u32, 4 bytes each). src/layout.ts writes them.
export const D_DIM = 0;
export const D_LAYERS = 1;
export const D_HEADS = 2;
export const D_KV_HEADS = 3;
export const D_HEAD_DIM = 4;
export const D_FFN = 5;
export const D_VOCAB = 6;
export const D_CTX = 7;
export const D_STAGES = 8;
export const D_KV_F16 = 9;
export const D_RMS_EPS = 10; // f32 bits
export const D_ROPE_THETA = 11; // f32 bits
export const D_EMBD = 12;
export const D_EMBD_F16 = 13;
export const D_OUT_NORM = 14;
export const D_OUTPUT = 15; // linear record (4 slots)
export const D_KV = 19; // sequence 0's cache: keys of every layer, then values (n_layers * ctx * kv_dim elements each)
// Scratch, max_batch rows each: x, xb (dim), xb2 (max(dim, q_dim)), q (q_dim), k, v (kv_dim),
// hb, hb2 (ffn); att (heads * ctx) once.
export const D_X = 20;
export const D_XB = 21;
export const D_XB2 = 22;
export const D_Q = 23;
export const D_K = 24;
export const D_V = 25;
export const D_ATT = 26;
export const D_HB = 27;
export const D_HB2 = 28;
export const D_CTRL = 29; // thread pool control block (threads.ts), 0 without a pool
export const D_MAX_BATCH = 30; // rows of the scratch buffers: the largest T of forward_batch
export const D_THREAD_SCRATCH = 31; // per-thread scratch: thread i's at + i · cmatbatch_scratch_bytes()
export const D_IDS = 32; // 4 × max_batch i32: a batch's tokens, positions, sequences, logits rows (forward)
export const D_SEQUENCES = 33; // KV caches (sequences): sequence s's cache at D_KV + s · D_KV_STRIDE
export const D_KV_STRIDE = 34; // bytes from one sequence's cache to the next
export const D_LAYER0 = 36;
// Per layer: attn_norm, ffn_norm, then 7 linear records of 4 slots (q, k, v, o, gate, up, down).
export const L_SLOTS = 30;
export const L_ATTN_NORM = 0;
export const L_FFN_NORM = 1;
export const L_LINEAR0 = 2;

// Linear record: kind, a, b, c. kind 0: f32 weight at a; 1: f16 weight at a; 2: codes at a, scales at b and
// scratch for the kernel's activation tables at c (MAX_BATCH × cmatvec_tables_bytes(m, S, 3), shared by all records).
export const LIN_F32 = 0;
export const LIN_F16 = 1;
export const LIN_CODES = 2;
