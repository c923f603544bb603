import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OptionError } from '../src/errors.ts';
import { argmax, Rng, Sampler } from '../src/sampler.ts';
// @ts-ignore: plain JavaScript shared with the runtime checks
import { checkPinnedRng } from './runtimes/pinned-rng.mjs';

const s = suite('sampler');

const logits = () => Float32Array.from([1, 3, 2, 0.5, 2.9, -1]);

s('temperature 0 is greedy, and penalties can change the arg-max', () => {
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1 }).sample(logits(), []), 1);
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1.5 }).sample(logits(), [1]), 4);
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1, presencePenalty: 0.2 }).sample(logits(), [1]), 4);
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1, frequencyPenalty: 0.05 }).sample(logits(), [1, 1, 1]), 4);
  // outside the window the penalty does not apply
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 1.5, penaltyWindow: 1 }).sample(logits(), [1, 0]), 1);
});

s('the same seed gives the same tokens; another seed differs', () => {
  const draw = (seed: number) => { const sm = new Sampler({ seed, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 }); return Array.from({ length: 50 }, () => sm.sample(logits(), [])); };
  assert.equal(draw(42), draw(42));
  assert.not.equal(draw(42), draw(43));
});

s('the PRNG sequence is pinned: the first outputs of Rng(seed) for four seeds', () => {
  assert.equal(checkPinnedRng(Rng), []);
  // outputs are 32-bit: next() × 2^32 is an integer in [0, 2^32)
  const r = new Rng(99);
  for (let i = 0; i < 1000; i++) { const v = r.next() * 2 ** 32; assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32, String(v)); }
  // the seed is taken as a 32-bit unsigned integer
  assert.equal(new Rng(-1).next(), new Rng(4294967295).next());
});

s('top-k 1 and min-p 1 are greedy; top-k 2 only draws the two best', () => {
  for (let seed = 0; seed < 20; seed++) {
    assert.is(new Sampler({ seed, temperature: 1, topK: 1, repetitionPenalty: 1 }).sample(logits(), []), 1);
    assert.is(new Sampler({ seed, temperature: 1, topK: 0, topP: 1, minP: 1, repetitionPenalty: 1 }).sample(logits(), []), 1);
    assert.ok([1, 4].includes(new Sampler({ seed, temperature: 5, topK: 2, topP: 1, minP: 0, repetitionPenalty: 1 }).sample(logits(), [])));
  }
});

s('sampling frequencies follow the softmax (temperature 1, no truncation)', () => {
  const sm = new Sampler({ seed: 7, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 });
  const counts = new Array(6).fill(0);
  const N = 20000;
  for (let i = 0; i < N; i++) counts[sm.sample(logits(), [])]++;
  const l = Array.from(logits()), z = l.reduce((a, b) => a + Math.exp(b), 0);
  l.forEach((x, i) => assert.ok(Math.abs(counts[i] / N - Math.exp(x) / z) < 0.015, `token ${i}: ${counts[i] / N} vs ${Math.exp(x) / z}`));
});

s('bad options are named', () => {
  assert.throws(() => new Sampler({ temperature: -1 }), (e: Error) => e instanceof OptionError && /temperature: must be >= 0/.test(e.message));
  assert.throws(() => new Sampler({ topP: 2 }), (e: Error) => /topP: must be <= 1/.test(e.message));
  assert.throws(() => new Sampler({ topK: 1.5 }), (e: Error) => /topK: must be an integer/.test(e.message));
  assert.throws(() => new Sampler({ seed: NaN }), (e: Error) => /seed: must be a finite number/.test(e.message));
});

s.run();

