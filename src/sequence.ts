// Sequences: one KV cache of a loaded model plus the exact tokens it holds, and the narrow
// interface generation and chat run on (SequenceRunner). The Model owns the caches and implements
// the runner; generate.ts and chat.ts see only this file, so they do not depend on the Model.

import { Fairy2iError } from './errors.js';

/**
 * One of a model's KV caches (ModelLoadOptions.sequences) and the tokens it holds. Hand one out
 * with model.sequence(), pass it as `sequence` to generate/complete/chat/evaluate/prefill/step,
 * and release() it when the conversation ends.
 */
export class Sequence {
  /** @internal The tokens the cache holds, in order (position i holds held[i]). */
  held: number[] = [];
  /** @internal Generations running on it (more than one only for calls that gave no sequence). */
  users = 0;
  /** @internal Handed out by model.sequence() and not released. */
  taken = false;
  /** @internal The generation whose tokens the cache holds (its requests go first). */
  owner = 0;

  /** @internal */
  constructor(readonly id: number, /** @internal */ readonly home: object) {}

  /** Exactly the tokens its KV cache holds (do not modify). */
  get tokens(): readonly number[] {
    return this.held;
  }

  /** Whether a generation or evaluation is running on it. */
  get busy(): boolean {
    return this.users > 0;
  }

  /** Forgets its tokens: the next call on it evaluates its prompt from scratch. */
  clear(): void {
    if (this.busy) throw new Fairy2iError('state', `sequence ${this.id} is busy (a generation is running on it); wait for it to end or abort it`);
    this.held = [];
    this.owner = 0;
  }

  /** Gives it back to the model (also clears it); using it afterwards is a state error. */
  release(): void {
    this.clear();
    this.taken = false;
  }
}

/** The logits after a run, and how many tokens it evaluated (the rest were in the cache). */
export interface RunResult {
  /** null when the run was aborted before its last token. */
  logits: Float32Array | null;
  evaluated: number;
}

/** A generation's hold on a sequence, from SequenceRunner.claim until end(). */
export interface Lease {
  readonly sequence: Sequence;
  /**
   * Makes the sequence hold exactly `tokens` (reusing the longest common prefix it holds, always
   * evaluating at least the last token) and resolves with the logits after the last one. Runs
   * batched with other sequences' runs; an abort is seen between batches.
   */
  run(tokens: readonly number[], signal?: AbortSignal): Promise<RunResult>;
  /** Ends the hold (the sequence keeps its tokens). */
  end(): void;
}

/** What generation and chat need of a model. */
export interface SequenceRunner {
  readonly contextLength: number;
  /**
   * Takes `sequence` for a generation (a state error when it is busy or not this runner's), or
   * without one, the free sequence whose tokens share the longest prefix with `prompt` (the
   * default sequence first).
   */
  claim(prompt: readonly number[], sequence?: Sequence): Lease;
}

/** Tokens at the start of `a` equal to those of `b`. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
