// Token sampling: penalties over a window, then top-k, then top-p and min-p on the probabilities at
// the chosen temperature (temperature scales the logits first, as transformers' warpers do; llama.cpp
// applies it after min-p, so the two differ for T ≠ 1), with a seeded PRNG in plain integer
// arithmetic so the same seed gives the same tokens in every JavaScript runtime (its first outputs are
// pinned in test/runtimes/pinned-rng.mjs). Temperature 0 is greedy.

import { OptionError } from './errors.js';

export interface SamplingOptions {
  /** 0 = greedy (arg-max). @default 0.8 */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. @default 40 */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. @default 0.95 */
  topP?: number;
  /** Drop tokens below minP × the top probability; 0 = off. @default 0.05 */
  minP?: number;
  /** Divide positive logits (multiply negative) of recently seen tokens; 1 = off. @default 1 */
  repetitionPenalty?: number;
  /** Subtract from the logit of every token seen in the window; 0 = off. @default 0 */
  presencePenalty?: number;
  /** Subtract this × count of the token in the window; 0 = off. @default 0 */
  frequencyPenalty?: number;
  /** How many recent tokens the penalties look at. @default 64 */
  penaltyWindow?: number;
  /** PRNG seed. @default a random seed */
  seed?: number;
}

export const SAMPLING_DEFAULTS: Required<Omit<SamplingOptions, 'seed'>> = {
  temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, penaltyWindow: 64,
};

type Rule = { min?: number; max?: number; int?: boolean };
const RULES: Record<keyof SamplingOptions, Rule> = {
  temperature: { min: 0 }, topK: { min: 0, int: true }, topP: { min: 0, max: 1 }, minP: { min: 0, max: 1 },
  repetitionPenalty: { min: 0 }, presencePenalty: {}, frequencyPenalty: {}, penaltyWindow: { min: 0, int: true }, seed: { int: true },
};

/** Validates sampling fields of an options object (unknown keys are checked by the caller). */
export function checkSampling(o: SamplingOptions): void {
  for (const [k, r] of Object.entries(RULES) as [keyof SamplingOptions, Rule][]) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Number.isFinite(v)) throw new OptionError(k, `must be a finite number, got ${JSON.stringify(v)}`);
    if (r.int && !Number.isInteger(v)) throw new OptionError(k, `must be an integer, got ${v}`);
    if (r.min !== undefined && v < r.min) throw new OptionError(k, `must be >= ${r.min}, got ${v}`);
    if (r.max !== undefined && v > r.max) throw new OptionError(k, `must be <= ${r.max}, got ${v}`);
  }
}

/** Marsaglia's xorshift128 seeded by splitmix32 (exact in every engine: only Math.imul, xors and shifts). */
export class Rng {
  private s: Uint32Array;
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32 to spread the seed
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    // The state is never all zero (xorshift's one fixed point): the finalizer is a bijection and the
    // four x differ, so at most one word is 0.
  }
  /** Uniform in [0, 1) with 32 bits. */
  next(): number {
    const s = this.s;
    let t = s[3];
    const u = s[0];
    s[3] = s[2]; s[2] = s[1]; s[1] = u;
    t ^= t << 11; t ^= t >>> 8;
    s[0] = (t ^ u ^ (u >>> 19)) >>> 0;
    return s[0] / 4294967296;
  }
}

export class Sampler {
  private o: Required<Omit<SamplingOptions, 'seed'>>;
  private rng: Rng;
  readonly seed: number;

  constructor(opts: SamplingOptions = {}) {
    checkSampling(opts);
    this.o = { ...SAMPLING_DEFAULTS, ...stripUndefined(opts) } as Required<Omit<SamplingOptions, 'seed'>>;
    this.seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.rng = new Rng(this.seed);
  }

  /** Picks the next token from `logits` (modified in place) given the tokens so far. */
  sample(logits: Float32Array, history: ArrayLike<number>): number {
    const o = this.o;
    this.applyPenalties(logits, history);
    if (o.temperature === 0) return argmax(logits);
    // Candidates sorted by logit (ties by id, so the order is the same everywhere).
    const ids = o.topK > 0 && o.topK < logits.length ? topIds(logits, o.topK) : sortedIds(logits);
    const maxL = logits[ids[0]];
    const probs = new Float64Array(ids.length);
    let sum = 0; // summed in candidate order, as every draw for a seed depends on its bits
    for (let i = 0; i < ids.length; i++) sum += probs[i] = Math.exp((logits[ids[i]] - maxL) / o.temperature);
    let keep = probs.length;
    if (o.topP < 1) {
      let acc = 0;
      for (let i = 0; i < probs.length; i++) {
        acc += probs[i] / sum;
        if (acc >= o.topP) { keep = i + 1; break; }
      }
    }
    if (o.minP > 0) {
      const floor = o.minP * probs[0];
      let k = 1;
      while (k < keep && probs[k] >= floor) k++;
      keep = k;
    }
    sum = 0;
    for (let i = 0; i < keep; i++) sum += probs[i];
    let r = this.rng.next() * sum;
    for (let i = 0; i < keep; i++) {
      r -= probs[i];
      if (r < 0) return ids[i];
    }
    return ids[keep - 1];
  }

