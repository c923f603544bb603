// Everything the server asks of the engine: a request acquires a sequence (a KV cache and the tokens
// it holds) — preferring the free one whose tokens its prompt extends, so a conversation's next turn
// evaluates only its new tokens —, generates on it, and releases it. Requests that find no free
// sequence wait in a bounded FIFO queue; past its bound they are refused (the handler answers 503).
//
// Each of the `parallel` sequences is one of the Model's KV caches (model.sequence()); generations
// running on different sequences at the same time have their decode steps batched into one forward
// pass by the Model, and a sequence's tokens do not depend on what else runs.

import { AbortError, Fairy2iError, OptionError } from '../errors.js';
import type { GenerateOptions, GenerationStream } from '../generate.js';
import type { Model } from '../model.js';
import type { Sequence } from '../sequence.js';

export interface EngineOptions {
  /** Sequences generating at the same time (at most the model's sequenceCount). @default model.sequenceCount */
  parallel?: number;
  /** Requests that may wait for a sequence; more are refused. @default 64 */
  queue?: number;
}

/** A sequence held by one request until release(). */
export interface Lease {
  /** The tokens its KV cache holds. */
  readonly tokens: readonly number[];
  /** Generates after `prompt` (the whole token sequence; the cached common prefix is not evaluated again). */
  generate(prompt: number[], opts: GenerateOptions): GenerationStream;
  release(): void;
}

export class QueueFullError extends Fairy2iError {
  constructor(limit: number) {
    super('state', `all sequences are busy and ${limit} requests are already waiting`);
    this.name = 'QueueFullError';
  }
}

/** One sequence of the model. */
class Lane {
  busy = false;
  constructor(private model: Model, private sequence: Sequence) {}
  get tokens(): readonly number[] {
    return this.sequence.tokens;
  }
  generate(prompt: number[], opts: GenerateOptions): GenerationStream {
    return this.model.generate(prompt, { ...opts, sequence: this.sequence });
  }
  release(): void {
    this.sequence.release();
  }
}

interface Waiter {
  prompt: readonly number[];
  resolve: (lease: Lease) => void;
  reject: (e: unknown) => void;
}

export class Engine {
  readonly parallel: number;
  readonly queueLimit: number;
  private lanes: Lane[];
  private waiting: Waiter[] = [];

  constructor(readonly model: Model, opts: EngineOptions = {}) {
    this.parallel = opts.parallel ?? model.sequenceCount;
    this.queueLimit = opts.queue ?? 64;
    if (!Number.isInteger(this.parallel) || this.parallel < 1 || this.parallel > model.sequenceCount) {
      throw new OptionError('parallel', `is ${this.parallel}, expected an integer from 1 to the model's ${model.sequenceCount} sequences (load it with { sequences: ${this.parallel} })`);
    }
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 0) throw new OptionError('queue', `is ${this.queueLimit}, expected an integer >= 0`);
    this.lanes = Array.from({ length: this.parallel }, () => new Lane(model, model.sequence()));
  }

  /** Sequences free right now. */
  get free(): number {
    return this.lanes.filter((l) => !l.busy).length;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A free sequence for `prompt`, waiting in the queue if none is free; rejects with QueueFullError
   * when the queue is full, with AbortError when `signal` aborts while waiting.
   */
  acquire(prompt: readonly number[], signal?: AbortSignal): Promise<Lease> {
    if (signal?.aborted) return Promise.reject(new AbortError('the request was aborted while waiting for a sequence'));
    const lane = this.waiting.length === 0 ? this.pick(prompt) : null;
    if (lane) return Promise.resolve(this.lease(lane));
    if (this.waiting.length >= this.queueLimit) return Promise.reject(new QueueFullError(this.queueLimit));
    return new Promise((resolve, reject) => {
      const w: Waiter = { prompt, resolve, reject };
      const onAbort = () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new AbortError('the request was aborted while waiting for a sequence'));
      };
      w.resolve = (l) => { signal?.removeEventListener('abort', onAbort); resolve(l); };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Refuses every waiting request with `error` (shutdown). */
  rejectWaiting(error: unknown): void {
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  /** Gives the sequences back to the model (after the last generation has ended). */
  dispose(): void {
    for (const l of this.lanes.splice(0)) l.release();
  }

  /** The free lane whose tokens share the longest prefix with `prompt`. */
  private pick(prompt: readonly number[]): Lane | null {
    let best: Lane | null = null, bestLen = -1;
    for (const l of this.lanes) {
      if (l.busy) continue;
      const n = commonPrefix(l.tokens, prompt);
      if (n > bestLen) { best = l; bestLen = n; }
    }
    return best;
  }

  private lease(lane: Lane): Lease {
    lane.busy = true;
    let released = false;
    return {
      get tokens() { return lane.tokens; },
      generate: (prompt, opts) => {
        if (released) throw new Fairy2iError('state', 'this sequence was released');
        return lane.generate(prompt, opts);
      },
      release: () => {
        if (released) return;
        released = true;
        lane.busy = false;
        this.serveQueue();
      },
    };
  }

  private serveQueue(): void {
    while (this.waiting.length) {
      const lane = this.pick(this.waiting[0].prompt);
      if (!lane) return;
      this.waiting.shift()!.resolve(this.lease(lane));
    }
  }
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
