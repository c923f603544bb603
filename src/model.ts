// The Model owns the wasm instance, its memory (weights in place, KV cache, scratch), the
// descriptor and the worker threads that share that memory. Every other module asks the Model;
// typed-array views are made fresh on each use because memory.grow replaces the buffer.

import { AbortError, Fairy2iError, FormatError, OptionError } from './errors.js';
import { isPlaceholderVocab, readModelHeader, type ModelConfig, type ModelHeader } from './format.js';
import { NeedMoreBytes } from './gguf.js';
import { planMemory, writeDescriptor, type KvType, type MemoryPlan } from './layout.js';
import type { ByteSource } from './sources.js';
import { ChatSession, type ChatOptions } from './chat.js';
import { generateTokens, type GenerateOptions, type GenerateResult, type GenerationStream } from './generate.js';
import { Tokenizer } from './tokenizer.js';
import { ThreadPool, threadTuning, type ThreadPlatform } from './threads.js';
import { compileWasm, heapBase, instantiateWasm, type Fairy2iExports, type WasmBuild, type WasmInput } from './wasm.js';

export interface LoadProgress {
  loaded: number;
  total: number;
}

export interface ModelLoadOptions {
  /** Tokens of context to allocate the KV cache for. @default the model's context length */
  contextLength?: number;
  /** KV cache precision; 'auto' is f32 unless only f16 fits in 4 GiB. @default 'auto' */
  kvCache?: KvType | 'auto';
  /**
   * Threads to run the model on (the calling thread plus threads − 1 workers sharing its memory);
   * 1 runs without workers. Where workers cannot share memory (a page that is not cross-origin
   * isolated, an edge runtime) the model runs on one thread and onNotice says why.
   * @default the number of logical cores (os.availableParallelism(), navigator.hardwareConcurrency);
   * 1 for models too small for a layer to be worth splitting
   */
  threads?: number;
  /**
   * Arithmetic of the quantized linears. 'fast': int8 activation tables (as llama.cpp's and
   * bitnet.cpp's int8 activations), the default, within 0.5 % perplexity, 0.003 nats mean KL and 95 %
   * top-1 agreement of 'exact' on the bundled trained model (tested); 'exact': ~20-bit tables (3
   * levels, about 3x slower), whose logits stay within 3e-5 · max|logit| of a float64 forward pass.
   * @default 'fast'
   */
  precision?: Precision;
  /** Receives one-line notices (running on fewer threads than asked). @default console.warn */
  onNotice?: (message: string) => void;
  /** Called as bytes arrive. */
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

export type Precision = 'fast' | 'exact';

/** assembly/dispatch.ts set_kernel: table digit levels per precision. */
const TABLE_LEVELS: Record<Precision, number> = { fast: 1, exact: 3 };

const CHUNK = 8 << 20;

export class Model {
  readonly config: ModelConfig;
  /** null for files converted without a tokenizer (they take token ids only). */
  readonly tokenizer: Tokenizer | null;
  readonly contextLength: number;
  readonly kvType: KvType;
  readonly memoryBytes: { weights: number; kvCache: number; scratch: number; total: number };
  /** Threads the model runs on (1: no worker threads). */
  readonly threads: number;
  /** Most tokens one batched forward pass takes (evaluate and prompts run in batches of this). */
  readonly maxBatch: number;
  /** The quantized linears' arithmetic (ModelLoadOptions.precision). */
  readonly precision: Precision;
  /** Which engine build runs: 'relaxed' (relaxed SIMD) or 'simd128' (src/wasm.ts WasmBuild). */
  readonly wasmBuild: WasmBuild;
  private ex: Fairy2iExports | null;
  private plan: MemoryPlan;
  private pool: ThreadPool | null;

  private constructor(ex: Fairy2iExports, header: ModelHeader, plan: MemoryPlan, pool: ThreadPool | null, precision: Precision) {
    this.ex = ex;
    this.precision = precision;
    this.wasmBuild = ex.kernel_build() === 1 ? 'relaxed' : 'simd128';
    this.plan = plan;
    this.pool = pool;
    this.threads = pool?.threads ?? 1;
    this.maxBatch = plan.maxBatch;
    this.config = header.config;
    this.tokenizer = isPlaceholderVocab(header.vocab) ? null : new Tokenizer(header.vocab);
    this.contextLength = plan.contextLength;
    this.kvType = plan.kvType;
    this.memoryBytes = { weights: plan.fileSize, kvCache: plan.kvBytes, scratch: plan.scratchBytes, total: plan.total };
  }

