// The library API as a user calls it, on the stories260K model converted to W2.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { AbortError, Fairy2iError, OptionError } from '../src/errors.ts';
import { loadModel, type Model } from '../src/node.ts';
import { convert } from '../src/convert/convert.ts';
import { tempDir } from './fixtures.ts';
import { manifest, sharedPath, sharedSuite } from './shared.ts';
import { suite } from 'uvu';

const dir = tempDir();
const file = join(dir, 's-v2.gguf');
let model: Model;

const s = sharedSuite('api: load, generate, chat');

s.before(async () => {
  if (!existsSync(sharedPath('models'))) return;
  await convert(sharedPath('models/stories260K-hf'), { output: file, stages: 2, quiet: true });
  model = await loadModel(file);
});
s.after(() => model?.dispose());

const greedy = { temperature: 0 } as const;

s('stream pieces add up to the result; maxTokens stops with "length"', async () => {
  const stream = model.generate('Once upon a time', { ...greedy, maxTokens: 20 });
  let text = '', n = 0;
  for await (const p of stream) { text += p.text; n += p.tokens.length; }
  const r = await stream.result;
  assert.is(r.text, text);
  assert.is(r.tokens.length, 20);
  assert.is(n, 20);
  assert.is(r.stopReason, 'length');
  assert.is(r.usage.completionTokens, 20);
  assert.ok(r.timings.generateTokensPerSecond > 0);
  assert.is(r.usage.promptTokens, model.tokenize('Once upon a time').length);
});

s('a stop string ends the text before it, with "stop"', async () => {
  const full = await model.complete('Once upon a time', { ...greedy, maxTokens: 40 });
  const words = full.text.split(' ').filter((w) => w.length > 3);
  const stop = words[Math.min(3, words.length - 1)];
  const cut = await model.complete('Once upon a time', { ...greedy, maxTokens: 40, stop: [stop] });
  assert.is(cut.stopReason, 'stop');
  assert.is(cut.text, full.text.slice(0, full.text.indexOf(stop)));
  assert.not.ok(cut.text.includes(stop));
});

s('an AbortSignal stops within one token, with "abort"', async () => {
  const ac = new AbortController();
  const stream = model.generate('Once upon a time', { ...greedy, maxTokens: 200, signal: ac.signal });
  let pieces = 0;
  for await (const _ of stream) if (++pieces === 3) ac.abort();
  const r = await stream.result;
  assert.is(r.stopReason, 'abort');
  assert.ok(r.tokens.length <= 4, `${r.tokens.length} tokens after abort at 3`);
});

s('the same seed gives the same tokens, another seed other tokens', async () => {
  const opts = { temperature: 1, maxTokens: 30, seed: 11 };
  const a = await model.complete('The cat', opts);
  const b = await model.complete('The cat', opts);
  const c = await model.complete('The cat', { ...opts, seed: 12 });
  assert.equal(a.tokens, b.tokens);
  assert.not.equal(a.tokens, c.tokens);
  assert.is(a.seed, 11);
});

s('misspelled and bad options are rejected by name', () => {
  assert.throws(() => model.generate('x', { temprature: 0 } as any), (e: Error) => e instanceof OptionError && /temprature: is not a generate option/.test(e.message));
  assert.throws(() => model.generate('x', { maxTokens: -1 }), (e: Error) => /maxTokens/.test(e.message));
  assert.throws(() => model.generate('x', { stop: [''] }), (e: Error) => /stop/.test(e.message));
  // chat.send checks its options before reading any of them (null was a TypeError).
  const chat = model.chat();
  assert.throws(() => chat.send('hi', null as any), (e: Error) => e instanceof OptionError && /^option options: must be an object$/.test(e.message));
  assert.throws(() => chat.send('hi', { maxTokns: 4 } as any), (e: Error) => e instanceof OptionError && /maxTokns: is not a generate option/.test(e.message));
});

s('chat turns reuse the KV cache: the second turn evaluates only its own new tokens', async () => {
  const chat = model.chat({ system: 'A story.' });
  assert.is(chat.format, 'plain');
  const r1 = await chat.send('Tell me about a cat.', { ...greedy, maxTokens: 16 }).done();
  assert.is(chat.messages.length, 3);
  const r2 = await chat.send('And a dog?', { ...greedy, maxTokens: 16 }).done();
  assert.ok(r2.usage.promptTokens > r1.usage.promptTokens + r1.usage.completionTokens - 2);
  const newTurn = model.tokenize('User: And a dog?\nAssistant:', { addBos: false }).length;
  assert.ok(r2.usage.evaluatedPromptTokens <= newTurn + 4, `evaluated ${r2.usage.evaluatedPromptTokens} of ${r2.usage.promptTokens} prompt tokens (new turn ≈ ${newTurn})`);
  chat.reset();
  assert.equal(chat.messages.map((m) => m.role), ['system']);
});

