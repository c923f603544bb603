import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packWindows, perplexity, windowLoss } from '../src/perplexity.ts';

const s = suite('perplexity protocol');

s('windows start with BOS, take whole documents, skip ones that cannot fit', () => {
  const { windows, skipped } = packWindows([[5, 6, 2], [7, 2], [8, 8, 8, 8, 8, 8, 2], [9, 2]], 6, 1);
  assert.equal(windows, [[1, 5, 6, 2, 7, 2], [1, 9, 2]]);
  assert.is(skipped, 1);
});

s('edges: a document of ctx − 1 tokens fits (with BOS), one of ctx does not; no documents, no windows', () => {
  assert.equal(packWindows([[5, 5, 5, 5, 2], [6, 2]], 6, 1), { windows: [[1, 5, 5, 5, 5, 2], [1, 6, 2]], skipped: 0 });
  assert.equal(packWindows([[5, 5, 5, 5, 5, 2]], 6, 1), { windows: [], skipped: 1 });
  assert.equal(packWindows([], 6, 1), { windows: [], skipped: 0 });
  // a window filled exactly, then the next document starts a new one
  assert.equal(packWindows([[5, 2], [6, 6, 2], [7, 2]], 6, 1), { windows: [[1, 5, 2, 6, 6, 2], [1, 7, 2]], skipped: 0 });
});

s('loss skips targets after EOS; uniform logits give log(V) per counted position', () => {
  const V = 4, w = [1, 3, 2, 0];
  const logits = new Float32Array(w.length * V);
  const loss = windowLoss(logits, w, V, 2);
  assert.ok(Math.abs(loss - 2 * Math.log(V)) < 1e-9); // positions 1, 2 counted; 3 follows EOS
});

s.run();

// --- Non-uniform logits, values computed by hand ----------------------------------------------------
const L2 = Math.LN2;

const hand = suite('perplexity: hand-computed losses');

hand('windowLoss: each position scores the token that follows it, under the row before it', () => {
  // V = 3, EOS = 2, window [1, 0, 2, 1]: row 0 = log(1, 2, 1) → P(0) = 1/4; row 1 = log(1, 3, 4) →
  // P(2) = 4/8; the target at position 3 follows EOS and is not scored (row 2 would give P(1) ≈ 0).
  const logits = Float32Array.from([0, L2, 0, 0, Math.log(3), 2 * L2, 50, -50, 0, 7, 7, 7]);
  const loss = windowLoss(logits, [1, 0, 2, 1], 3, 2);
  assert.ok(Math.abs(loss - 3 * L2) < 1e-6, `loss ${loss}, expected ln 4 + ln 2 = ${3 * L2}`);
});

hand('windowLoss: large logits go through the max (no exp overflow)', () => {
  // P(2) under logits (800, 801, 803) = e^3 / (1 + e + e^3); exp(803) alone is Infinity in float64
  const loss = windowLoss(Float32Array.from([800, 801, 803, 0, 0, 0]), [1, 2], 3, 0);
  assert.ok(Math.abs(loss - (Math.log(1 + Math.E + Math.E ** 3) - 3)) < 1e-9, String(loss));
  // and very negative ones (the max is below 0): P(0) under (−900, −901, −903)
  const neg = windowLoss(Float32Array.from([-900, -901, -903, 0, 0, 0]), [1, 0], 3, 2);
  assert.ok(Math.abs(neg - Math.log(1 + Math.exp(-1) + Math.exp(-3))) < 1e-9, String(neg));
});

hand('windowLoss: the max is the largest logit of the row wherever it sits', () => {
  // the largest first and a small one last: shifting by the last logit would overflow exp()
  const loss = windowLoss(Float32Array.from([803, 801, 0, 0, 0, 0]), [1, 1], 3, 2);
  assert.ok(Math.abs(loss - (Math.log(1 + Math.exp(-2) + Math.exp(-803)) + 2)) < 1e-9, String(loss));
});

/**
 * A model for perplexity(): 'a' = 0, anything else 3, BOS 1, EOS 2, vocabulary 4; logits of position
 * t from `row(t)`; `evaluated` sees each window. Lines are encoded without BOS/EOS and every window is
 * evaluated from scratch (checked).
 */
const fakeModel = (row: (t: number) => number[], contextLength = 6, evaluated: (w: number[]) => void = () => {}) => ({
  contextLength,
  config: { vocabSize: 4 },
  tokenizer: { bosId: 1, eosId: 2, encode: (l: string, o: any) => { assert.equal(o, { addBos: false, addEos: false }); return l.trim().split(/ +/).map((w) => (w === 'a' ? 0 : 3)); } },
  evaluate: (w: number[], pos: number) => { assert.is(pos, 0, 'every window from scratch'); evaluated(w); return Float32Array.from(w.flatMap((_, t) => row(t))); },
});

