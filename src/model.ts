// The Model owns the wasm instance, its memory (weights in place, KV cache, scratch), the
// descriptor and the worker threads that share that memory. Every other module asks the Model;
// typed-array views are made fresh on each use because memory.grow replaces the buffer.

import { AbortError, Fairy2iError, FormatError, OptionError } from './errors.js';
import { isPlaceholderVocab, readModelHeader, type ModelConfig, type ModelHeader } from './format.js';
import { NeedMoreBytes } from './gguf.js';
import { MAX_BATCH, planMemory, writeDescriptor, type KvType, type MemoryPlan } from './layout.js';
import { describeValue, type ByteSource } from './sources.js';
import { Batcher, type PassPart } from './batcher.js';
import { ChatSession, type ChatOptions } from './chat.js';
import { generateTokens, type GenerateOptions, type GenerateResult, type GenerationStream } from './generate.js';
import { commonPrefix, Sequence, type Lease, type SequenceRunner } from './sequence.js';
import { checkLoadOptions } from './load-options.js';
import { Tokenizer } from './tokenizer.js';
import { ThreadPool, threadTuning, type ThreadPlatform } from './threads.js';
import { compileWasm, engineSizes, instantiateWasm, type Fairy2iExports, type WasmInput } from './wasm.js';

export interface LoadProgress {
  loaded: number;
  total: number;
}

export interface ModelLoadOptions {
  /** Tokens of context to allocate each KV cache for. @default the model's context length */
  contextLength?: number;
  /**
   * KV caches to allocate: conversations that can run at the same time, each keeping its own
   * tokens (model.sequence() hands them out); their next-token steps share one forward pass.
   * At most 64. @default 1
   */
  sequences?: number;
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
   * Arithmetic of the quantized linears. 'fast': activation tables rounded to ~14 bits (2 digit
   * levels), the default; 'exact': ~20-bit tables (3 levels, about 1.4x slower), whose logits stay
   * within 3e-5 · max|logit| of a float64 forward pass. Both agree with the exact f32 reference on
   * the golden sequences' top-1 tokens (>= 99.5 %) and perplexity (within 0.5 %), which is tested.
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

/** assembly/cmatvec.ts set_kernel: table digit levels per precision. */
const TABLE_LEVELS: Record<Precision, number> = { fast: 2, exact: 3 };

const CHUNK = 8 << 20;


/** Load options must be an object (undefined: none); their names are checked against the known ones. */
export class Model implements SequenceRunner {
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
  /** KV caches (ModelLoadOptions.sequences). */
  readonly sequenceCount: number;
  /** Forward passes run and tokens through them since loading (how well steps were batched). */
  readonly stats = { passes: 0, tokens: 0 };
  private ex: Fairy2iExports | null;
  private plan: MemoryPlan;
  private pool: ThreadPool | null;
  private readonly home = {};
  private readonly seqs: Sequence[];
  private readonly batcher: Batcher;
  private gens = 0;

  private constructor(ex: Fairy2iExports, header: ModelHeader, plan: MemoryPlan, pool: ThreadPool | null, precision: Precision) {
    this.ex = ex;
    this.precision = precision;
    this.plan = plan;
    this.pool = pool;
    this.threads = pool?.threads ?? 1;
    this.maxBatch = plan.maxBatch;
    this.config = header.config;
    this.tokenizer = isPlaceholderVocab(header.vocab) ? null : new Tokenizer(header.vocab);
    this.contextLength = plan.contextLength;
    this.kvType = plan.kvType;
    this.memoryBytes = { weights: plan.fileSize, kvCache: plan.kvBytes, scratch: plan.scratchBytes, total: plan.total };
    this.sequenceCount = plan.sequences;
    this.seqs = Array.from({ length: plan.sequences }, (_, i) => new Sequence(i, this.home));
    this.batcher = new Batcher((parts) => this.forwardPass(this.exports(), parts), plan.maxBatch);
  }