s('the file chat template is used when present (rendered with jinja)', async () => {
  const { renderChat } = await import('../src/chat.ts');
  const tok = model.tokenizer!;
  const withTemplate = Object.create(tok, { vocab: { value: { ...tok.vocab, chatTemplate: "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}" } } });
  assert.is(renderChat('template', [{ role: 'user', content: 'hi' }], withTemplate), '<|user|>hi<|assistant|>');
  assert.is(renderChat('llama2', [{ role: 'system', content: 'S' }, { role: 'user', content: 'hi' }], tok), '<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nhi [/INST]');
});

s('a full context stops with "length", or shifts when asked', async () => {
  const small = await loadModel(file, { contextLength: 24 });
  try {
    const a = await small.complete('Once upon a time', { ...greedy, maxTokens: 100 });
    assert.is(a.stopReason, 'length');
    assert.ok(a.usage.promptTokens + a.tokens.length <= 24);
    const b = await small.complete('Once upon a time', { ...greedy, maxTokens: 60, onContextFull: 'shift', keepTokens: 1 });
    assert.is(b.tokens.length, 60);
    assert.is(b.stopReason, 'length');
  } finally {
    small.dispose();
  }
});

s('evaluate gives the logits of every position; tokenize/detokenize round-trip', () => {
  const ids = model.tokenize('Lily had a red ball.');
  assert.is(ids[0], 1);
  assert.is(model.detokenize(ids), 'Lily had a red ball.');
  const all = model.evaluate(ids);
  assert.is(all.length, ids.length * 512);
  const last = model.step(ids[ids.length - 1], ids.length - 1)!;
  let d = 0;
  for (let i = 0; i < 512; i++) d = Math.max(d, Math.abs(last[i] - all[(ids.length - 1) * 512 + i]));
  assert.is(d, 0);
});

