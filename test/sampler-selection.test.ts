// The sampler's candidate selections (top-k without sorting all ids; the full order by a numeric
// key sort) against the definition they replace, a comparator sort of every id, and the whole
// Sampler against a transcription of the sample() that sorted: same ids in the same order, so the
// same tokens for the same seed, on crafted ties (equal logits, ±0, ±Inf) and random logits.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, Sampler, sortedIds, sortIdsByLogit, topIds, SAMPLING_DEFAULTS, type SamplingOptions } from '../src/sampler.ts';

const s = suite('sampler selection');

/** Deterministic logits with many ties: values drawn from a few levels, some special. */
function crafted(n: number, seed: number, levels: number[]): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => levels[Math.floor(r.next() * levels.length)]);
}
function random(n: number, seed: number, scale = 8): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => (r.next() - 0.5) * scale);
}

const CASES: [string, Float32Array][] = [
  ['all equal', new Float32Array(600).fill(1.5)],
  ['few levels with ±0', crafted(700, 1, [0, -0, 1, -1, 2.5])],
  ['±Inf ties', crafted(600, 2, [Infinity, -Infinity, 0, 3, -0, Infinity])],
  ['tiny and huge', crafted(557, 3, [1e-45, -1e-45, 3.4e38, -3.4e38, 1, 1.0000001])],
  ['increasing', Float32Array.from({ length: 600 }, (_, i) => i)],
  ['decreasing', Float32Array.from({ length: 600 }, (_, i) => -i)],
  // the crafted cases above are longer than sortedIds' RADIX_MIN (512), so they reach its radix sort;
  // this one is shorter (the comparator sort)
  ['short', random(50, 10)],
  ...[5, 6, 7].map((seed): [string, Float32Array] => [`random ${seed}`, random(1000 + seed, seed)]),
  ['random vocabulary-sized', random(32000, 9, 20)],
];

s('topIds(k) is the first k of the full comparator sort, ties by id', () => {
  for (const [name, l] of CASES) {
    const ref = sortIdsByLogit(l);
    for (const k of [1, 2, 3, 40, l.length - 1]) {
      if (k <= 0 || k >= l.length) continue;
      assert.equal(topIds(l, k), ref.slice(0, k), `${name}, k ${k}`);
    }
  }
});

s('sortedIds is the full comparator sort (NaN falls back to it)', () => {
  for (const [name, l] of CASES) assert.equal(Array.from(sortedIds(l)), sortIdsByLogit(l), name);
  const withNaN = crafted(640, 4, [1, NaN, 2, -0]);
  assert.equal(Array.from(sortedIds(withNaN)), sortIdsByLogit(withNaN), 'NaN');
  const sub = random(1040, 8).subarray(3, 1033); // a view at a byte offset
  assert.equal(Array.from(sortedIds(sub)), sortIdsByLogit(sub), 'subarray');
});

/** sample() as it was before the selections (comparator sort, top-k over an array of all ids). */
function referenceSample(opts: SamplingOptions, rng: Rng, logits: Float32Array): number {
  const o = { ...SAMPLING_DEFAULTS, ...opts };
  let ids = Array.from({ length: logits.length }, (_, i) => i);
  const byLogit = (a: number, b: number) => logits[b] - logits[a] || a - b;
  ids.sort(byLogit);
  if (o.topK > 0 && o.topK < ids.length) ids = ids.slice(0, o.topK);
  const maxL = logits[ids[0]];
  const probs = ids.map((i) => Math.exp((logits[i] - maxL) / o.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  let keep = probs.length;
  if (o.topP < 1) {
    let acc = 0;
    for (let i = 0; i < probs.length; i++) { acc += probs[i] / sum; if (acc >= o.topP) { keep = i + 1; break; } }
  }
  if (o.minP > 0) { const floor = o.minP * probs[0]; let k = 1; while (k < keep && probs[k] >= floor) k++; keep = k; }
  sum = 0;
  for (let i = 0; i < keep; i++) sum += probs[i];
  let r = rng.next() * sum;
  for (let i = 0; i < keep; i++) { r -= probs[i]; if (r < 0) return ids[i]; }
  return ids[keep - 1];
}

s('Sampler draws the same tokens as the sorting sample() for the same seed', () => {
  const optionSets: SamplingOptions[] = [
    {}, { topK: 0 }, { topK: 0, topP: 1, minP: 0, temperature: 1.3 }, { topK: 3, topP: 0.5 }, { topK: 1000, minP: 0 }, { temperature: 0.2, topK: 7 },
  ];
  for (const opts of optionSets) {
    for (const [name, l] of CASES.filter(([, x]) => x.every(Number.isFinite))) {
      const seed = 17;
      const sm = new Sampler({ ...opts, seed }), rng = new Rng(seed);
      for (let draw = 0; draw < 5; draw++) {
        const want = referenceSample(opts, rng, l);
        assert.is(sm.sample(l.slice(), []), want, `${JSON.stringify(opts)} on ${name}, draw ${draw}`);
      }
    }
  }
});

s.run();
