// `fairy2i-wasm serve` as users reach it: the official `openai` npm client against a spawned serve
// process (127.0.0.1, port 0, the bundled model, an API key): chat and completions, streamed and
// not, stop strings, seed determinism, logprobs, an abort mid-stream, a wrong key, and the request
// log and the model's answer compared with the library's own for the same prompt.
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeWithControls, renderChat, chooseFormat } from '../src/chat.ts';
import { loadModel } from '../src/node.ts';
import { health, MODEL, startServe, until, type ServeProcess } from './serve-process.ts';

const KEY = 'sk-test-' + 'x'.repeat(24);
const test = suite('server: the openai client against serve');
let srv: ServeProcess;
let client: OpenAI;

test.before(async () => {
  srv = await startServe(['--api-key', KEY]);
  client = new OpenAI({ baseURL: srv.url + 'v1', apiKey: KEY, maxRetries: 0, timeout: 30_000 });
});
test.after(async () => { await srv?.stop(); });

test('the start line names the URL, the model and the limits', () => {
  assert.match(srv.lines[0], /listening on http:\/\/127\.0\.0\.1:\d+\/ — model models\/default\.gguf \(hf-qat-w2\), context 256, 4 sequences, queue 64, .*API key required/);
});

test('models.list names the served model', async () => {
  const list = await client.models.list();
  assert.equal(list.data.map((m) => m.id), ['default']);
  assert.is(list.data[0].object, 'model');
});

test('chat, not streamed: greedy reply equals the library generating on the same chat prompt', async () => {
  const messages = [{ role: 'system' as const, content: 'You are terse.' }, { role: 'user' as const, content: 'What did Moses say?' }];
  const r = await client.chat.completions.create({ model: 'default', messages, max_tokens: 24, temperature: 0 });
  assert.is(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.is(r.model, 'default');
  assert.is(r.choices.length, 1);
  assert.is(r.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  // The same prompt through the library: chat formatting, then greedy generation.
  const model = await loadModel(MODEL, { threads: 1 });
  const tok = model.tokenizer!;
  const prompt = encodeWithControls(tok, renderChat(chooseFormat(model.config.name, tok), messages, tok));
  const want = await model.complete(prompt, { maxTokens: 24, temperature: 0, stop: ['\nUser:', '\nuser:'] });
  model.dispose();
  assert.ok(want.text.length > 0, 'the library generated nothing');
  assert.is(r.choices[0].message.content, want.text);
  assert.is(r.usage!.prompt_tokens, prompt.length);
  assert.is(r.usage!.completion_tokens, want.tokens.length);
  assert.is(r.usage!.total_tokens, prompt.length + want.tokens.length);
});

test('chat, streamed: role first, content deltas, finish_reason, then usage (include_usage)', async () => {
  const params = { model: 'default', messages: [{ role: 'user' as const, content: 'Tell me of the king.' }], max_tokens: 20, temperature: 0 };
  const whole = await client.chat.completions.create(params);
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '', role = '', finish: string | null = null, chunks = 0;
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  for await (const c of stream) {
    chunks++;
    assert.is(c.object, 'chat.completion.chunk');
    if (c.usage) usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.delta.role) role = ch.delta.role;
    text += ch.delta.content ?? '';
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.is(role, 'assistant');
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.is(text, whole.choices[0].message.content);
  assert.is(finish, whole.choices[0].finish_reason);
  assert.equal({ ...usage, prompt_tokens_details: undefined }, { ...whole.usage, prompt_tokens_details: undefined });
});

test('completions, streamed and not, agree; echo prepends the prompt', async () => {
  const params = { model: 'default', prompt: 'In the beginning', max_tokens: 16, temperature: 0 };
  const whole = await client.completions.create(params);
  assert.is(whole.object, 'text_completion');
  assert.is(whole.choices[0].finish_reason, 'length');
  assert.is(whole.usage!.completion_tokens, 16);
  let text = '';
  for await (const c of await client.completions.create({ ...params, stream: true })) text += c.choices[0]?.text ?? '';
  assert.is(text, whole.choices[0].text);
  const echoed = await client.completions.create({ ...params, echo: true });
  assert.is(echoed.choices[0].text, 'In the beginning' + whole.choices[0].text);
});

test('completions from token ids equal completions from the text they encode', async () => {
  const ids = (await (await fetch(srv.url + 'tokenize', { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ content: 'And God said', add_special: true }) })).json()).tokens;
  assert.ok(ids.length > 2);
  const a = await client.completions.create({ model: 'default', prompt: ids, max_tokens: 10, temperature: 0 });
  const b = await client.completions.create({ model: 'default', prompt: 'And God said', max_tokens: 10, temperature: 0 });
  assert.is(a.choices[0].text, b.choices[0].text);
  assert.is(a.usage!.prompt_tokens, ids.length);
});