// --- Which tokens survive top-k, top-p and min-p, computed by hand on crafted distributions ---------
//
// Fifty tokens: 45 "tail" tokens at logit −10 (ids 0..44, each e^−10 ≈ 4.5e−5 of the head's mass) and
// a head of five whose probabilities at temperature 1 are (nearly) the literals below, placed at the
// end and out of order so that top-k's insertion has to move the best token to the front from last.
const HEAD: Record<number, number> = { 45: 0.1, 46: 0.05, 47: 0.5, 48: 0.15, 49: 0.2 };
const crafted = () => Float32Array.from({ length: 50 }, (_, i) => (i in HEAD ? Math.log(HEAD[i]) : -10));
const NO_PENALTY = { repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 };

/** Frequencies of the tokens `draws` samples gave (one Sampler, fixed seed). */
function frequencies(opts: ConstructorParameters<typeof Sampler>[0], logits: () => Float32Array, draws = 4000): Map<number, number> {
  const sm = new Sampler({ seed: 11, ...NO_PENALTY, ...opts });
  const f = new Map<number, number>();
  for (let i = 0; i < draws; i++) { const t = sm.sample(logits(), []); f.set(t, (f.get(t) ?? 0) + 1 / draws); }
  return f;
}

/** The drawn set is exactly `expected`'s keys (no other token even once), with its frequencies ± 0.025. */
function assertSurvivors(f: Map<number, number>, expected: Record<number, number>, what: string) {
  assert.equal([...f.keys()].sort((a, b) => a - b), Object.keys(expected).map(Number), `${what}: survivors`);
  for (const [id, p] of Object.entries(expected)) assert.ok(Math.abs(f.get(Number(id))! - p) < 0.025, `${what}: token ${id} drawn ${f.get(Number(id))}, expected ${p}`);
}
const renorm = (ids: number[], w: (id: number) => number = (id) => HEAD[id]) => {
  const z = ids.reduce((a, id) => a + w(id), 0);
  return Object.fromEntries(ids.map((id) => [id, w(id) / z]));
};

const t = suite('sampler: truncation survivors (hand-computed)');

t('defaults (top-k 40, top-p 0.95, min-p 0.05): the five head tokens, none of the tail', () => {
  // top-k keeps the head + 35 tail tokens (mass 1 + 35e^−10 = 1.0016); the cumulative share reaches
  // 0.95 only at the fifth head token (0.95 / 1.0016 = 0.9485 before it); min-p's floor 0.025 keeps
  // 0.05. Every tail token is cut, so not one of them is ever drawn.
  assertSurvivors(frequencies({ temperature: 1 }, crafted), renorm([45, 46, 47, 48, 49]), 'defaults');
});

t('top-p alone: the smallest prefix reaching p, measured over what top-k kept', () => {
  // 0.5, 0.7, 0.85 ≥ 0.8: three
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.8, minP: 0 }, crafted), renorm([47, 48, 49]), 'top-p 0.8');
  // 0.5 ≥ 0.45: one
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.45, minP: 0 }, crafted, 500), { 47: 1 }, 'top-p 0.45');
  // after top-k 4 the shares are 0.5/0.95, 0.7/0.95, 0.85/0.95 = 0.895 ≥ 0.88: three (over the whole
  // vocabulary 0.85/1.002 < 0.88 would keep four)
  assertSurvivors(frequencies({ temperature: 1, topK: 4, topP: 0.88, minP: 0 }, crafted), renorm([47, 48, 49]), 'top-k 4 + top-p 0.88');
  // and 0.895 < 0.9: four
  assertSurvivors(frequencies({ temperature: 1, topK: 4, topP: 0.9, minP: 0 }, crafted), renorm([45, 47, 48, 49]), 'top-k 4 + top-p 0.9');
});

t('min-p alone: tokens at or above min-p × the best probability', () => {
  // floor 0.125: 0.5, 0.2, 0.15
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 1, minP: 0.25 }, crafted), renorm([47, 48, 49]), 'min-p 0.25');
  // floor 0.175: 0.5, 0.2
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 1, minP: 0.35 }, crafted), renorm([47, 49]), 'min-p 0.35');
  // floor 0.05 × 0.5 = 0.025 keeps the head; 0.01 × 0.5 = 0.005 too, the tail (4.5e−5) never
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 1, minP: 0.01 }, crafted), renorm([45, 46, 47, 48, 49]), 'min-p 0.01');
});

