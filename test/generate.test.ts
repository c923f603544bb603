// model.generate's own rules on the bundled model, greedy: every option at its edge accepted and
// just past it refused by name; stop strings (the first one to complete wins, text that could begin
// one is held back until it cannot, and held text is still delivered when generation ends for
// another reason); what a context shift keeps (visible in sequence.tokens); and the timings'
// rates. api.test.ts has the basics; `npm run mutate -- generate` runs both against src/generate.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { OptionError } from '../src/errors.ts';
import { loadModel, type GeneratePiece, type Model } from '../src/node.ts';
import { withoutTokenizer } from './fixtures.ts';

const FILE = 'models/default.gguf';
const PROMPT = 'And it came to pass';
// Its greedy continuation, one token per piece without stop strings:
// ", when the king of Israel saw that the king of Israel saw that the king of Israel had done to the
// king of" (test 'the greedy continuation this suite is written against' checks it).
const GREEDY = { temperature: 0, stopAtEos: false } as const;

const test = suite('generate: options, stop strings, context shift, timings');
let model: Model;
test.before(async () => { model = await loadModel(FILE, { threads: 1 }); });
test.after(() => model?.dispose());

async function pieces(opts: object, prompt: string | number[] = PROMPT): Promise<{ pieces: GeneratePiece[]; text: string; stopReason: string; tokens: number[] }> {
  const s = model.generate(prompt, { ...GREEDY, ...opts });
  const out: GeneratePiece[] = [];
  for await (const p of s) out.push(p);
  const r = await s.result;
  return { pieces: out, text: r.text, stopReason: r.stopReason, tokens: r.tokens };
}

test('the greedy continuation this suite is written against', async () => {
  const r = await pieces({ maxTokens: 24 });
  assert.is(r.text, ', when the king of Israel saw that the king of Israel saw that the king of Israel had done to the king of');
  assert.is(r.pieces.length, 24, 'one piece per token');
});

test('options: each accepted at its edge, refused just past it with its name', async () => {
  const ok = [{ maxTokens: 0 }, { keepTokens: 0 }, { stop: [] }, { stop: ['x'] }, { onContextFull: 'stop' }, { onContextFull: 'shift' }, { stopAtEos: true },
    { addBos: false }, { onSample: () => {} }, { signal: new AbortController().signal }, { stop: undefined, keepTokens: undefined, onSample: undefined }];
  for (const o of ok) assert.ok((await model.complete(PROMPT, { ...GREEDY, maxTokens: 1, ...o })).tokens.length <= 1, JSON.stringify(o));
  const none = await model.complete(PROMPT, { ...GREEDY, maxTokens: 0 });
  assert.equal([none.tokens, none.text, none.stopReason], [[], '', 'length']);
  const bad: [object, RegExp][] = [
    [{ maxTokens: -1 }, /maxTokens: must be an integer >= 0, got -1$/], [{ maxTokens: 2.5 }, /maxTokens: must be an integer >= 0, got 2\.5$/],
    [{ stop: 'x' }, /stop: must be an array of non-empty strings$/], [{ stop: ['x', ''] }, /stop: must be an array of non-empty strings$/],
    [{ stop: ['x', 3] }, /stop: must be an array of non-empty strings$/],
    [{ onContextFull: 'wrap' }, /onContextFull: must be 'stop' or 'shift', got "wrap"$/],
    [{ keepTokens: -1 }, /keepTokens: must be an integer >= 0, got -1$/], [{ keepTokens: 0.5 }, /keepTokens: must be an integer >= 0, got 0\.5$/],
    [{ onSample: 'log' }, /onSample: must be a function$/],
    [{ maxToken: 5 }, /maxToken: is not a generate option \(known: maxTokens, stop, stopAtEos, signal, onContextFull, keepTokens, addBos, sequence, onSample, temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyWindow, seed\)$/],
  ];
  for (const [o, re] of bad) {
    assert.throws(() => model.generate(PROMPT, o as any), (e: Error) => e instanceof OptionError && re.test(e.message), JSON.stringify(o));
  }
});

test('stop strings: the first to complete ends the text at its start, whichever order they are given in', async () => {
  // ' Israel' arrives as one piece: ' Is' starts at its 0, 'ael' at its 4; the text before is ', when the king of'
  for (const stop of [[' Is', 'ael'], ['ael', ' Is'], ['zzz', ' Is', 'qqq'], [' Is', 'zzz']]) {
    const r = await pieces({ maxTokens: 24, stop });
    assert.equal([r.text, r.stopReason], [', when the king of', 'stop'], JSON.stringify(stop));
    assert.is(r.pieces.map((p) => p.text).join(''), r.text);
  }
  // a stop string across pieces: ' saw that the' completes with the eighth token
  const r = await pieces({ maxTokens: 24, stop: ['king of Israel had', ' saw that the'] });
  assert.equal([r.text, r.stopReason], [', when the king of Israel', 'stop']);
});