  /**
   * Loads a model from `src` into a new instance of `wasm`; `platform` starts worker threads (none:
   * one thread).
   */
  static async load(src: ByteSource, wasm: WasmInput, opts: ModelLoadOptions = {}, platform?: ThreadPlatform): Promise<Model> {
    try {
      checkLoadOptions(opts);
      opts ??= {};
      if (opts.sequences !== undefined && (!Number.isInteger(opts.sequences) || opts.sequences < 1 || opts.sequences > MAX_BATCH)) {
        throw new OptionError('sequences', `is ${opts.sequences}, expected an integer from 1 to ${MAX_BATCH}`);
      }
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
      const threads = threadsFor(opts, cores, worthSplitting(header.config));
      const plan = planMemory(header, engineSizes(ex), { contextLength: ctx, kvCache: opts.kvCache, threads, sequences: opts.sequences }, src.name);
      const have = ex.memory.buffer.byteLength;
      if (plan.total > have) {
        try {
          ex.memory.grow(Math.ceil((plan.total - have) / 65536));
        } catch {
          throw new Fairy2iError('memory', `${src.name}: the runtime refused ${(plan.total / 2 ** 30).toFixed(2)} GiB of wasm memory (weights ${(plan.fileSize / 2 ** 30).toFixed(2)} GiB); try a smaller contextLength${plan.sequences > 1 ? ' or fewer sequences' : ''}`);
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
   * A free sequence (a KV cache of its own) for a conversation, until its release(); a state
   * error when all sequenceCount are in use. Calls without a sequence use the default one, which
   * is handed out last.
   */
  sequence(): Sequence {
    this.exports();
    for (let i = this.seqs.length - 1; i >= 0; i--) {
      const s = this.seqs[i];
      if (!s.taken && !s.busy) { s.taken = true; s.clear(); return s; }
    }
    throw new Fairy2iError('state', `all ${this.seqs.length} sequences of this model are in use: release() one, or load the model with more (sequences: ${this.seqs.length + 1})`);
  }

  /** @internal SequenceRunner: takes a sequence for a generation (see sequence.ts). */
  claim(prompt: readonly number[], sequence?: Sequence): Lease {
    this.exports();
    const seq = sequence === undefined ? this.pick(prompt) : this.own(sequence);
    if (sequence !== undefined && seq.busy) throw this.busyError(seq);
    seq.users++;
    const gen = ++this.gens;
    let ended = false;
    return {
      sequence: seq,
      run: (tokens, signal) => {
        if (ended) return Promise.reject(new Fairy2iError('state', 'this generation has ended'));
        if (tokens.length === 0) return Promise.reject(new OptionError('prompt', 'is empty: give at least one token (or let BOS be added)'));
        if (tokens.length > this.contextLength) return Promise.reject(new Fairy2iError('option', `the prompt has ${tokens.length} tokens, more than the context of ${this.contextLength}`));
        return this.batcher.submit(seq, tokens, gen, signal);
      },
      end: () => {
        if (ended) return;
        ended = true;
        seq.users--;
        if (seq.owner === gen) seq.owner = 0;
      },
    };
  }

  /**
   * The sequence a call without one runs on: of the sequences neither handed out nor busy, the one
   * holding the longest prefix of `prompt` (the default sequence 0 on ties); when there is none,
   * the default sequence, shared: generations on it take turns, each re-evaluating its tokens when
   * it resumes after another (the same results, more work).
   */
  private pick(prompt: readonly number[]): Sequence {
    let best: Sequence | null = null, bestLen = -1;
    for (const s of this.seqs) {
      if (s.taken || s.busy) continue;
      const n = commonPrefix(s.held, prompt);
      if (n > bestLen) { best = s; bestLen = n; }
    }
    return best ?? this.seqs[0];
  }

  /** `s` checked to be one of this model's sequences, handed out and not released. */
  private own(s: unknown): Sequence {
    if (!(s instanceof Sequence) || s.home !== this.home) throw new OptionError('sequence', 'is not a sequence of this model (get one from model.sequence())');
    if (!s.taken) throw new Fairy2iError('state', `sequence ${s.id} was released; get another from model.sequence()`);
    return s;
  }

  private busyError(s: Sequence): Fairy2iError {
    return new Fairy2iError('state', `sequence ${s.id} is busy (a generation is running on it): wait for it to end, abort it, or use another sequence`);
  }

  /** The sequence a synchronous call runs on: `sequence`, or the default; never a busy one. */
  private syncSequence(sequence: Sequence | undefined): Sequence {
    const s = sequence === undefined ? this.seqs[0] : this.own(sequence);
    if (s.busy) throw sequence === undefined ? new Fairy2iError('state', 'the default sequence is busy (a generation is running on it): pass a sequence from model.sequence()') : this.busyError(s);
    return s;
  }

  /** Sets the tokens `s` holds to its first `start` (which it must hold) before a run from there. */
  private rewind(s: Sequence, start: number): void {
    if (start > s.held.length) throw new Fairy2iError('state', `sequence ${s.id} holds ${s.held.length} tokens: a run from position ${start} would leave positions ${s.held.length}..${start - 1} undefined`);
    s.held.length = start;
  }

  /**
   * Runs one token at position `pos` of `sequence` (default: the default sequence), which must hold
   * positions 0..pos−1 (it keeps those and this token), and returns its logits, copied out of wasm
   * memory; with wantLogits false only fills the cache.
   */
  step(token: number, pos: number, wantLogits = true, sequence?: Sequence): Float32Array | null {
    const ex = this.exports();
    this.checkToken(token);
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.contextLength) throw new Fairy2iError('option', `position ${pos} is outside the context of ${this.contextLength} tokens`);
    const s = this.syncSequence(sequence);
    this.rewind(s, pos);
    return this.forwardPass(ex, [{ seq: s, tokens: [token], at: 0, n: 1, pos, logits: wantLogits ? 'last' : 'none' }])[0];
  }

  /**
   * Runs `tokens` at positions start, start + 1, … of `sequence` (default: the default sequence),
   * which must hold positions 0..start−1, in batches of up to maxBatch, each weight block read
   * once per batch, and returns the logits after the last one (or null with wantLogits false). The
   * same bits as step() token by token.
   */
  prefill(tokens: ArrayLike<number>, start: number, wantLogits = true, sequence?: Sequence): Float32Array | null {
    const ex = this.exports();
    this.checkSpan(tokens, start);
    const s = this.syncSequence(sequence);
    this.rewind(s, start);
    let last: Float32Array | null = null;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const n = Math.min(this.maxBatch, tokens.length - i);
      const want = wantLogits && i + n === tokens.length;
      last = this.forwardPass(ex, [{ seq: s, tokens, at: i, n, pos: start + i, logits: want ? 'last' : 'none' }])[0];
    }
    return last;
  }

  /**
   * Logits for every position of `tokens` evaluated from position `start` of `sequence` (default:
   * the default sequence, which must hold 0..start−1): a [tokens.length × vocab] array, row t after
   * reading tokens[0..t].
   */
  evaluate(tokens: ArrayLike<number>, start = 0, sequence?: Sequence): Float32Array {
    const ex = this.exports();
    this.checkSpan(tokens, start);
    const s = this.syncSequence(sequence);
    this.rewind(s, start);
    const V = this.config.vocabSize;
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const n = Math.min(this.maxBatch, tokens.length - i);
      out.set(this.forwardPass(ex, [{ seq: s, tokens, at: i, n, pos: start + i, logits: 'all' }])[0]!, i * V);
    }
    return out;
  }

  /**
   * One forward_batch over `parts` (at most maxBatch tokens in all; each part's sequence holds
   * exactly its first `pos` tokens and then holds the part's tokens too). Returns each part's
   * logits, copied out of wasm memory.
   */
  private forwardPass(ex: Fairy2iExports, parts: PassPart[]): (Float32Array | null)[] {
    const B = this.maxBatch, V = this.config.vocabSize;
    const base = this.plan.scratch.ids;
    const ids = new Int32Array(ex.memory.buffer, base, 4 * B);
    let T = 0, nOut = 0;
    for (const p of parts) {
      if (p.seq.held.length !== p.pos || T + p.n > B) throw new Error('internal: a forward pass out of step with its sequence');
      for (let i = 0; i < p.n; i++, T++) {
        ids[T] = p.tokens[p.at + i];
        ids[B + T] = p.pos + i;
        ids[2 * B + T] = p.seq.id;
        if (p.logits === 'all' || (p.logits === 'last' && i === p.n - 1)) ids[3 * B + nOut++] = T;
      }
    }
    const logits = this.plan.scratch.logits;
    ex.forward_batch(this.plan.desc, base, base + 4 * B, base + 8 * B, T, nOut ? logits : 0, base + 12 * B, nOut);
    this.stats.passes++;
    this.stats.tokens += T;
    let row = 0;
    return parts.map((p) => {
      for (let i = 0; i < p.n; i++) p.seq.held.push(p.tokens[p.at + i]);
      if (p.logits === 'none') return null;
      const rows = p.logits === 'all' ? p.n : 1;
      const r = new Float32Array(ex.memory.buffer, logits + 4 * row * V, rows * V).slice();
      row += rows;
      return r;
    });
  }

  private checkToken(token: number): void {
    const V = this.config.vocabSize;
    if (!Number.isInteger(token) || token < 0 || token >= V) throw new Fairy2iError('option', `token id ${token} is outside the vocabulary (0..${V - 1})`);
  }

  private checkSpan(tokens: ArrayLike<number>, start: number): void {
    if (!isTokenList(tokens)) throw new Fairy2iError('input', `tokens must be an array of token ids, got ${describeValue(tokens)}`);
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
    if (typeof text !== 'string') throw new Fairy2iError('input', `tokenize: the text must be a string, got ${describeValue(text)}`);
    if (typeof opts !== 'object' || opts === null) throw new OptionError('options', 'must be an object');
    return this.requireTokenizer().encode(text, { addBos: opts.addBos, addEos: false });
  }

  detokenize(ids: ArrayLike<number>): string {
    if (!isTokenList(ids)) throw new Fairy2iError('input', `detokenize: ids must be an array of token ids, got ${describeValue(ids)}`);
    return this.requireTokenizer().decode(ids);
  }

  /**
   * Generates a continuation of `prompt` (text, or token ids used as given). Iterate the returned
   * stream for text pieces; `await stream.result` (or `stream.done()`) for the text, token counts,
   * timings and why it stopped.
   */
  generate(prompt: string | ArrayLike<number>, opts: GenerateOptions = {}): GenerationStream {
    this.exports();
    if (typeof opts !== 'object' || opts === null) throw new OptionError('options', `must be an object, got ${describeValue(opts)}`);
    if (typeof prompt !== 'string' && !isTokenList(prompt)) throw new Fairy2iError('input', `the prompt must be a string or an array of token ids, got ${describeValue(prompt)}`);
    const ids = typeof prompt === 'string' ? this.promptTokens(prompt, opts.addBos) : Array.from(prompt);
    if (typeof prompt !== 'string') ids.forEach((t) => this.checkToken(t));
    if (opts.sequence !== undefined && this.own(opts.sequence).busy) throw this.busyError(opts.sequence);
    return generateTokens(this, this.tokenizer, ids, opts);
  }

  /** generate() collected: resolves with the whole result. */
  complete(prompt: string | ArrayLike<number>, opts: GenerateOptions = {}): Promise<GenerateResult> {
    return this.generate(prompt, opts).done();
  }

  /**
   * A chat session; its turns reuse what its sequence holds (`sequence`, or without one the free
   * sequence holding the longest prefix of the turn, the default sequence first).
   */
  chat(opts: ChatOptions = {}): ChatSession {
    this.exports();
    if (typeof opts !== 'object' || opts === null) throw new OptionError('options', `must be an object, got ${describeValue(opts)}`);
    if (opts.sequence !== undefined) this.own(opts.sequence);
    return new ChatSession(this, this.requireTokenizer(), this.config.name, opts);
  }

  private promptTokens(text: string, addBos?: boolean): number[] {
    const t = this.requireTokenizer();
    const ids = t.encode(text, { addBos: addBos ?? t.vocab.addBos, addEos: false });
    if (ids.length === 0 && t.bosId >= 0) ids.push(t.bosId);
    return ids;
  }

  /** Ends the worker threads and frees the instance and its memory (the Model is unusable afterwards). */
  dispose(): void {
    this.batcher.close(new Fairy2iError('state', 'this model was disposed; load it again'));
    this.pool?.stop();
    this.pool = null;
    this.ex = null;
  }

  get disposed(): boolean {
    return this.ex === null;
  }
}

function isTokenList(x: unknown): x is ArrayLike<number> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

/**
 * The threads to start: the default, or those asked for up to the cores available (times
 * threadTuning.oversubscription), saying so when that is fewer. More threads than cores only take
 * turns: --threads 256 on 2 cores took 1.8 GB of workers and 38 s to start.
 */
function threadsFor(opts: ModelLoadOptions, cores: number, worthIt: boolean): number {
  if (opts.threads === undefined) return worthIt ? cores : 1;
  const most = Math.max(1, Math.floor(cores * threadTuning.oversubscription));
  if (opts.threads <= most) return opts.threads;
  (opts.onNotice ?? console.warn)(`fairy2i-wasm: running on ${most} thread${most > 1 ? 's' : ''} instead of ${opts.threads}: ${cores} core${cores > 1 ? 's are' : ' is'} available`);
  return most;
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