  private applyPenalties(logits: Float32Array, history: ArrayLike<number>): void {
    const o = this.o;
    if (o.penaltyWindow === 0 || (o.repetitionPenalty === 1 && o.presencePenalty === 0 && o.frequencyPenalty === 0)) return;
    const counts = new Map<number, number>();
    for (let i = Math.max(0, history.length - o.penaltyWindow); i < history.length; i++) counts.set(history[i], (counts.get(history[i]) ?? 0) + 1);
    for (const [id, c] of counts) {
      if (id < 0 || id >= logits.length) continue;
      let l = logits[id];
      if (o.repetitionPenalty !== 1) l = l > 0 ? l / o.repetitionPenalty : l * o.repetitionPenalty;
      l -= o.presencePenalty + o.frequencyPenalty * c;
      logits[id] = l;
    }
  }
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

// Candidate order: logit descending, ties by id ascending. Both selections below give exactly the
// order of sortIdsByLogit (the definition, kept for inputs they cannot key and for the tests) over
// all ids, without its per-token cost: a comparator sort of V ids took ~27 ms for V = 32000 and
// the old top-k pass over an array of all ids ~4 ms, per token (bench/per-token.ts).

/** @internal All ids of `logits` sorted by logit descending, ties by id (the reference order). */
export function sortIdsByLogit(logits: Float32Array): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  return ids.sort((a, b) => logits[b] - logits[a] || a - b);
}

/** @internal The k ids with the largest logits, in the reference order; 0 < k < logits.length. */
export function topIds(logits: Float32Array, k: number): number[] {
  // The first k ids sorted, then each later id enters only when strictly better than the worst
  // kept: ids arrive in increasing order, so a newcomer never wins a tie against what top holds.
  const top = Array.from({ length: k }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  let worst = logits[top[k - 1]];
  for (let i = k; i < logits.length; i++) {
    const l = logits[i];
    if (!(worst < l)) continue;
    let j = k - 1;
    while (j > 0 && logits[top[j - 1]] < l) { top[j] = top[j - 1]; j--; }
    top[j] = i;
    worst = logits[top[k - 1]];
  }
  return top;
}

// The radix sort's two histograms, reused: allocating 2 × 256 KB per call cost more than the sort.
const LOW = new Uint32Array(65536), HIGH = new Uint32Array(65536);
// Below this many ids the comparator sort is cheaper than clearing and scanning 2 × 65536 buckets
// (~200 µs a call on 50 ids, which made test/sampler.test.ts take 28 s and 3 min under Stryker).
const RADIX_MIN = 512;

/**
 * @internal All ids in the reference order, by a stable radix sort (two passes of 16 bits) of each
 * float32 logit's bits mapped so that larger logits give smaller keys (−0 as +0, as the
 * comparator's subtraction sees them): ids start in increasing order, so equal keys stay by id.
 * NaN, which the comparator orders inconsistently, and short inputs take the reference sort.
 */
export function sortedIds(logits: Float32Array): ArrayLike<number> {
  const n = logits.length;
  if (n < RADIX_MIN) return sortIdsByLogit(logits);
  const bits = new Uint32Array(logits.buffer, logits.byteOffset, n);
  const keys = new Uint32Array(n), byLow = new Uint32Array(n), ids = new Uint32Array(n);
  const low = LOW.fill(0), high = HIGH.fill(0);
  for (let i = 0; i < n; i++) {
    let u = bits[i];
    if ((u & 0x7fffffff) > 0x7f800000) return sortIdsByLogit(logits);
    if (u === 0x80000000) u = 0;
    // Larger values first: negatives (sign set) after all positives, the more negative the later.
    const k = u & 0x80000000 ? u : ~u & 0x7fffffff;
    keys[i] = k;
    low[k & 0xffff]++;
    high[k >>> 16]++;
  }
  for (let d = 0, a = 0, b = 0; d < 65536; d++) {
    const c = low[d], e = high[d];
    low[d] = a; a += c;
    high[d] = b; b += e;
  }
  for (let i = 0; i < n; i++) byLow[low[keys[i] & 0xffff]++] = i;
  for (let i = 0; i < n; i++) { const id = byLow[i]; ids[high[keys[id] >>> 16]++] = id; }
  return ids;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