test('stop strings: text that could begin one is held back until it cannot, and delivered at the end', async () => {
  const plain = await pieces({ maxTokens: 24 });
  // a stop string that never starts to match holds nothing back: the same pieces as without
  assert.equal((await pieces({ maxTokens: 24, stop: ['zzzz'] })).pieces, plain.pieces);
  // ' Israel saw that the queen': ' Israel', ' saw', ' that', ' the' are held, ' king' releases them as one piece
  const held = await pieces({ maxTokens: 24, stop: [' Israel saw that the queen'] });
  assert.is(held.text, plain.text);
  assert.equal(held.pieces.slice(0, 6), [
    { text: ',', tokens: [4049] }, { text: ' when', tokens: [440] }, { text: ' the', tokens: [261] }, { text: ' king', tokens: [416] }, { text: ' of', tokens: [271] },
    { text: ' Israel saw that the king', tokens: [438, 838, 301, 261, 416] },
  ]);
  // generation that ends (maxTokens) while text is held still delivers it, once, as the last piece
  const end = await pieces({ maxTokens: 6, stop: [' Israel saw that the queen'] });
  assert.equal([end.text, end.stopReason], [', when the king of Israel', 'length']);
  assert.equal(end.pieces.at(-1), { text: ' Israel', tokens: [438] });
  assert.is(end.pieces.length, 6);
  for (const r of [plain, held, end]) assert.ok(r.pieces.every((p) => p.text.length > 0 && p.tokens.length > 0), 'no empty piece');
});

test('without stop strings nothing is held back: every token is its own piece, also one ending in "S"', async () => {
  // 'PSALMS' continues ', and Savan, and Silgad': ' S' is a piece of its own (a held-back tail, as
  // for a stop string starting with 'S', would join it to the next)
  const r = await pieces({ maxTokens: 16 }, 'PSALMS');
  assert.ok(r.pieces.slice(0, -1).some((p) => p.text.endsWith('S')), `no piece before the last ends in "S": ${JSON.stringify(r.text)}`);
  assert.equal(r.pieces.map((p) => p.tokens), r.tokens.map((t) => [t]));
  assert.is(r.pieces.map((p) => p.text).join(''), r.text);
});

test('stop strings: the text before the stop is one last piece (none when the stop starts a piece)', async () => {
  // 'ael' inside ' Israel': ' Isr' is the last piece
  let r = await pieces({ maxTokens: 24, stop: ['ael'] });
  assert.equal([r.text, r.stopReason], [', when the king of Isr', 'stop']);
  assert.equal(r.pieces.at(-1), { text: ' Isr', tokens: [438] });
  // ' when' is the whole second piece: nothing after ','
  r = await pieces({ maxTokens: 24, stop: [' when'] });
  assert.equal(r.pieces, [{ text: ',', tokens: [4049] }]);
  assert.is(r.text, ',');
});

test('end of text, abort, one iteration, and onSample', async () => {
  const eos = model.tokenizer!.eosId;
  // 'In the beginning' reaches EOS after 16 tokens: it ends there and is not part of the result
  const atEos = await model.complete('In the beginning', { temperature: 0, maxTokens: 64 });
  assert.equal([atEos.stopReason, atEos.tokens.length, atEos.tokens.includes(eos)], ['stop', 16, false]);
  const past = await model.complete('In the beginning', { temperature: 0, maxTokens: 20, stopAtEos: false });
  assert.equal([past.stopReason, past.tokens[16], past.tokens.length], ['length', eos, 20]);
  // an aborted signal: no token; an abort after the third piece: three tokens
  const ac = new AbortController(); ac.abort();
  const none = await model.complete(PROMPT, { ...GREEDY, maxTokens: 10, signal: ac.signal });
  assert.equal([none.stopReason, none.tokens], ['abort', []]);
  const mid = new AbortController();
  const s = model.generate(PROMPT, { ...GREEDY, maxTokens: 20, signal: mid.signal });
  let n = 0;
  for await (const _ of s) if (++n === 3) mid.abort();
  const r = await s.result;
  assert.equal([r.stopReason, r.tokens.length], ['abort', 3]);
  // a stream is iterated once; leaving it early rejects its result
  const again = await s[Symbol.asyncIterator]().next().then(() => null, (e) => e);
  assert.ok(again && again.code === 'state' && /iterated only once/.test(again.message), String(again));
  const early = model.generate(PROMPT, { ...GREEDY, maxTokens: 20 });
  for await (const _ of early) break;
  const err = await early.result.then(() => null, (e) => e);
  assert.ok(err && err.name === 'AbortError' && /not iterated to its end/.test(err.message), String(err));
  // onSample: each kept token with the logits it was drawn from, before penalties
  const seen: [number, Float32Array][] = [];
  const pen = await model.complete(PROMPT, { ...GREEDY, maxTokens: 6, repetitionPenalty: 5, onSample: (t, l) => seen.push([t, l.slice()]) });
  assert.equal(seen.map(([t]) => t), pen.tokens);
  const ids = [...model.tokenize(PROMPT), ...pen.tokens];
  const all = model.evaluate(ids);
  const V = model.config.vocabSize;
  seen.forEach(([, l], i) => {
    const row = all.subarray((ids.length - 6 + i - 1) * V, (ids.length - 6 + i) * V);
    let d = 0;
    for (let k = 0; k < V; k++) d = Math.max(d, Math.abs(row[k] - l[k]));
    assert.ok(d < 1e-2, `step ${i}: the logits differ from evaluate() by ${d}`);
  });
});