s('loads from bytes and from a URL on a loopback server, with progress', async () => {
  const bytes = new Uint8Array(readFileSync(file));
  const a = await loadModel(bytes);
  const server = createServer((req, res) => { res.setHeader('content-length', bytes.length); res.end(bytes); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const seen: number[] = [];
    const b = await loadModel(`http://127.0.0.1:${port}/m.gguf`, { onProgress: (p) => seen.push(p.loaded / p.total) });
    assert.is(seen[seen.length - 1], 1);
    const ra = await a.complete('Once', { ...greedy, maxTokens: 8 });
    const rb = await b.complete('Once', { ...greedy, maxTokens: 8 });
    assert.equal(ra.tokens, rb.tokens);
    a.dispose();
    b.dispose();
    try { await loadModel(`http://127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}/none.gguf`); assert.unreachable(); } catch (e) { assert.instance(e, Fairy2iError); }
  } finally {
    server.close();
  }
});

s("precision: 'fast' is the default, 'exact' differs and keeps the perplexity within 2 %, a bad value is refused by name", async () => {
  assert.is(model.precision, 'fast');
  const exact = await loadModel(file, { precision: 'exact' });
  try {
    assert.is(exact.precision, 'exact');
    const ids = manifest().stories260K.sequences.story256.ids as number[]; // a golden sequence (fastpath.test.ts: 0.6 %)
    const a = model.evaluate(ids), b = exact.evaluate(ids);
    const V = model.config.vocabSize;
    assert.ok(a.some((v, i) => v !== b[i]), 'the two precisions gave identical logits');
    // The tiny post-training-quantized golden model only gets the sanity check (issue 11); 'fast' is
    // judged on the trained bundled model in precision.test.ts.
    const ppl = (l: Float32Array) => {
      let nll = 0;
      for (let t = 0; t + 1 < ids.length; t++) {
        let mx = -Infinity, z = 0;
        for (let i = 0; i < V; i++) mx = Math.max(mx, l[t * V + i]);
        for (let i = 0; i < V; i++) z += Math.exp(l[t * V + i] - mx);
        nll += mx + Math.log(z) - l[t * V + ids[t + 1]];
      }
      return Math.exp(nll / (ids.length - 1));
    };
    assert.ok(Math.abs(ppl(a) / ppl(b) - 1) <= 0.02, `perplexity fast ${ppl(a)} vs exact ${ppl(b)}`);
  } finally {
    exact.dispose();
  }
  try { await loadModel(file, { precision: 'double' as any }); assert.unreachable(); } catch (e) {
    assert.ok(e instanceof OptionError && /precision/.test((e as Error).message) && /'fast' or 'exact'/.test((e as Error).message), String(e));
  }
});

s('a disposed model refuses work with a clear error', async () => {
  const m = await loadModel(file);
  m.dispose();
  assert.throws(() => m.generate('x'), (e: Error) => e instanceof Fairy2iError && /disposed/.test(e.message));
});

s('breaking out of the stream early ends it (result rejects with AbortError)', async () => {
  const stream = model.generate('Once', { ...greedy, maxTokens: 50 });
  for await (const _ of stream) break;
  try { await stream.result; assert.unreachable(); } catch (e) { assert.instance(e, AbortError); }
});

s.run();

// Argument checks on the bundled model (no ../shared needed): each one used to be silently accepted
// or reported as something else ("magic: file ends at byte 0", "prompt is empty").
const args = suite('api: what loadModel and generate accept');
const bundled = 'models/default.gguf';
const rejects = async (p: Promise<unknown>, code: string, re: RegExp) => {
  try { await p; } catch (e) {
    assert.instance(e, Fairy2iError, String(e));
    assert.is((e as Fairy2iError).code, code, (e as Error).message);
    assert.match((e as Error).message, re);
    assert.not.match((e as Error).message, /\n/);
    return;
  }
  assert.unreachable(`accepted; expected ${re}`);
};

args('a source of another type names what it got and the types accepted', async () => {
  for (const [src, what] of [[new Blob([readFileSync(bundled)]), 'a Blob'], [new DataView(new ArrayBuffer(8)), 'a DataView'], [{}, 'a plain object'], [null, 'null'], [undefined, 'undefined'], [42, 'a number']] as const) {
    await rejects(loadModel(src as any), 'input', new RegExp(`^loadModel: the source is ${what}; expected a path or URL string, a URL, an ArrayBuffer, a Uint8Array or a Response$`));
  }
});

args('misspelled load options and unknown kvCache values are option errors, naming them', async () => {
  await rejects(loadModel(bundled, { contextLenght: 64 } as any), 'option', /^option contextLenght: is not a load option \(known: contextLength, /);
  await rejects(loadModel(bundled, { kvCache: 'f8' } as any), 'option', /^option kvCache: is "f8", expected 'auto', 'f32', 'f16'$/);
  await rejects(loadModel(bundled, { onProgress: 1 } as any), 'option', /^option onProgress: must be a function$/);
  const m = await loadModel(bundled, { kvCache: 'f16', contextLength: 64, wasm: undefined });
  assert.is(m.kvType, 'f16');
  m.dispose();
});

args('a misspelled chat option is an option error naming it', async () => {
  const m = await loadModel(bundled, { contextLength: 32 });
  try {
    assert.throws(() => m.chat({ sistem: 'x' } as any), (e: Error) => e instanceof OptionError && /^option sistem: is not a chat option \(known: system, format, sequence, onNotice\)$/.test(e.message));
    assert.is(m.chat({ system: 'x' }).messages.length, 1);
  } finally {
    m.dispose();
  }
});

args('a file: URL (string or URL, percent-encoded) is the file it names', async () => {
  const d = join(tempDir(), 'a dir');
  mkdirSync(d);
  const f = join(d, 'model #1.gguf');
  copyFileSync(bundled, f);
  for (const src of [pathToFileURL(f).href, pathToFileURL(f)]) {
    const m = await loadModel(src, { contextLength: 16 });
    assert.is(m.contextLength, 16);
    m.dispose();
  }
});

args('a prompt that is neither text nor token ids is an input error naming what it got, not "empty"', async () => {
  const m = await loadModel(bundled, { contextLength: 32 });
  try {
    for (const [p, what] of [[42, 'a number'], [null, 'null'], [{}, 'a plain object']] as const) {
      assert.throws(() => m.generate(p as any), (e: Error) => e instanceof Fairy2iError && e.code === 'input' && e.message === `the prompt must be a string or an array of token ids, got ${what}`);
    }
    assert.is((await m.complete(new Int32Array([1]), { maxTokens: 1 })).tokens.length, 1);
  } finally {
    m.dispose();
  }
});

args('threads beyond the cores available: capped, with a one-line notice', async () => {
  const cores = availableParallelism();
  const notices: string[] = [];
  const m = await loadModel(bundled, { threads: cores + 1, contextLength: 16, onNotice: (n) => notices.push(n) });
  try {
    assert.is(m.threads, cores);
    assert.equal(notices, [`fairy2i-wasm: running on ${cores} thread${cores > 1 ? 's' : ''} instead of ${cores + 1}: ${cores} core${cores > 1 ? 's are' : ' is'} available`]);
    assert.is((await m.complete([1], { maxTokens: 2, temperature: 0 })).tokens.length, 2);
  } finally {
    m.dispose();
  }
});

args.run();
