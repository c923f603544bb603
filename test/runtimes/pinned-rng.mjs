// The sampler's PRNG pinned: the first outputs of Rng(seed) as 32-bit integers (next() × 2^32),
// written here once from src/sampler.ts and checked independently against a Python transcription
// of the same splitmix32 seeding and xorshift128 step. Every runtime must produce exactly these
// (test/sampler.test.ts in Node, test/runtimes/golden-check.mjs in Deno, Bun and Chromium): "the
// same seed gives the same tokens in every runtime" rests on it. Plain JS with no imports, so every
// runtime loads it unchanged.

export const PINNED_RNG = [
  { seed: 0, first: [2653109517, 643942680, 2904784732, 1850902441, 3911062587, 3240044809] },
  { seed: 1234, first: [2363355435, 3116555500, 2139418269, 3401993166, 2851188500, 108733306] },
  { seed: 2147483647, first: [3778843857, 2457624008, 2090295685, 1823827680, 1764421051, 432566091] },
  { seed: 4294967295, first: [1804402093, 3835297792, 1710880556, 2790006845, 2854338764, 2660192136] },
];

/**
 * Problems (empty when all match) of an Rng class against the pinned values.
 * @param {new (seed: number) => { next(): number }} Rng
 * @returns {string[]}
 */
export function checkPinnedRng(Rng) {
  const problems = [];
  for (const { seed, first } of PINNED_RNG) {
    const r = new Rng(seed);
    const got = first.map(() => r.next() * 4294967296);
    if (got.some((v, i) => v !== first[i])) problems.push(`Rng(${seed}) gave ${JSON.stringify(got)}, pinned ${JSON.stringify(first)}`);
  }
  return problems;
}
