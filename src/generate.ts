// Text generation on a Model: an async iterator of text pieces (the primitive), with the final
// result (why it stopped, counts, timings) on `.result`. The KV cache keeps the tokens it holds, so a
// prompt that extends what is cached (a chat's next turn) evaluates only the new tokens.

import { AbortError, Fairy2iError, OptionError } from './errors.js';
import type { Model } from './model.js';
import { checkSampling, Sampler, SAMPLING_DEFAULTS, type SamplingOptions } from './sampler.js';
import type { Tokenizer } from './tokenizer.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most new tokens to generate. @default 256 */
  maxTokens?: number;
  /** Stop when the generated text contains one of these (not included in the text). @default [] */
  stop?: string[];
  /** Stop at the end-of-sequence token. @default true */
  stopAtEos?: boolean;
  /** Abort: generation stops within one token with stopReason 'abort'. */
  signal?: AbortSignal;
  /**
   * When the context fills up: 'stop' ends with stopReason 'length'; 'shift' drops the oldest half of
   * the tokens after the first `keepTokens` (e.g. the system prompt) and continues. @default 'stop'
   */
  onContextFull?: 'stop' | 'shift';
  /** Tokens at the start kept by a context shift. @default 0 */
  keepTokens?: number;
  /** Add BOS before a text prompt (default: as the model file says). */
  addBos?: boolean;
  /**
   * Called with each kept token and the logits it was drawn from, before penalties (for logprobs;
   * the array is reused, read it during the call). Not called for the EOS that ends generation.
   */
  onSample?: (token: number, logits: Float32Array) => void;
}

export type StopReason = 'stop' | 'length' | 'abort';

export interface GeneratePiece {
  /** New text, safe to print (never a broken UTF-8 character, never part of a stop string). */
  text: string;
  /** The token ids this piece completes. */
  tokens: number[];
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  usage: { promptTokens: number; evaluatedPromptTokens: number; completionTokens: number };
  timings: { promptMs: number; generateMs: number; promptTokensPerSecond: number; generateTokensPerSecond: number };
  seed: number;
}

const KNOWN = new Set(['maxTokens', 'stop', 'stopAtEos', 'signal', 'onContextFull', 'keepTokens', 'addBos', 'onSample', ...Object.keys(SAMPLING_DEFAULTS), 'seed']);