t('top-k, top-p and min-p together: each cut applies to what the previous one left', () => {
  // top-k 4 → {47, 49, 48, 45}; top-p 0.99 keeps all four (shares 0.526, 0.737, 0.895, 1); min-p 0.25
  // (floor 0.125) then drops 45 (0.1)
  assertSurvivors(frequencies({ temperature: 1, topK: 4, topP: 0.99, minP: 0.25 }, crafted), renorm([47, 48, 49]), 'k4 p0.99 min0.25');
  // top-k 3 → {47, 49, 48}; top-p 0.6 → {47, 49} (0.5/0.85 = 0.588 < 0.6); min-p 0.3 (floor 0.15) keeps 49
  assertSurvivors(frequencies({ temperature: 1, topK: 3, topP: 0.6, minP: 0.3 }, crafted), renorm([47, 49]), 'k3 p0.6 min0.3');
  // top-k 2 alone
  assertSurvivors(frequencies({ temperature: 1, topK: 2, topP: 1, minP: 0 }, crafted), renorm([47, 49]), 'k2');
});

t('temperature scales the logits before top-p and min-p cut (probabilities ∝ p^(1/T))', () => {
  // T = 2: weights √p = 0.707, 0.447, 0.387, 0.316, 0.224 (head), e^−5 = 0.0067 (tail); min-p 0.5's
  // floor 0.354 keeps three; at T = 1 the floor 0.25 would keep 47 alone.
  const sqrt = (id: number) => Math.sqrt(HEAD[id]);
  assertSurvivors(frequencies({ temperature: 2, topK: 0, topP: 1, minP: 0.5 }, crafted), renorm([47, 48, 49], sqrt), 'T2 min-p 0.5');
  // T = 2, top-k 5: the head with weights √p
  assertSurvivors(frequencies({ temperature: 2, topK: 5, topP: 1, minP: 0 }, crafted), renorm([45, 46, 47, 48, 49], sqrt), 'T2 k5');
  // T = 0.5: weights p², shares 0.25/0.3450 = 0.725 of the head, then 0.04, 0.0225, 0.01, 0.0025
  const sq = (id: number) => HEAD[id] ** 2;
  assertSurvivors(frequencies({ temperature: 0.5, topK: 5, topP: 1, minP: 0 }, crafted), renorm([45, 46, 47, 48, 49], sq), 'T0.5 k5');
});

t('the order is pinned: temperature before top-p and min-p (as transformers), not after them (as llama.cpp)', () => {
  // A product decision (README, "Sampling order"): temperature reshapes the distribution that top-p and
  // min-p cut, so it changes which tokens survive. llama.cpp's default chain cuts at T = 1 and applies
  // the temperature last, which would keep {47, 49, 48} (their T = 1 prefix 0.5, 0.7, 0.85 reaching
  // 0.8) in both cases below; ours keeps two tokens at T = 0.5 and five at T = 2.
  // T = 0.5: weights p² 0.25, 0.04, 0.0225, 0.01, 0.0025 (sum 0.325): shares 0.769, 0.892 ≥ 0.8: two.
  const sq = (id: number) => HEAD[id] ** 2, sqrt = (id: number) => Math.sqrt(HEAD[id]);
  assertSurvivors(frequencies({ temperature: 0.5, topK: 0, topP: 0.8, minP: 0 }, crafted), renorm([47, 49], sq), 'T0.5 top-p 0.8');
  // T = 2: weights √p 0.707, 0.447, 0.387, 0.316, 0.224 and 45 tail tokens at e^−5 = 0.0067 (total
  // 2.385): shares 0.297, 0.484, 0.646, 0.779, 0.873 ≥ 0.8: the whole head.
  assertSurvivors(frequencies({ temperature: 2, topK: 0, topP: 0.8, minP: 0 }, crafted), renorm([45, 46, 47, 48, 49], sqrt), 'T2 top-p 0.8');
  // min-p 0.1 at T = 0.5: floor 0.1 × 0.25 = 0.025 drops 48 (0.0225); cut at T = 1 (floor 0.05) it
  // would keep the whole head.
  assertSurvivors(frequencies({ temperature: 0.5, topK: 0, topP: 1, minP: 0.1 }, crafted), renorm([47, 49], sq), 'T0.5 min-p 0.1');
});