  /**
   * Loads a model from `src` into a new instance of `wasm`; `platform` starts worker threads (none:
   * one thread).
   */
  static async load(src: ByteSource, wasm: WasmInput, opts: ModelLoadOptions = {}, platform?: ThreadPlatform): Promise<Model> {
    try {
      if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 256)) {
        throw new OptionError('threads', `is ${opts.threads}, expected an integer from 1 to 256`);
      }
      if (opts.onNotice !== undefined && typeof opts.onNotice !== 'function') throw new OptionError('onNotice', 'must be a function');
      const precision = opts.precision ?? 'fast';
      if (!Object.hasOwn(TABLE_LEVELS, precision)) throw new OptionError('precision', `is ${JSON.stringify(opts.precision)}, expected 'fast' or 'exact'`);
      // 1. Read just enough of the file to parse and validate its header.
      let prefix = new Uint8Array(0);
      let header: ModelHeader | null = null;
      let ended = false;
      while (!header) {
        try {
          header = readModelHeader(prefix, src.name, ended ? prefix.length : (src.size ?? Number.MAX_SAFE_INTEGER));
        } catch (e) {
          if (!(e instanceof NeedMoreBytes)) throw e;
          const want = Math.max(e.needed, prefix.length * 2, 1 << 16);
          const next = new Uint8Array(want);
          next.set(prefix);
          const n = await readFull(src, next.subarray(prefix.length));
          if (n < want - prefix.length) ended = true;
          prefix = next.subarray(0, prefix.length + n);
        }
      }
      if (opts.contextLength !== undefined && (!Number.isInteger(opts.contextLength) || opts.contextLength < 1)) {
        throw new OptionError('contextLength', `is ${opts.contextLength}, expected a positive integer`);
      }
      if (opts.contextLength !== undefined && opts.contextLength > header.config.contextLength) {
        // Positions past the trained context would give unreliable output: refuse rather than cap silently.
        throw new OptionError('contextLength', `is ${opts.contextLength}, more than this model's context length ${header.config.contextLength} (${src.name})`);
      }
      const ctx = opts.contextLength ?? header.config.contextLength;

      // 2. Plan memory (fails before allocating when it does not fit), then grow once.
      const module = await compileWasm(wasm);
      const ex = await instantiateWasm(module);
      ex.set_kernel(TABLE_LEVELS[precision]);
      // Threads are chosen before the plan: each has scratch of its own.
      const cores = Math.max(1, Math.floor(platform?.cores() ?? 1));
      const threads = opts.threads ?? (worthSplitting(header.config) ? cores : 1);
      const plan = planMemory(header, heapBase(ex), { contextLength: ctx, kvCache: opts.kvCache, threads }, src.name);
      const have = ex.memory.buffer.byteLength;
      if (plan.total > have) {
        try {
          ex.memory.grow(Math.ceil((plan.total - have) / 65536));
        } catch {
          throw new Fairy2iError('memory', `${src.name}: the runtime refused ${(plan.total / 2 ** 30).toFixed(2)} GiB of wasm memory (weights ${(plan.fileSize / 2 ** 30).toFixed(2)} GiB); try a smaller contextLength`);
        }
      }

