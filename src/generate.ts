// Text generation on a sequence of a model: an async iterator of text pieces (the primitive), with
// the final result (why it stopped, counts, timings) on `.result`. A sequence keeps the tokens its
// KV cache holds, so a prompt that extends them (a chat's next turn) evaluates only the new tokens.
// Runs only through the SequenceRunner interface (sequence.ts), not the Model itself.

import { AbortError, Fairy2iError, OptionError } from './errors.js';
import { checkSampling, Sampler, SAMPLING_DEFAULTS, type SamplingOptions } from './sampler.js';
import type { Sequence, SequenceRunner } from './sequence.js';
import type { Tokenizer } from './tokenizer.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most new tokens to generate. @default 256 */
  maxTokens?: number;
  /** Stop when the generated text contains one of these (not included in the text). @default [] */
  stop?: string[];
  /** Stop at the end-of-sequence token. @default true */
  stopAtEos?: boolean;
  /**
   * Abort: generation stops within one token with stopReason 'abort'. `signal.aborted` is read before
   * each token is sampled and before each model pass (a signal whose `aborted` reads shared memory,
   * as the worker's does, stops without an event-loop turn): once it reads true, no further token.
   */
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
   * The sequence (KV cache) to run on, from model.sequence(); a state error when a generation is
   * already running on it. @default a free sequence, preferring the one that holds the longest
   * prefix of the prompt (the default sequence first)
   */
  sequence?: Sequence;
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

const KNOWN = new Set(['maxTokens', 'stop', 'stopAtEos', 'signal', 'onContextFull', 'keepTokens', 'addBos', 'sequence', 'onSample', ...Object.keys(SAMPLING_DEFAULTS), 'seed']);

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
 * token) on opts.sequence, or the one the runner picks. `onCommit` receives what was kept, for
 * chat sessions.
 */
export function generateTokens(runner: SequenceRunner, tokenizer: Tokenizer | null, promptTokens: number[], opts: GenerateOptions = {}, onCommit?: (c: Commit) => void): GenerationStream {
  checkGenerateOptions(opts);
  const maxTokens = opts.maxTokens ?? 256;
  const stops = opts.stop ?? [];
  const sampler = new Sampler(opts);
  const eos = tokenizer?.eosId ?? -1;
  const ctx = runner.contextLength;

  return new GenerationStream(async function* () {
    const t0 = now();
    const seq = promptTokens.slice();
    // The sequence is taken when the stream starts running and given back when it ends.
    const lease = runner.claim(seq, opts.sequence);
    try {
      const first = await lease.run(seq, opts.signal);
      let logits = first.logits;
      const evaluated = first.evaluated;
      const t1 = now();
      const generated: number[] = [];
      const decoder = tokenizer?.createStreamDecoder();
      let text = '';
      let held = ''; // text not yet emitted: it could be the start of a stop string
      let heldTokens: number[] = [];
      let stopReason: StopReason = 'length';
      let pendingText = '';
      let dropped = 0; // trailing tokens of a stop string, not kept
      let rawLogits: Float32Array | null = null;
      const finish = (): GenerateResult => {
        const t2 = now();
        onCommit?.({ tokens: seq.slice(0, seq.length - dropped), generated: generated.slice(0, generated.length - dropped), pendingText });
        return {
          text, tokens: generated, stopReason, seed: sampler.seed,
          usage: { promptTokens: promptTokens.length, evaluatedPromptTokens: evaluated, completionTokens: generated.length },
          timings: { promptMs: t1 - t0, generateMs: t2 - t1, promptTokensPerSecond: rate(evaluated, t1 - t0), generateTokensPerSecond: rate(generated.length, t2 - t1) },
        };
      };
      if (opts.signal?.aborted || !logits) { stopReason = 'abort'; return finish(); }
      // Each step awaits the model's next pass, which runs after a macrotask turn: timers, input
      // (a Ctrl-C key) and abort() run between tokens, and other sequences' steps join the pass.
      while (generated.length < maxTokens) {
        if (opts.signal?.aborted) { stopReason = 'abort'; break; }
        // sample() applies penalties in place: onSample gets a copy, in one array for the whole run.
        const raw = opts.onSample ? (rawLogits ??= new Float32Array(logits.length)) : null;
        raw?.set(logits);
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
        if (seq.length >= ctx) {
          if (opts.onContextFull !== 'shift') { stopReason = 'length'; break; }
          shiftContext(seq, opts.keepTokens ?? 0);
        }
        const next = await lease.run(seq, opts.signal);
        if (!next.logits) { stopReason = 'abort'; break; }
        logits = next.logits;
      }
      if (stopReason !== 'stop') {
        const rest = held + (decoder ? decoder.flush() : '');
        if (rest) { text += rest; yield { text: rest, tokens: heldTokens }; }
      }
      return finish();
    } finally {
      lease.end();
    }
  });
}

/**
 * Drops the oldest half of the tokens after the first `keep`. The cache still holds the kept
 * prefix at the same positions, so the next run re-evaluates only the tokens after the dropped ones
 * (in the same pass as the next token): a large `keep` costs a few tokens per shift, not a refill.
 */
export function shiftContext(seq: number[], keep: number): void {
  const k = Math.min(keep, seq.length - 2);
  const drop = Math.max(1, Math.floor((seq.length - k) / 2));
  seq.splice(k, drop);
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

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function rate(n: number, ms: number): number {
  return ms > 0 ? (1000 * n) / ms : 0;
}