t('exact boundaries on ties (probabilities exactly 1): top-p reaching p exactly stops, min-p keeps equals', () => {
  const flat = () => new Float32Array(4);
  // shares exactly 0.25, 0.5: top-p 0.5 stops at the second; ties are ordered by id
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.5, minP: 0 }, flat), { 0: 0.5, 1: 0.5 }, 'top-p 0.5 on ties');
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.75, minP: 0 }, flat), { 0: 1 / 3, 1: 1 / 3, 2: 1 / 3 }, 'top-p 0.75 on ties');
  // min-p 1: the floor is the best probability; its equals survive
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 1, minP: 1 }, flat), { 0: 0.25, 1: 0.25, 2: 0.25, 3: 0.25 }, 'min-p 1 on ties');
  // top-k on ties keeps the lowest ids, also through the insertion path (vocab > k)
  const ties = () => Float32Array.from({ length: 9 }, (_, i) => (i % 3 === 0 ? 1 : 0)); // 0, 3, 6 best
  assertSurvivors(frequencies({ temperature: 1, topK: 2, topP: 1, minP: 0 }, ties), { 0: 0.5, 3: 0.5 }, 'top-k 2 on ties');
  assertSurvivors(frequencies({ temperature: 1, topK: 4, topP: 1, minP: 0.5 }, ties), { 0: 1 / 3, 3: 1 / 3, 6: 1 / 3 }, 'top-k 4 + min-p on ties');
});

t('min-p never brings back what top-p cut; huge logits stay finite', () => {
  // top-p 0.8 keeps three; min-p 0.01 alone would keep five
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.8, minP: 0.01 }, crafted), renorm([47, 48, 49]), 'top-p 0.8 + min-p 0.01');
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 0.45, minP: 0.01 }, crafted, 500), { 47: 1 }, 'top-p 0.45 + min-p 0.01');
  // logits around 1000: weights e^0, e^−1 relative to the best (exp(1000) alone is Infinity)
  const big = () => Float32Array.from([999, 1000, 990]);
  const e = Math.exp(-1), z = 1 + e + Math.exp(-10);
  assertSurvivors(frequencies({ temperature: 1, topK: 0, topP: 1, minP: 0 }, big), { 0: e / z, 1: 1 / z, 2: Math.exp(-10) / z }, 'logits near 1000');
});

t('the draw walks the sorted candidates with the pinned PRNG outputs (ties in id order)', () => {
  // Rng(1234)'s first outputs / 2^32: 0.5503, 0.7256, 0.4981, 0.7921, 0.6638, 0.0253 (pinned-rng.mjs).
  // Four equal logits: token = floor(4u) → 2, 2, 1, 3, 2, 0.
  const draws = (o: object, l: () => Float32Array) => { const sm = new Sampler({ seed: 1234, temperature: 1, topP: 1, minP: 0, ...NO_PENALTY, ...o }); return Array.from({ length: 6 }, () => sm.sample(l(), [])); };
  assert.equal(draws({ topK: 0 }, () => new Float32Array(4)), [2, 2, 1, 3, 2, 0]);
  // top-k 3 of (0, 1, 1, 1, 0): candidates 1, 2, 3 in that order: floor(3u) → 2, 3, 2, 3, 2, 1
  assert.equal(draws({ topK: 3 }, () => Float32Array.from([0, 1, 1, 1, 0])), [2, 3, 2, 3, 2, 1]);
  // weights 1 : 1 : 2 (logits 0, 0, ln 2 → sorted 2, 0, 1; sum 4): u·4 < 2 → 2, < 3 → 0, else 1:
  // 2.20 → 0, 2.90 → 0, 1.99 → 2, 3.17 → 1, 2.66 → 0, 0.10 → 2
  assert.equal(draws({ topK: 0 }, () => Float32Array.from([0, 0, Math.LN2])), [0, 0, 2, 1, 0, 2]);
});