export function checkGenerateOptions(o: GenerateOptions): void {
  if (typeof o !== 'object' || o === null) throw new OptionError('options', 'must be an object');
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new OptionError(k, `is not a generate option (known: ${[...KNOWN].join(', ')})`);
  checkSampling(o);
  if (o.maxTokens !== undefined && (!Number.isInteger(o.maxTokens) || o.maxTokens < 0)) throw new OptionError('maxTokens', `must be an integer >= 0, got ${o.maxTokens}`);
  if (o.stop !== undefined && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string' || s === ''))) throw new OptionError('stop', 'must be an array of non-empty strings');
  if (o.onContextFull !== undefined && o.onContextFull !== 'stop' && o.onContextFull !== 'shift') throw new OptionError('onContextFull', `must be 'stop' or 'shift', got ${JSON.stringify(o.onContextFull)}`);
  if (o.keepTokens !== undefined && (!Number.isInteger(o.keepTokens) || o.keepTokens < 0)) throw new OptionError('keepTokens', `must be an integer >= 0, got ${o.keepTokens}`);
  if (o.onSample !== undefined && typeof o.onSample !== 'function') throw new OptionError('onSample', 'must be a function');
}

/** The token ids of the KV cache, per model (the cache itself lives in wasm memory). */
const caches = new WeakMap<Model, number[]>();

export function cachedTokens(model: Model): number[] {
  let c = caches.get(model);
  if (!c) caches.set(model, (c = []));
  return c;
}

/**
 * Makes the KV cache hold exactly `tokens` and returns the logits after the last one. Reuses the
 * longest common prefix with what is cached; always re-evaluates at least the last token. The new
 * tokens run in batches (Model.prefill); an abort is seen between batches.
 */
export function ingest(model: Model, tokens: number[], signal?: AbortSignal): { logits: Float32Array; evaluated: number } {
  if (tokens.length === 0) throw new OptionError('prompt', 'is empty: give at least one token (or let BOS be added)');
  if (tokens.length > model.contextLength) throw new Fairy2iError('option', `the prompt has ${tokens.length} tokens, more than the context of ${model.contextLength}`);
  const cache = cachedTokens(model);
  let common = 0;
  while (common < cache.length && common < tokens.length - 1 && cache[common] === tokens[common]) common++;
  cache.length = common;
  let logits: Float32Array | null = null;
  for (let i = common; i < tokens.length; i += model.maxBatch) {
    if (signal?.aborted) break;
    const batch = tokens.slice(i, Math.min(tokens.length, i + model.maxBatch));
    logits = model.prefill(batch, i, i + batch.length === tokens.length);
    cache.push(...batch);
  }
  return { logits: logits ?? new Float32Array(0), evaluated: tokens.length - common };
}

export class GenerationStream implements AsyncIterable<GeneratePiece> {
  /** Resolves when generation ends, with the whole text and why it stopped. */
  readonly result: Promise<GenerateResult>;
  private resolve!: (r: GenerateResult) => void;
  private reject!: (e: unknown) => void;
  private started = false;
  private settled = false;

  constructor(private run: (emit: (p: GeneratePiece) => void) => AsyncGenerator<GeneratePiece, GenerateResult>) {
    this.result = new Promise((res, rej) => { this.resolve = res; this.reject = rej; });
    this.result.catch(() => {}); // the error is also thrown to the iterating caller
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<GeneratePiece> {
    if (this.started) throw new Fairy2iError('state', 'a generation stream can be iterated only once');
    this.started = true;
    const it = this.run(() => {});
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) { this.settled = true; this.resolve(r.value); return; }
        yield r.value;
      }
    } catch (e) {
      this.settled = true;
      this.reject(e);
      throw e;
    } finally {
      if (!this.settled) {
        // The consumer stopped iterating early: end the generator and report it on `result`.
        this.settled = true;
        await it.return(undefined as never);
        this.reject(new AbortError('the generation stream was not iterated to its end'));
      }
    }
  }

  /** Runs to the end and returns the result (without iterating yourself). */
  async done(): Promise<GenerateResult> {
    for await (const _ of this) { /* drain */ }
    return this.result;
  }
}

/** What a finished generation leaves for a chat session to continue from. */
export interface Commit {
  /** Prompt plus the generated tokens that are kept (a stop string's tokens are not). */
  tokens: number[];
  /** The kept generated tokens. */
  generated: number[];
  /** Text of the reply not covered by `generated` (before a stop string, inside its tokens). */
  pendingText: string;
}

/**
 * Generates after `promptTokens` (the whole sequence the KV cache should hold before the first new
 * token). `onCommit` receives what was kept, for chat sessions.
 */