      // 3. Stream the file straight into wasm memory.
      const dst = new Uint8Array(ex.memory.buffer, plan.base, plan.fileSize);
      const head = Math.min(prefix.length, plan.fileSize);
      dst.set(prefix.subarray(0, head));
      let got = head;
      opts.onProgress?.({ loaded: got, total: plan.fileSize });
      // Each chunk's pages are touched while the next one is read (see touchPages).
      let filled = dst.subarray(0, head);
      while (got < plan.fileSize) {
        if (opts.signal?.aborted) throw new AbortError('model loading was aborted');
        const reading = readFull(src, dst.subarray(got, Math.min(plan.fileSize, got + CHUNK)));
        touchPages(filled);
        const n = await reading;
        if (n === 0) break;
        filled = dst.subarray(got, got + n);
        got += n;
        opts.onProgress?.({ loaded: got, total: plan.fileSize });
      }
      touchPages(filled);
      if (got < plan.fileSize) {
        throw new FormatError(src.name, 'tensor data', `file ends at byte ${got} but its tensors end at byte ${plan.fileSize} (truncated?)`);
      }
      writeDescriptor(ex.memory.buffer, plan, header);

      // 4. Worker threads over the same memory.
      let pool: ThreadPool | null = null;
      if (threads > 1) {
        const r = platform ? await ThreadPool.start(platform, module, ex, plan.scratch.ctrl, threads) : 'this runtime has no worker threads';
        if (typeof r === 'string') (opts.onNotice ?? console.warn)(`fairy2i-wasm: running on 1 thread instead of ${threads}: ${r}`);
        else pool = r;
      }
      return new Model(ex, header, plan, pool, precision);
    } finally {
      await src.close();
    }
  }

  private exports(): Fairy2iExports {
    if (!this.ex) throw new Fairy2iError('state', 'this model was disposed; load it again');
    return this.ex;
  }

  /**
   * Runs one token at position `pos` (the KV cache must hold positions 0..pos−1 of this sequence)
   * and returns its logits, copied out of wasm memory; with wantLogits false only fills the cache.
   */
  step(token: number, pos: number, wantLogits = true): Float32Array | null {
    const ex = this.exports();
    const V = this.config.vocabSize;
    this.checkToken(token);
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.contextLength) throw new Fairy2iError('option', `position ${pos} is outside the context of ${this.contextLength} tokens`);
    const out = wantLogits ? this.plan.scratch.logits : 0;
    ex.forward(this.plan.desc, token, pos, out);
    return wantLogits ? new Float32Array(ex.memory.buffer, out, V).slice() : null;
  }

  /**
   * Runs `tokens` at positions start, start + 1, … (the KV cache must hold positions 0..start−1 of
   * this sequence) in batches of up to maxBatch, each weight block read once per batch, and returns
   * the logits after the last one (or null with wantLogits false). Matches step() token by token
   * within float rounding.
   */
  prefill(tokens: ArrayLike<number>, start: number, wantLogits = true): Float32Array | null {
    const ex = this.exports();
    this.checkSpan(tokens, start);
    const V = this.config.vocabSize;
    const out = this.plan.scratch.logits;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const n = Math.min(this.maxBatch, tokens.length - i);
      const last = i + n === tokens.length;
      this.runBatch(ex, tokens, i, n, start + i, last && wantLogits ? out : 0, false);
    }
    return wantLogits && tokens.length > 0 ? new Float32Array(ex.memory.buffer, out, V).slice() : null;
  }

  /**
   * Logits for every position of `tokens` evaluated from position `start` (cache filled for
   * 0..start−1 already): a [tokens.length × vocab] array, row t after reading tokens[0..t].
   */
  evaluate(tokens: ArrayLike<number>, start = 0): Float32Array {
    const ex = this.exports();
    this.checkSpan(tokens, start);
    const V = this.config.vocabSize;
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const n = Math.min(this.maxBatch, tokens.length - i);
      this.runBatch(ex, tokens, i, n, start + i, this.plan.scratch.logits, true);
      out.set(new Float32Array(ex.memory.buffer, this.plan.scratch.logits, n * V), i * V);
    }
    return out;
  }

  /** tokens[i .. i + n) at positions pos0.. through forward_batch (n ≤ maxBatch). */
  private runBatch(ex: Fairy2iExports, tokens: ArrayLike<number>, i: number, n: number, pos0: number, logits: number, all: boolean): void {
    const ids = new Int32Array(ex.memory.buffer, this.plan.scratch.tokens, n);
    for (let t = 0; t < n; t++) ids[t] = tokens[i + t];
    ex.forward_batch(this.plan.desc, this.plan.scratch.tokens, n, pos0, logits, all ? 1 : 0);
  }

  private checkToken(token: number): void {
    const V = this.config.vocabSize;
    if (!Number.isInteger(token) || token < 0 || token >= V) throw new Fairy2iError('option', `token id ${token} is outside the vocabulary (0..${V - 1})`);
  }

  private checkSpan(tokens: ArrayLike<number>, start: number): void {
    if (!Number.isInteger(start) || start < 0) throw new Fairy2iError('option', `start position ${start} must be an integer >= 0`);
    if (start + tokens.length > this.contextLength) throw new Fairy2iError('option', `${start + tokens.length} tokens exceed the context of ${this.contextLength}`);
    for (let t = 0; t < tokens.length; t++) this.checkToken(tokens[t]);
  }

  private requireTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new Fairy2iError('unsupported', 'this model file has no tokenizer (it was converted from a checkpoint without one): pass token ids');
    return this.tokenizer;
  }

  /** Token ids of `text`; BOS as the model file says unless `addBos` is given. */
  tokenize(text: string, opts: { addBos?: boolean } = {}): number[] {
    return this.requireTokenizer().encode(text, { addBos: opts.addBos, addEos: false });
  }

  detokenize(ids: ArrayLike<number>): string {
    return this.requireTokenizer().decode(ids);
  }

  /**
   * Generates a continuation of `prompt` (text, or token ids used as given). Iterate the returned
   * stream for text pieces; `await stream.result` (or `stream.done()`) for the text, token counts,
   * timings and why it stopped.
   */
  generate(prompt: string | ArrayLike<number>, opts: GenerateOptions = {}): GenerationStream {
    this.exports();
    const ids = typeof prompt === 'string' ? this.promptTokens(prompt, opts.addBos) : Array.from(prompt);
    return generateTokens(this, this.tokenizer, ids, opts);
  }

  /** generate() collected: resolves with the whole result. */
  complete(prompt: string | ArrayLike<number>, opts: GenerateOptions = {}): Promise<GenerateResult> {
    return this.generate(prompt, opts).done();
  }

  /** A chat session; its turns reuse the KV cache (one live session per model at a time). */
  chat(opts: ChatOptions = {}): ChatSession {
    return new ChatSession(this, this.requireTokenizer(), opts);
  }

  private promptTokens(text: string, addBos?: boolean): number[] {
    const t = this.requireTokenizer();
    const ids = t.encode(text, { addBos: addBos ?? t.vocab.addBos, addEos: false });
    if (ids.length === 0 && t.bosId >= 0) ids.push(t.bosId);
    return ids;
  }

  /** Ends the worker threads and frees the instance and its memory (the Model is unusable afterwards). */
  dispose(): void {
    this.pool?.stop();
    this.pool = null;
    this.ex = null;
  }

  get disposed(): boolean {
    return this.ex === null;
  }
}