t('a draw that lands exactly on the boundary between two candidates takes the upper one', () => {
  // Rng(3593960)'s first output is exactly 87 / 256 (found by a search over seeds: its low 24 bits
  // are zero). With 256 equal weights the walk subtracts 1 from u·256 = 87 exactly: candidate i
  // holds [i, i + 1), so 87 itself belongs to candidate 87, not 86.
  const sm = new Sampler({ seed: 3593960, temperature: 1, topK: 0, topP: 1, minP: 0, ...NO_PENALTY });
  assert.is(sm.sample(new Float32Array(256), []), 87);
});

t('top-k k with min-p 1 returns the arg-max wherever it sits (insertion reaches slot 0)', () => {
  let seed = 5;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (const V of [3, 7, 50]) {
    for (const k of [1, 2, 3, Math.min(40, V - 1)]) {
      for (let best = 0; best < V; best++) {
        const l = Float32Array.from({ length: V }, () => rnd() * 4 - 2);
        l[best] = 3;
        assert.is(new Sampler({ seed: best, temperature: 1, topK: k, topP: 1, minP: 1, ...NO_PENALTY }).sample(l, []), best, `V ${V} k ${k} best ${best}`);
      }
    }
  }
});

t('sampling at temperature 0 ignores top-k/top-p/min-p and the seed; penalties still apply', () => {
  for (let seed = 0; seed < 5; seed++) assert.is(new Sampler({ seed, temperature: 0, topK: 3, topP: 0.1, minP: 0.9 }).sample(crafted(), []), 47);
  assert.is(new Sampler({ temperature: 0, repetitionPenalty: 10 }).sample(crafted(), [47]), 49);
  // without min-p too: nothing else would pick the arg-max ((l − max) / 0 is NaN for it, −∞ for the rest)
  assert.is(new Sampler({ temperature: 0, topK: 0, topP: 1, minP: 0 }).sample(crafted(), []), 47);
});

t.run();

const opts = suite('sampler: options and penalties at their edges');

opts('every bound accepts its edge value and refuses just past it, naming the option', () => {
  const ok: Record<string, number[]> = { temperature: [0, 1e-9], topK: [0, 1], topP: [0, 1], minP: [0, 1], repetitionPenalty: [0], penaltyWindow: [0], presencePenalty: [-2, 2], frequencyPenalty: [-2, 2], seed: [-5, 0, 2 ** 40] };
  for (const [k, vs] of Object.entries(ok)) for (const v of vs) new Sampler({ [k]: v });
  const bad: [string, unknown, RegExp][] = [
    ['temperature', -1e-9, /^temperature: must be >= 0, got -1e-9/], ['topK', -1, /^topK: must be >= 0/], ['topK', 2.5, /^topK: must be an integer, got 2\.5/],
    ['topP', -0.01, /^topP: must be >= 0/], ['topP', 1.01, /^topP: must be <= 1, got 1\.01/], ['minP', -0.01, /^minP: must be >= 0/], ['minP', 1.5, /^minP: must be <= 1/],
    ['repetitionPenalty', -1, /^repetitionPenalty: must be >= 0/], ['penaltyWindow', -1, /^penaltyWindow: must be >= 0/], ['penaltyWindow', 0.5, /^penaltyWindow: must be an integer/],
    ['seed', 1.5, /^seed: must be an integer/], ['presencePenalty', Infinity, /^presencePenalty: must be a finite number, got null/], ['frequencyPenalty', '1', /^frequencyPenalty: must be a finite number, got "1"/],
  ];
  for (const [k, v, re] of bad) {
    assert.throws(() => new Sampler({ [k]: v } as any), (e: Error) => e instanceof OptionError && re.test(e.message.replace(/^[^:]*option /, '')), `${k} = ${String(v)}`);
  }
});