export function generateTokens(model: Model, tokenizer: Tokenizer | null, promptTokens: number[], opts: GenerateOptions = {}, onCommit?: (c: Commit) => void): GenerationStream {
  checkGenerateOptions(opts);
  const maxTokens = opts.maxTokens ?? 256;
  const stops = opts.stop ?? [];
  const sampler = new Sampler(opts);
  const eos = tokenizer?.eosId ?? -1;

  return new GenerationStream(async function* () {
    const t0 = now();
    const seq = promptTokens.slice();
    let { logits, evaluated } = ingest(model, seq, opts.signal);
    const t1 = now();
    const generated: number[] = [];
    const decoder = tokenizer?.createStreamDecoder();
    let text = '';
    let held = ''; // text not yet emitted: it could be the start of a stop string
    let heldTokens: number[] = [];
    let stopReason: StopReason = 'length';
    let pendingText = '';
    let dropped = 0; // trailing tokens of a stop string, not kept
    const finish = (): GenerateResult => {
      const t2 = now();
      onCommit?.({ tokens: seq.slice(0, seq.length - dropped), generated: generated.slice(0, generated.length - dropped), pendingText });
      return {
        text, tokens: generated, stopReason, seed: sampler.seed,
        usage: { promptTokens: promptTokens.length, evaluatedPromptTokens: evaluated, completionTokens: generated.length },
        timings: { promptMs: t1 - t0, generateMs: t2 - t1, promptTokensPerSecond: rate(evaluated, t1 - t0), generateTokensPerSecond: rate(generated.length, t2 - t1) },
      };
    };
    try {
      if (opts.signal?.aborted) { stopReason = 'abort'; return finish(); }
      let lastYield = now();
      while (generated.length < maxTokens) {
        // Let timers, input (a Ctrl-C key) and abort() run between tokens: awaiting pieces alone only
        // runs microtasks. Every ~8 ms keeps the cost negligible at high token rates.
        if (now() - lastYield > 8) { await yieldToEventLoop(); lastYield = now(); }
        if (opts.signal?.aborted) { stopReason = 'abort'; break; }
        const raw = opts.onSample ? logits.slice() : null; // sample() applies penalties in place
        const tok = sampler.sample(logits, seq);
        if (tok === eos && opts.stopAtEos !== false) { stopReason = 'stop'; break; }
        if (raw) opts.onSample!(tok, raw);
        generated.push(tok);
        seq.push(tok);
        heldTokens.push(tok);
        const piece = decoder ? decoder.push(tok) : '';
        held += piece;
        // Stop strings: cut at the first complete one; hold back a tail that may begin one.
        const hit = firstStop(held, stops);
        if (hit >= 0) {
          pendingText = held.slice(0, hit);
          dropped = heldTokens.length;
          text += pendingText;
          if (hit > 0) yield { text: held.slice(0, hit), tokens: heldTokens };
          stopReason = 'stop';
          break;
        }
        const keep = partialStopTail(held, stops);
        const emit = held.slice(0, held.length - keep);
        if (emit) {
          text += emit;
          yield { text: emit, tokens: heldTokens };
          heldTokens = [];
          held = held.slice(emit.length);
        }
        if (generated.length >= maxTokens) break;
        if (seq.length >= model.contextLength) {
          if (opts.onContextFull !== 'shift') { stopReason = 'length'; break; }
          shiftContext(model, seq, opts.keepTokens ?? 0);
        }
        logits = model.step(tok, seq.length - 1)!;
        cachedTokens(model).push(tok);
      }
      if (stopReason !== 'stop') {
        const rest = held + (decoder ? decoder.flush() : '');
        if (rest) { text += rest; yield { text: rest, tokens: heldTokens }; }
      }
      return finish();
    } finally {
      // Keep the cache's token list in step with what the cache really holds.
      const cache = cachedTokens(model);
      if (cache.length > seq.length) cache.length = seq.length;
    }
  });
}

/** Drops the oldest half of the tokens after `keep` and re-evaluates the kept ones. */
function shiftContext(model: Model, seq: number[], keep: number): void {
  const k = Math.min(keep, seq.length - 2);
  const drop = Math.max(1, Math.floor((seq.length - k) / 2));
  seq.splice(k, drop);
  const cache = cachedTokens(model);
  cache.length = 0;
  const kept = seq.slice(0, seq.length - 1);
  model.prefill(kept, 0, false);
  cache.push(...kept);
}

function firstStop(s: string, stops: string[]): number {
  let best = -1;
  for (const st of stops) {
    const i = s.indexOf(st);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of s that is a proper prefix of a stop string. */
function partialStopTail(s: string, stops: string[]): number {
  let best = 0;
  for (const st of stops) {
    for (let n = Math.min(st.length - 1, s.length); n > best; n--) {
      if (s.endsWith(st.slice(0, n))) { best = n; break; }
    }
  }
  return best;
}

/** A macrotask turn in any runtime (setImmediate where it exists; MessageChannel avoids timer clamping). */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = () => { c.port1.close(); r(); }; c.port2.postMessage(0); });
  }
  return new Promise((r) => setTimeout(r, 0));
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function rate(n: number, ms: number): number {
  return ms > 0 ? (1000 * n) / ms : 0;
}