test('a file without a tokenizer: the same tokens for the same ids, no text, and no id ends the generation', async () => {
  const bare = await loadModel(withoutTokenizer(new Uint8Array(readFileSync(FILE)), model.config.vocabSize), { threads: 1 });
  try {
    assert.is(bare.tokenizer, null);
    const P = model.tokenize(PROMPT);
    const want = await model.complete(P, { ...GREEDY, maxTokens: 8 });
    const s = bare.generate(P, { ...GREEDY, maxTokens: 8 });
    const got: GeneratePiece[] = [];
    for await (const p of s) got.push(p);
    const r = await s.result;
    assert.equal([r.tokens, r.text, r.stopReason, got], [want.tokens, '', 'length', []], 'no pieces: there is no text to give');
    // A strongly negative presence penalty on a window of one token makes the last token of the
    // prompt the greedy choice: the bundled file's EOS (2) ends its generation at once, while the file
    // without a tokenizer has no EOS, so neither 2 nor BOS (1) nor any other id stops it.
    const repeat = { temperature: 0, maxTokens: 3, presencePenalty: -1000, penaltyWindow: 1 };
    const eos = model.tokenizer!.eosId;
    const withTok = await model.complete([...P, eos], repeat);
    assert.equal([withTok.tokens, withTok.stopReason], [[], 'stop'], 'the bundled file stops at its EOS');
    for (const id of [eos, model.tokenizer!.bosId, 300]) {
      const b = await bare.complete([...P, id], repeat);
      assert.equal([b.tokens, b.stopReason], [[id, id, id], 'length'], `id ${id}`);
    }
  } finally {
    bare.dispose();
  }
});

test('an abort seen between a pass and the next token (raised by another generation of the same pass): no further token', async () => {
  // Three generations share each pass; A resumes first after it and aborts the others from its
  // onSample before they resume with their logits in hand (as the worker's shared-memory stop flag
  // can): C (maxTokens 0) after the prompt, B after the pass that gave A its 4th token.
  const three = await loadModel(FILE, { threads: 1, sequences: 3 });
  try {
    const b = new AbortController(), c = new AbortController();
    let n = 0;
    const onSample = () => { if (++n === 1) c.abort(); if (n === 4) b.abort(); };
    const [ra, rb, rc] = await Promise.all([
      three.complete(PROMPT, { ...GREEDY, maxTokens: 8, onSample }),
      three.complete(PROMPT, { ...GREEDY, maxTokens: 8, signal: b.signal }),
      three.complete(PROMPT, { ...GREEDY, maxTokens: 0, signal: c.signal }),
    ]);
    assert.equal([ra.tokens.length, ra.stopReason], [8, 'length']);
    assert.equal([rb.tokens, rb.stopReason], [ra.tokens.slice(0, 3), 'abort'], 'B: the three tokens before the abort');
    assert.equal([rc.tokens, rc.stopReason], [[], 'abort'], 'C: aborted, not out of tokens');
  } finally {
    three.dispose();
  }
});