/** Whether some layer of the model is big enough to split between threads (see threadTuning). */
function worthSplitting(c: ModelConfig): boolean {
  const qDim = c.nHeads * c.headDim, kvDim = c.nKvHeads * c.headDim;
  // Work of the largest linear (inputs × outputs × stages): two chunks' worth or more.
  const biggest = Math.max(qDim * c.dim, kvDim * c.dim, c.ffnDim * c.dim, c.vocabSize * c.dim) * Math.max(1, c.stages);
  return biggest >= 4 * threadTuning.minChunkWork;
}

/**
 * Reads one byte of every 4 KiB page of `bytes`. Pages a file read filled from the kernel side (Node's
 * fs read) still cost about 5 µs each on their first access from this process (measured on the
 * 2-core VMs here: TinyLlama's first decode step took 430 ms instead of 80), so the first token
 * paid ~0.5 s (TinyLlama) to ~2.5 s (7B). The loader pays it instead, while it reads the next
 * chunk; pages already touched cost ~3 ms per 400 MB.
 */
function touchPages(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  return sum;
}

async function readFull(src: ByteSource, dst: Uint8Array): Promise<number> {
  let n = 0;
  while (n < dst.length) {
    const k = await src.read(dst.subarray(n));
    if (k === 0) break;
    n += k;
  }
  return n;
}