opts('undefined options take the defaults; without a seed one is drawn and reported', () => {
  const a = new Sampler({ seed: 3, temperature: undefined, topK: undefined });
  const b = new Sampler({ seed: 3 });
  assert.equal(Array.from({ length: 40 }, () => a.sample(crafted(), [])), Array.from({ length: 40 }, () => b.sample(crafted(), [])));
  const seeds = new Set(Array.from({ length: 8 }, () => new Sampler().seed));
  for (const sd of seeds) assert.ok(Number.isInteger(sd) && sd >= 0 && sd < 2 ** 31, String(sd));
  assert.ok(seeds.size > 1, 'the drawn seeds differ');
  assert.is(new Sampler({ seed: 77 }).seed, 77);
});

opts('penalties: exact penalized logits, the window, ids outside the vocabulary, and off switches', () => {
  // Penalties modify the logits in place, so the result is visible exactly.
  const run = (o: object, history: number[], l = Float32Array.from([2, -2, 1, 0])) => { new Sampler({ temperature: 0, ...o }).sample(l, history); return Array.from(l); };
  assert.equal(run({ repetitionPenalty: 2 }, [0, 1, 1]), [1, -4, 1, 0], 'positive divided, negative multiplied, once per token');
  assert.equal(run({ presencePenalty: 0.5 }, [0, 1, 1]), [1.5, -2.5, 1, 0]);
  assert.equal(run({ frequencyPenalty: 0.25 }, [0, 1, 1]), [1.75, -2.5, 1, 0], 'times the count');
  assert.equal(run({ repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25 }, [0, 1, 1]), [0.25, -5, 1, 0]);
  assert.equal(run({ repetitionPenalty: 2, penaltyWindow: 2 }, [0, 0, 2, 1]), [2, -4, 0.5, 0], 'only the last two tokens count');
  assert.equal(run({ repetitionPenalty: 2, penaltyWindow: 0 }, [0, 1, 2]), [2, -2, 1, 0], 'window 0 is off');
  assert.equal(run({ repetitionPenalty: 2, penaltyWindow: 10 }, [0]), [1, -2, 1, 0], 'a window longer than the history');
  assert.equal(run({ repetitionPenalty: 2, presencePenalty: 1 }, [-1, 4, 99]), [2, -2, 1, 0], 'ids outside the vocabulary are ignored');
  assert.equal(run({ repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 }, [0, 1]), [2, -2, 1, 0]);
  assert.equal(run({ repetitionPenalty: 1, presencePenalty: 0.5 }, [3]), [2, -2, 1, -0.5], 'presence alone applies');
  assert.equal(run({ repetitionPenalty: 1, frequencyPenalty: 0.5 }, [3]), [2, -2, 1, -0.5], 'frequency alone applies');
  assert.equal(run({ repetitionPenalty: 3 }, [3]), [2, -2, 1, 0], 'a zero logit stays zero');
});

opts('argmax takes the first of equal maxima', () => {
  assert.is(argmax([1, 3, 3, 2]), 1);
  assert.is(argmax([5]), 0);
  assert.is(argmax(Float32Array.from([-3, -1, -2, -1])), 1);
  assert.is(new Sampler({ temperature: 0 }).sample(Float32Array.from([0, 2, 2]), []), 1);
});

opts.run();