test('a context shift drops the oldest half after keepTokens; sequence.tokens shows what the cache keeps', async () => {
  const small = await loadModel(FILE, { threads: 1, contextLength: 32 });
  try {
    const P = small.tokenize(PROMPT); // 6 tokens, BOS first
    assert.is(P.length, 6);
    const run = async (keepTokens: number) => {
      const sequence = small.sequence();
      const r = await small.complete(P, { ...GREEDY, maxTokens: 40, onContextFull: 'shift', keepTokens, sequence });
      const held = sequence.tokens.slice();
      sequence.release();
      assert.is(r.tokens.length, 40);
      return { G: r.tokens, held };
    };
    // keepTokens 3: at 32 tokens (after 26 generated) the shift keeps P[0..3) and drops the 14 after it
    // (floor((32 − 3) / 2)): P[3..6) and G[0..11). 14 more fill it to 32 again and generation ends (40)
    // before another shift; the cache holds all but the last token drawn.
    let { G, held } = await run(3);
    assert.equal(held, [...P.slice(0, 3), ...G.slice(11, 39)]);
    // keepTokens beyond the context keeps all but the last two slots: each shift drops one token, at 30
    ({ G, held } = await run(100));
    assert.equal(held, [...P, ...G.slice(0, 24), G[38]]);
    // keepTokens 0: the first 16 of 32 go (BOS too): P and G[0..10)
    ({ G, held } = await run(0));
    assert.equal(held, G.slice(10, 39));
  } finally {
    small.dispose();
  }
});

test('timings: rates are tokens over the reported milliseconds', async () => {
  const r = await model.complete(PROMPT, { ...GREEDY, maxTokens: 8 });
  const t = r.timings;
  assert.ok(t.promptMs > 0 && t.generateMs > 0, JSON.stringify(t));
  const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  assert.ok(near(t.promptTokensPerSecond, (1000 * r.usage.evaluatedPromptTokens) / t.promptMs), JSON.stringify(t));
  assert.ok(near(t.generateTokensPerSecond, (1000 * r.usage.completionTokens) / t.generateMs), JSON.stringify(t));
  assert.is(r.usage.completionTokens, 8);
});

test('an error inside a running generation reaches the iterating caller and result, and frees the sequence', async () => {
  const boom = new Error('onSample failed');
  let calls = 0;
  const s = model.generate(PROMPT, { ...GREEDY, maxTokens: 10, onSample: () => { if (++calls === 3) throw boom; } });
  const got: GeneratePiece[] = [];
  let thrown: unknown = null;
  try {
    for await (const p of s) got.push(p);
  } catch (e) {
    thrown = e;
  }
  assert.is(thrown, boom);
  assert.is(got.length, 2, 'the pieces before the failing token');
  let rejected: unknown = null;
  await s.result.catch((e) => { rejected = e; });
  assert.is(rejected, boom);
  // .done() sees the same error; afterwards the model's default sequence is free again.
  calls = 0;
  let viaDone: unknown = null;
  await model.generate(PROMPT, { ...GREEDY, maxTokens: 10, onSample: () => { if (++calls === 1) throw boom; } }).done().catch((e) => { viaDone = e; });
  assert.is(viaDone, boom);
  const after = await model.complete(PROMPT, { ...GREEDY, maxTokens: 3 });
  assert.is(after.tokens.length, 3);
});

test('a chat reply cut by a stop string: the session keeps the reply before it and continues from exactly those tokens', async () => {
  // the greedy reply, then a stop string made of three of its tokens from token k on (so that the
  // cut falls on a token boundary and a reply of k tokens is the same turn)
  const msg = 'Tell me about a cat.', o = { temperature: 0, maxTokens: 24, stopAtEos: false };
  const free = await model.chat().send(msg, o).done();
  let k = 6, before = '', stop = '';
  for (; k + 3 <= free.tokens.length; k++) {
    before = model.detokenize(free.tokens.slice(0, k));
    stop = model.detokenize(free.tokens.slice(0, k + 3)).slice(before.length);
    if (free.text.startsWith(before) && free.text.indexOf(stop) === before.length && !stop.includes('\n')) break;
  }
  assert.ok(k + 3 <= free.tokens.length, `no usable stop string in ${JSON.stringify(free.text)}`);
  const cut = model.chat(), asK = model.chat();
  const r = await cut.send(msg, { ...o, stop: [stop] }).done();
  assert.equal([r.text, r.stopReason], [before, 'stop']);
  await asK.send(msg, { ...o, maxTokens: k }).done();
  assert.equal(cut.messages, asK.messages, 'the reply kept is the text before the stop string');
  const next = (c: typeof cut) => c.send('And a dog?', { ...o, maxTokens: 1 }).done();
  const [a, b] = [await next(cut), await next(asK)];
  // (how many of them are evaluated depends on which sequences the two sessions' caches share)
  assert.is(a.usage.promptTokens, b.usage.promptTokens, 'the next turn holds the same tokens');
});

test.run();
