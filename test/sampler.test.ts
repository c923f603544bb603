import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OptionError } from '../src/errors.ts';
import { Rng, Sampler } from '../src/sampler.ts';

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

s('the PRNG sequence is fixed (same in every runtime)', () => {
  const r = new Rng(1234);
  const v = Array.from({ length: 3 }, () => Math.round(r.next() * 1e9));
  const again = new Rng(1234);
  assert.equal(Array.from({ length: 3 }, () => Math.round(again.next() * 1e9)), v);
  assert.ok(v.every((x) => x >= 0 && x < 1e9));
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
