// The Model's scheduler of generation steps: runs requested by generations on different sequences
// in the same turn of the event loop go through one forward pass (each weight block read once for
// all of them). Next-token steps go first; prompts fill the rest of the batch, in chunks, so a long
// prompt does not stall the conversations already decoding. Every token's result is the same bits
// whatever else is in its batch (assembly/forward.ts), so batching never changes an answer.

import { Fairy2iError } from './errors.js';
import { commonPrefix, type RunResult, type Sequence } from './sequence.js';

/** tokens[at .. at + n) of `seq` at positions pos, pos + 1, … (seq holds exactly pos tokens). */
export interface PassPart {
  seq: Sequence;
  tokens: ArrayLike<number>;
  at: number;
  n: number;
  pos: number;
  /** Logits of no token, the last one, or every one. */
  logits: 'none' | 'last' | 'all';
}

/** Runs one batch (at most maxBatch tokens in all) and returns each part's logits. */
export type ForwardPass = (parts: PassPart[]) => (Float32Array | null)[];

interface Request {
  seq: Sequence;
  tokens: readonly number[];
  gen: number;
  signal?: AbortSignal;
  evaluated: number;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
}

export class Batcher {
  private queue: Request[] = [];
  private scheduled = false;
  private closed: Fairy2iError | null = null;

  constructor(private pass: ForwardPass, private maxBatch: number) {}

  /** Makes `seq` hold `tokens` for generation `gen`: resolves after the pass that ran the last one. */
  submit(seq: Sequence, tokens: readonly number[], gen: number, signal?: AbortSignal): Promise<RunResult> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.queue.push({ seq, tokens, gen, signal, evaluated: 0, resolve, reject });
      this.schedule();
    });
  }

  /** Rejects every waiting run (the model was disposed). */
  close(e: Fairy2iError): void {
    this.closed = e;
    for (const r of this.queue.splice(0)) r.reject(e);
  }

  /**
   * Runs a pass after a macrotask turn: every generation resumed by the previous pass gets to ask
   * for its next token first (so they share this pass), and timers and input run between tokens.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    yieldToEventLoop().then(() => {
      this.scheduled = false;
      this.runOnce();
      if (this.queue.length) this.schedule();
    });
  }

  private runOnce(): void {
    // One request per sequence: its owner's (the generation whose tokens it holds) if that one is
    // waiting, else the oldest. So generations sharing a sequence take turns by whole generations
    // while each keeps asking, and switch (re-evaluating) only when the owner is not asking.
    const pick = new Map<Sequence, Request>();
    for (const r of this.queue.slice()) {
      if (r.signal?.aborted) { this.drop(r); r.resolve({ logits: null, evaluated: r.evaluated }); continue; }
      const cur = pick.get(r.seq);
      if (!cur || (r.gen === r.seq.owner && cur.gen !== r.seq.owner)) pick.set(r.seq, r);
    }
    const chosen = this.queue.filter((r) => pick.get(r.seq) === r);
    for (const r of chosen) {
      const held = r.seq.held;
      held.length = Math.min(commonPrefix(held, r.tokens), r.tokens.length - 1);
      r.seq.owner = r.gen;
    }
    // Next-token steps first, then prompts in the order they came.
    const rest = (r: Request) => r.tokens.length - r.seq.held.length;
    chosen.sort((a, b) => Number(rest(a) > 1) - Number(rest(b) > 1));
    let budget = this.maxBatch;
    const parts: PassPart[] = [], reqs: Request[] = [];
    for (const r of chosen) {
      if (budget === 0) break;
      const pos = r.seq.held.length, n = Math.min(rest(r), budget);
      parts.push({ seq: r.seq, tokens: r.tokens, at: pos, n, pos, logits: pos + n === r.tokens.length ? 'last' : 'none' });
      reqs.push(r);
      budget -= n;
    }
    if (parts.length === 0) return;
    let out: (Float32Array | null)[];
    try {
      out = this.pass(parts);
    } catch (e) {
      for (const r of reqs) { this.drop(r); r.reject(e); }
      return;
    }
    parts.forEach((p, i) => {
      const r = reqs[i];
      r.evaluated += p.n;
      if (p.logits === 'last') { this.drop(r); r.resolve({ logits: out[i], evaluated: r.evaluated }); }
    });
  }

  private drop(r: Request): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) this.queue.splice(i, 1);
  }
}

/** A macrotask turn in any runtime (setImmediate where it exists; MessageChannel avoids timer clamping). */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = () => { c.port1.close(); r(); }; c.port2.postMessage(0); });
  }
  return new Promise((r) => setTimeout(r, 0));
}