hand('perplexity(): nothing to predict and overflowing predictions are input and format errors', () => {
  const flat = fakeModel(() => [0, 0, 0, 0]);
  const fails = (text: string, model: object, code: string, message: string) => {
    try {
      perplexity(model as any, text);
      assert.unreachable(`perplexity of ${JSON.stringify(text)} did not throw`);
    } catch (e) {
      assert.is((e as { code?: string }).code, code, (e as Error).message);
      assert.is((e as Error).message, message);
    }
  };
  fails('\n  \r\n', flat, 'input', 'the text has no non-empty line, so there is nothing to predict');
  fails('a a a a a a\nb b b b b b', flat, 'input', 'none of the 2 documents (lines) fits in a window of 6 tokens with BOS, so there is nothing to predict (use a larger --ctx or shorter lines)');
  fails('a b', fakeModel(() => [NaN, 0, 0, 0]), 'format', 'perplexity is NaN (loss NaN over 3 tokens): the model\'s predictions overflowed');
});

hand('perplexity(): seconds is the wall time in seconds', () => {
  // each window's evaluation takes at least 30 ms
  const slow = fakeModel(() => [0, 0, 0, 0], 6, () => { const t = Date.now(); while (Date.now() - t < 30); });
  const r = perplexity(slow as any, 'a b');
  assert.ok(r.seconds >= 0.029 && r.seconds < 30, `seconds ${r.seconds}`);
});

hand('perplexity(): lines, windows, masked positions and the count on a model with position-dependent logits', () => {
  // Tokens: 'a' = 0, 'b' = 3, BOS 1, EOS 2, vocabulary 4. Rows at even positions are log(1, 2, 4, 1)
  // (P = 1/8, 2/8, 4/8, 1/8: NLL 3, 2, 1, 3 × ln 2 by id), at odd positions log(4, 1, 1, 2) (P = 4/8,
  // 1/8, 1/8, 2/8: NLL 1, 3, 3, 2 × ln 2).
  const rows = [[0, L2, 2 * L2, 0], [2 * L2, 0, 0, L2]];
  const calls: number[][] = [];
  const model = fakeModel((t) => rows[t % 2], 6, (w) => calls.push([...w]));
  // Documents (each + EOS): [0 3 2], [3 2], [0 0 0 0 0 0 2] (7 + BOS > 6: skipped), [0 2]; blank and
  // whitespace-only lines are not documents. Windows of 6: [1 0 3 2 3 2] and [1 0 2].
  const progress: number[][] = [];
  const r = perplexity(model as any, 'a b\n\n   \r\nb\r\na a a a a a\na\n', { ctx: 100, onWindow: (d, n) => progress.push([d, n]) });
  assert.equal(calls, [[1, 0, 3, 2, 3, 2], [1, 0, 2]], 'windows (ctx is capped at the model context)');
  assert.equal(progress, [[1, 2], [2, 2]]);
  // Window 1: P(0 | row 0) 3, P(3 | row 1) 2, P(2 | row 2) 1, position 4 follows EOS, P(2 | row 4) 1 → 7.
  // Window 2: P(0 | row 0) 3, P(2 | row 1) 3 → 6. Loss 13 ln 2 over 5 + 2 positions (the masked one counts).
  assert.ok(Math.abs(r.loss - 13 * L2) < 1e-6, `loss ${r.loss}, expected ${13 * L2}`);
  assert.is(r.count, 7);
  assert.ok(Math.abs(r.ppl - 2 ** (13 / 7)) < 1e-6, `ppl ${r.ppl}, expected ${2 ** (13 / 7)}`);
  assert.equal([r.windows, r.documents, r.skippedDocuments, r.tokens], [2, 3, 1, 9]);
  assert.ok(r.seconds >= 0 && r.seconds < 60);
  // without ctx the model's context is the window size
  calls.length = 0;
  perplexity(model as any, 'a b\nb\na');
  assert.equal(calls, [[1, 0, 3, 2, 3, 2], [1, 0, 2]]);
  // with a smaller ctx, smaller windows: [1 0 3 2], [1 3 2 0 2]
  calls.length = 0;
  perplexity(model as any, 'a b\nb\na', { ctx: 5 });
  assert.equal(calls, [[1, 0, 3, 2], [1, 3, 2, 0, 2]]);
});

hand.run();