test('a stop string ends the text before it, finish_reason stop, streamed and not', async () => {
  const base = { model: 'default', prompt: 'And the LORD said unto Moses,', max_tokens: 40, temperature: 0 };
  const free = (await client.completions.create(base)).choices[0].text;
  // A stop string taken from the middle of the free-running text: both forms must cut there.
  const words = free.trim().split(/\s+/);
  assert.ok(words.length >= 4, `too short to cut: ${JSON.stringify(free)}`);
  const stop = ' ' + words[2];
  const cut = free.slice(0, free.indexOf(stop));
  const r = await client.completions.create({ ...base, stop });
  assert.is(r.choices[0].text, cut);
  assert.is(r.choices[0].finish_reason, 'stop');
  let text = '', finish = '';
  for await (const c of await client.completions.create({ ...base, stop: [stop, 'never-there'], stream: true })) {
    text += c.choices[0]?.text ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  assert.is(text, cut);
  assert.is(finish, 'stop');
});

test('the same seed gives the same text; other seeds other texts', async () => {
  const req = (seed: number) => client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Sing a song.' }], max_tokens: 30, temperature: 1.2, top_k: 0, top_p: 1, seed } as any);
  const a = (await req(11)).choices[0].message.content;
  const other = (await req(12)).choices[0].message.content;
  const b = (await req(11)).choices[0].message.content;
  const c = (await req(13)).choices[0].message.content;
  assert.is(b, a);
  assert.ok(other !== a || c !== a, 'three seeds gave one text: the seed is not used');
});

test('logprobs: chat content[] with top_logprobs, completions arrays; consistent with each other', async () => {
  const r = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Tell me of the king.' }], max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs!.content!;
  assert.ok(content.length > 0);
  assert.is(content.length, r.usage!.completion_tokens);
  assert.is(content.map((c) => c.token).join('').trim(), r.choices[0].message.content!.trim());
  for (const c of content) {
    assert.ok(c.logprob <= 0);
    assert.is(c.top_logprobs.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(c.top_logprobs[i - 1].logprob >= c.top_logprobs[i].logprob, 'top_logprobs not sorted');
    // Greedy: the chosen token is the most likely one.
    assert.is(c.top_logprobs[0].token, c.token);
    assert.is(c.top_logprobs[0].logprob, c.logprob);
    assert.equal(c.bytes, Array.from(Buffer.from(c.token)));
  }
  const total = content.reduce((s, c) => s + Math.exp(c.top_logprobs[0].logprob), 0);
  assert.ok(total > 0 && total <= content.length);
  const cr = await client.completions.create({ model: 'default', prompt: 'Hello', max_tokens: 6, temperature: 0, logprobs: 2 });
  const lp = cr.choices[0].logprobs!;
  assert.is(lp.tokens!.length, 6);
  assert.is(lp.token_logprobs!.length, 6);
  assert.is(lp.top_logprobs!.length, 6);
  assert.is(lp.text_offset![0], 0);
  for (const t of lp.top_logprobs!) assert.is(Object.keys(t).length, 2);
});

test('abort mid-stream: the client stops, generation stops early, the sequence is free again', async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Tell a very long story.' }], max_tokens: 200, stream: true, ignore_eos: true } as any, { signal: ac.signal });
  let pieces = 0;
  // This client version ends the iteration quietly on abort (older ones threw APIUserAbortError).
  try {
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) pieces++;
      if (pieces === 3) ac.abort();
    }
  } catch (e) { assert.is((e as Error).name, 'APIUserAbortError', String(e)); }
  assert.ok(pieces >= 3 && pieces < 20, `${pieces} pieces`); // a few may have been on their way
  const before = srv.lines.length;
  await until(() => srv.lines.slice(before - 1).some((l) => /POST \/v1\/chat\/completions 200 \d+ tokens/.test(l)), 5000, 'the log line of the aborted stream');
  const line = srv.lines.slice(before - 1).find((l) => /POST \/v1\/chat\/completions 200/.test(l))!;
  const tokens = Number(/200 (\d+) tokens/.exec(line)![1]);
  assert.ok(tokens < 200, `generation ran on after the abort: ${line}`);
  const h = await health(srv.url);
  assert.is(h.free_sequences, h.sequences);
  const after = await client.completions.create({ model: 'default', prompt: 'Amen', max_tokens: 3 });
  assert.is(after.usage!.completion_tokens, 3);
});

test('a wrong or missing key is a 401 AuthenticationError; /health needs none', async () => {
  for (const apiKey of ['sk-wrong', KEY + 'x', KEY.slice(0, -1)]) {
    const bad = new OpenAI({ baseURL: srv.url + 'v1', apiKey, maxRetries: 0 });
    const e = await bad.models.list().then(() => null, (err) => err);
    assert.instance(e, OpenAI.AuthenticationError, `key ${apiKey}`);
    assert.is(e.status, 401);
    assert.is(e.error?.code ?? e.code, 'invalid_api_key');
  }
  const r = await fetch(srv.url + 'v1/models');
  assert.is(r.status, 401);
  assert.is((await fetch(srv.url + 'health')).status, 200);
});

test('a request log line per request: method, path, status, tokens, ms', () => {
  const log = srv.lines.slice(1);
  assert.ok(log.some((l) => /POST \/v1\/completions 200 16 tokens \d+ ms$/.test(l)), log.join('\n'));
  assert.ok(log.some((l) => /GET \/v1\/models 401 0 tokens \d+ ms$/.test(l)));
});

test.run();
