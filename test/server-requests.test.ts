// Request parsing and validation of the server, through createHandler in-process (web-standard
// Requests, as Deno.serve or Bun.serve would call it): every field at the edge of its range is
// accepted and just past it refused with a 400 naming it; accepted fields take effect in the reply
// (max_tokens in the usage, stop in the text, developer = system, one-element prompt arrays = their
// element); the body reader's limit, UTF-8 and JSON checks; and the API key. server-faults.test.ts
// sends a few of the same mistakes over a real socket; this suite is the complete list (and the one
// `npm run mutate -- server` runs against src/server's parsing).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { meta } from '../src/gguf.ts';
import { createHandler, loadModel, type Model, type ServeHandler } from '../src/node.ts';
import { PLAIN_STOPS } from '../src/chat.ts';
import { keyChecker } from '../src/server/auth.ts';
import { chatPrompt, completionPrompt } from '../src/server/prompt.ts';
import { rewriteMetadata, withoutTokenizer } from './fixtures.ts';
import { MODEL } from './serve-process.ts';

const test = suite('server: request fields');
let model: Model;
let h: ServeHandler;
test.before(async () => { model = await loadModel(MODEL, { threads: 1, sequences: 2 }); h = createHandler(model, { parallel: 2 }); });
test.after(async () => { await h?.close(); model?.dispose(); });

const msgs = [{ role: 'user', content: 'Tell me of the king.' }];
const CHAT = '/v1/chat/completions', COMP = '/v1/completions';

async function post(path: string, body: unknown, handler: ServeHandler = h): Promise<{ status: number; body: any }> {
  const r = await handler(new Request(`http://local${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) }));
  const text = await r.text();
  return { status: r.status, body: r.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

/** A 400 naming `param`, with `code`, the message starting with the param and matching `re`. */
async function refused(path: string, body: unknown, param: string, code: string, re: RegExp) {
  const what = `${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
  const r = await post(path, body);
  assert.is(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
  const e = r.body.error;
  assert.equal([e.param, e.code, e.type], [param, code, 'invalid_request_error'], `${what}: ${e.message}`);
  assert.ok(e.message.startsWith(`${param}: `) && re.test(e.message), `${what}: ${e.message}`);
}

/** A 200 (the reply's body). */
async function accepted(path: string, body: unknown): Promise<any> {
  const r = await post(path, body);
  assert.is(r.status, 200, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
  return r.body;
}

test('sampling fields: each accepts its edges and refuses just past them, naming the field', async () => {
  const edges: [string, number[], [number, RegExp, string][]][] = [
    ['temperature', [0, 2], [[-0.001, /must be >= 0, got -0\.001$/, 'invalid_value'], [2.001, /must be <= 2, got 2\.001$/, 'invalid_value']]],
    ['top_p', [0, 1], [[-0.5, /must be >= 0/, 'invalid_value'], [1.5, /must be <= 1, got 1\.5$/, 'invalid_value']]],
    ['presence_penalty', [-2, 2], [[-2.5, /must be >= -2, got -2\.5$/, 'invalid_value'], [2.5, /must be <= 2/, 'invalid_value']]],
    ['frequency_penalty', [-2, 2], [[-2.5, /must be >= -2/, 'invalid_value'], [2.5, /must be <= 2, got 2\.5$/, 'invalid_value']]],
    ['seed', [-(2 ** 53 - 1), 2 ** 53 - 1], [[2 ** 53, /must be <= 9007199254740991/, 'invalid_value'], [-(2 ** 53), /must be >= -9007199254740991/, 'invalid_value'], [1.5, /must be an integer, got 1\.5$/, 'invalid_type']]],
    ['top_k', [0, 1000], [[-1, /must be >= 0, got -1$/, 'invalid_value'], [2.5, /must be an integer/, 'invalid_type']]],
    ['min_p', [0, 1], [[-0.1, /must be >= 0/, 'invalid_value'], [1.1, /must be <= 1, got 1\.1$/, 'invalid_value']]],
    ['repeat_penalty', [0, 5], [[-0.1, /must be >= 0, got -0\.1$/, 'invalid_value']]],
    ['repeat_last_n', [0, 4096], [[-1, /must be >= 0/, 'invalid_value'], [0.5, /must be an integer, got 0\.5$/, 'invalid_type']]],
  ];
  for (const [field, ok, bad] of edges) {
    for (const v of ok) await accepted(COMP, { prompt: 'Amen', max_tokens: 1, [field]: v });
    for (const [v, re, code] of bad) await refused(CHAT, { messages: msgs, [field]: v }, field, code, re);
    await refused(COMP, { prompt: 'x', [field]: 'high' }, field, 'invalid_type', /must be a number, got the string "high"$/);
    await refused(COMP, { prompt: 'x', [field]: true }, field, 'invalid_type', /must be a number, got boolean true$/);
  }
  // 1e999 parses as Infinity: not a finite number
  await refused(COMP, '{"prompt":"x","temperature":1e999}', 'temperature', 'invalid_type', /must be a number/);
});

test('sampling fields reach the sampler under their own names', async () => {
  // Greedy is what each of these cuts must give on its own at temperature 1.5; a field mapped to the
  // wrong option (or dropped) samples instead, and at these seeds sampling gives another reply.
  const base = { prompt: 'And it came to pass', max_tokens: 12, ignore_eos: true };
  const greedy = (await accepted(COMP, { ...base, temperature: 0 })).choices[0].text;
  const seeds: number[] = [];
  for (let seed = 1; seed <= 8 && seeds.length < 3; seed++) {
    if ((await accepted(COMP, { ...base, temperature: 1.5, seed, top_k: 0, top_p: 1, min_p: 0 })).choices[0].text !== greedy) seeds.push(seed);
  }
  assert.is(seeds.length, 3, 'sampling at T 1.5 keeps giving the greedy reply; pick another prompt');
  for (const cut of [{ top_k: 1 }, { top_p: 0 }, { min_p: 1 }]) {
    for (const seed of seeds) assert.is((await accepted(COMP, { ...base, temperature: 1.5, seed, top_k: 0, top_p: 1, min_p: 0, ...cut })).choices[0].text, greedy, JSON.stringify(cut));
  }
  // null is "not given": the defaults
  assert.is((await accepted(COMP, { ...base, temperature: 0, top_k: null, seed: null, stop: null, n: null })).choices[0].text, greedy);
  // the seed: the same seed the same reply, as the library gives for the same options
  const lib = await model.complete('And it came to pass', { maxTokens: 12, stopAtEos: false, temperature: 1.5, seed: 4, topK: 0, topP: 1, minP: 0, penaltyWindow: 64, repetitionPenalty: 1.3 });
  assert.is((await accepted(COMP, { ...base, temperature: 1.5, seed: 4, top_k: 0, top_p: 1, min_p: 0, repeat_penalty: 1.3 })).choices[0].text, lib.text);
  // penalties: each changes the greedy reply of a repetitive prompt, and repeat_last_n 0 turns them off
  const rep = { prompt: 'the the the the the the the the', max_tokens: 8, ignore_eos: true, temperature: 0 };
  const plain = (await accepted(COMP, rep)).choices[0].text;
  const penalties: [object, object][] = [[{ repeat_penalty: 3 }, { repetitionPenalty: 3 }], [{ presence_penalty: 2 }, { presencePenalty: 2 }], [{ frequency_penalty: 2 }, { frequencyPenalty: 2 }]];
  for (const [pen, option] of penalties) {
    const text = (await accepted(COMP, { ...rep, ...pen })).choices[0].text;
    assert.is.not(text, plain, `${JSON.stringify(pen)} changed nothing`);
    assert.is(text, (await model.complete(rep.prompt, { maxTokens: 8, stopAtEos: false, temperature: 0, ...option })).text, JSON.stringify(pen));
    assert.is((await accepted(COMP, { ...rep, ...pen, repeat_last_n: 0 })).choices[0].text, plain, `${JSON.stringify(pen)} with repeat_last_n 0`);
  }
});

test('max_tokens, max_completion_tokens, stop and ignore_eos take effect', async () => {
  const base = { messages: msgs, ignore_eos: true, temperature: 0 };
  const tokens = async (b: object) => (await accepted(CHAT, { ...base, ...b })).usage.completion_tokens;
  assert.is(await tokens({ max_tokens: 3 }), 3);
  assert.is(await tokens({ max_completion_tokens: 4 }), 4);
  assert.is(await tokens({ max_tokens: 5, max_completion_tokens: 2 }), 2, 'the smaller of the two');
  assert.is(await tokens({ max_tokens: 2, max_completion_tokens: 5 }), 2, 'the smaller of the two');
  assert.is(await tokens({ max_tokens: null, max_completion_tokens: 3 }), 3);
  const zero = await accepted(CHAT, { ...base, max_tokens: 0 });
  assert.equal([zero.usage.completion_tokens, zero.choices[0].message.content, zero.choices[0].finish_reason], [0, '', 'length']);
  await refused(CHAT, { ...base, max_tokens: -1 }, 'max_tokens', 'invalid_value', /must be >= 0, got -1$/);
  await refused(CHAT, { ...base, max_tokens: 1.5 }, 'max_tokens', 'invalid_type', /must be an integer, got 1\.5$/);
  await refused(CHAT, { ...base, max_completion_tokens: -1 }, 'max_completion_tokens', 'invalid_value', /must be >= 0/);
  await refused(CHAT, { ...base, max_completion_tokens: 2.5 }, 'max_completion_tokens', 'invalid_type', /must be an integer/);
  // stop: a string or up to 16 strings; '' is no stop string
  const text = (await accepted(COMP, { prompt: 'And it came to pass', max_tokens: 16, ignore_eos: true, temperature: 0 })).choices[0].text;
  const word = text.trim().split(/\s+/)[1];
  assert.ok(word && text.indexOf(word) > 0, text);
  for (const stop of [word, [word], ['', word], ['zzzq', word, ...Array(14).fill('qqqz')]]) {
    const r = await accepted(COMP, { prompt: 'And it came to pass', max_tokens: 16, ignore_eos: true, temperature: 0, stop });
    assert.equal([r.choices[0].text, r.choices[0].finish_reason], [text.slice(0, text.indexOf(word)), 'stop'], JSON.stringify(stop));
  }
  const r = await accepted(COMP, { prompt: 'And it came to pass', max_tokens: 16, ignore_eos: true, temperature: 0, stop: ['', ''] });
  assert.equal([r.choices[0].text, r.choices[0].finish_reason], [text, 'length']);
  await refused(COMP, { prompt: 'x', stop: Array(17).fill('a') }, 'stop', 'invalid_value', /has 17 strings, at most 16 are allowed$/);
  await refused(COMP, { prompt: 'x', stop: ['a', 3] }, 'stop', 'invalid_type', /must be a string or an array of strings, got an array$/);
  await refused(COMP, { prompt: 'x', stop: { a: 1 } }, 'stop', 'invalid_type', /must be a string or an array/);
  await refused(COMP, { prompt: 'x', ignore_eos: 1 }, 'ignore_eos', 'invalid_type', /must be true or false, got number 1$/);
  // ignore_eos false (the default) stops at EOS, which the bundled model reaches 16 tokens after this prompt
  const eos = await accepted(COMP, { prompt: 'In the beginning', max_tokens: 64, temperature: 0, ignore_eos: false });
  const past = await accepted(COMP, { prompt: 'In the beginning', max_tokens: eos.usage.completion_tokens + 3, temperature: 0, ignore_eos: true });
  assert.is(eos.choices[0].finish_reason, 'stop');
  const byDefault = await accepted(COMP, { prompt: 'In the beginning', max_tokens: 64, temperature: 0 });
  assert.equal([byDefault.choices[0].finish_reason, byDefault.usage.completion_tokens], ['stop', eos.usage.completion_tokens], 'ignore_eos is false by default');
  assert.is(past.usage.completion_tokens, eos.usage.completion_tokens + 3);
});

test('stream, stream_options, n, logit_bias and the bookkeeping fields', async () => {
  const base = { prompt: 'Amen', max_tokens: 2, ignore_eos: true };
  const chunks = async (b: object) => {
    const r = await post(COMP, { ...base, ...b });
    assert.is(r.status, 200, String(r.body));
    assert.ok(r.body.endsWith('data: [DONE]\n\n'), r.body);
    return r.body.split('\n\n').filter((l: string) => l.startsWith('data: {')).map((l: string) => JSON.parse(l.slice(6)));
  };
  const withUsage = await chunks({ stream: true, stream_options: { include_usage: true } });
  assert.equal(withUsage.at(-1).choices, []);
  assert.is(withUsage.at(-1).usage.completion_tokens, 2);
  for (const c of withUsage.slice(0, -1)) assert.is(c.usage, null);
  for (const so of [{ include_usage: false }, {}, null]) {
    const plain = await chunks({ stream: true, stream_options: so });
    assert.ok(plain.every((c: any) => !('usage' in c)), JSON.stringify(so));
  }
  assert.is(typeof (await accepted(COMP, { ...base, stream: false })).usage, 'object');
  await refused(COMP, { ...base, stream: 'yes' }, 'stream', 'invalid_type', /must be true or false, got the string "yes"$/);
  await refused(COMP, { ...base, stream_options: { include_usage: true } }, 'stream_options', 'invalid_value', /is only allowed with stream: true$/);
  await refused(COMP, { ...base, stream: false, stream_options: {} }, 'stream_options', 'invalid_value', /is only allowed with stream: true$/);
  await refused(COMP, { ...base, stream: true, stream_options: [true] }, 'stream_options', 'invalid_type', /must be an object, got an array$/);
  await refused(COMP, { ...base, stream: true, stream_options: 'x' }, 'stream_options', 'invalid_type', /must be an object, got the string "x"$/);
  await refused(COMP, { ...base, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }, 'stream_options.continuous_usage_stats', 'unknown_parameter', /is not a field of stream_options$/);
  await refused(COMP, { ...base, stream: true, stream_options: { include_usage: 'yes' } }, 'include_usage', 'invalid_type', /must be true or false/);
  // n: only 1
  await accepted(COMP, { ...base, n: 1 });
  await refused(COMP, { ...base, n: 2 }, 'n', 'unsupported_value', /must be 1 \(this server returns one choice per request\), got 2$/);
  await refused(COMP, { ...base, n: 0 }, 'n', 'invalid_value', /must be >= 1, got 0$/);
  await refused(COMP, { ...base, n: 1.5 }, 'n', 'invalid_type', /must be an integer/);
  // logit_bias: only {}
  await accepted(COMP, { ...base, logit_bias: {} });
  await accepted(COMP, { ...base, logit_bias: null });
  await refused(COMP, { ...base, logit_bias: { 5: 1 } }, 'logit_bias', 'unsupported_parameter', /only \{\} is accepted/);
  await refused(COMP, { ...base, logit_bias: [] }, 'logit_bias', 'invalid_type', /must be an object, got an array$/);
  await refused(COMP, { ...base, logit_bias: 3 }, 'logit_bias', 'invalid_type', /must be an object, got number 3$/);
  // accepted without effect, but still typed
  await accepted(COMP, { ...base, model: 'anything', user: 'u1', metadata: { a: 'b' }, store: false, service_tier: 'auto' });
  await accepted(CHAT, { messages: msgs, max_tokens: 1, model: null, user: null, metadata: null });
  await refused(COMP, { ...base, model: 3 }, 'model', 'invalid_type', /must be a string, got number 3$/);
  await refused(CHAT, { messages: msgs, user: {} }, 'user', 'invalid_type', /must be a string/);
  await refused(COMP, { ...base, metadata: ['a'] }, 'metadata', 'invalid_type', /must be an object, got an array$/);
  await refused(COMP, { ...base, metadata: 'a' }, 'metadata', 'invalid_type', /must be an object/);
});

test('unknown and unsupported fields are refused by name on every route; unsupported ones may be null', async () => {
  await refused(CHAT, { messages: msgs, temprature: 1 }, 'temprature', 'unknown_parameter', /is not a field of \/v1\/chat\/completions$/);
  await refused(COMP, { prompt: 'x', messages: msgs }, 'messages', 'unknown_parameter', /is not a field of \/v1\/completions$/);
  await refused(CHAT, { messages: msgs, echo: true }, 'echo', 'unknown_parameter', /is not a field of \/v1\/chat\/completions$/);
  await refused('/tokenize', { content: 'x', add_bos: true }, 'add_bos', 'unknown_parameter', /is not a field of \/tokenize$/);
  await refused('/detokenize', { tokens: [1], skip_special: true }, 'skip_special', 'unknown_parameter', /is not a field of \/detokenize$/);
  for (const f of ['tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls', 'audio', 'modalities', 'prediction', 'web_search_options', 'reasoning_effort']) {
    await refused(CHAT, { messages: msgs, [f]: false }, f, 'unsupported_parameter', /is not supported by this server$/);
    await accepted(CHAT, { messages: msgs, max_tokens: 1, [f]: null });
  }
  await refused(COMP, { prompt: 'x', suffix: 'y' }, 'suffix', 'unsupported_parameter', /is not supported by this server$/);
  await accepted(COMP, { prompt: 'x', max_tokens: 1, suffix: null });
});

test('chat: messages, roles, names, content parts, logprobs and response_format', async () => {
  const reply = async (messages: unknown, extra: object = {}) => (await accepted(CHAT, { messages, max_tokens: 6, temperature: 0, ignore_eos: true, ...extra })).choices[0];
  const sys = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello' }];
  const asSystem = (await reply(sys)).message.content;
  assert.is((await reply([{ ...sys[0], role: 'developer' }, sys[1]])).message.content, asSystem, 'developer is system');
  const promptTokens = async (messages: unknown) => (await accepted(CHAT, { messages, max_tokens: 1 })).usage.prompt_tokens;
  assert.is(await promptTokens([{ ...sys[0], role: 'developer' }, sys[1]]), await promptTokens(sys), 'developer is system, token for token');
  assert.is((await reply([sys[0], { role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] }])).message.content, asSystem, 'text parts are joined');
  assert.is((await reply([sys[0], { ...sys[1], name: 'ann' }])).message.content, asSystem, 'a name is accepted');
  // each role as the library's chat format renders it: the same prompt tokens, the same reply
  const { chooseFormat, encodeWithControls, renderChat } = await import('../src/chat.ts');
  const tok = model.tokenizer!;
  const turns = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Peace.' }, { role: 'user', content: 'Hello' }] as const;
  const ids = encodeWithControls(tok, renderChat(chooseFormat(model.config.name, tok), turns.map((t) => ({ ...t })), tok));
  const served = await accepted(CHAT, { messages: turns, max_tokens: 6, temperature: 0, ignore_eos: true });
  assert.is(served.usage.prompt_tokens, ids.length);
  assert.is(served.choices[0].message.content, (await model.complete(ids, { maxTokens: 6, temperature: 0, stopAtEos: false, stop: ['\nUser:', '\nuser:'] })).text);
  await refused(CHAT, {}, 'messages', 'missing_required_parameter', /is required$/);
  await refused(CHAT, { messages: null }, 'messages', 'invalid_type', /must be an array, got null$/);
  await refused(CHAT, { messages: { role: 'user' } }, 'messages', 'invalid_type', /must be an array, got/);
  await refused(CHAT, { messages: [] }, 'messages', 'invalid_value', /must hold at least one message$/);
  for (const m of ['hi', null, [1]]) await refused(CHAT, { messages: [m] }, 'messages[0]', 'invalid_type', /must be an object, got/);
  await refused(CHAT, { messages: [msgs[0], { role: 'user', content: 'x', foo: 1 }] }, 'messages[1].foo', 'unknown_parameter', /is not a field of a message$/);
  await refused(CHAT, { messages: [{ role: 'assistant', content: 'x', tool_calls: [] }] }, 'messages[0].tool_calls', 'unknown_parameter', /is not supported by this server$/);
  for (const role of ['bot', 'constructor', 'toString', undefined, 3, ['user'], ['system']]) {
    await refused(CHAT, { messages: [{ role, content: 'x' }] }, 'messages[0].role', 'invalid_value', /must be 'system', 'developer', 'user' or 'assistant', got/);
  }
  await refused(CHAT, { messages: [{ role: 'user', content: 'x', name: 5 }] }, 'messages[0].name', 'invalid_type', /must be a string, got number 5$/);
  await refused(CHAT, { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_type', /must be a string or an array of text parts, got number 5$/);
  await refused(CHAT, { messages: [{ role: 'user' }] }, 'messages[0].content', 'invalid_type', /must be a string or an array of text parts/);
  for (const part of ['x', null, [1]]) await refused(CHAT, { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, part] }] }, 'messages[0].content[1]', 'invalid_type', /must be an object, got/);
  await refused(CHAT, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].type', 'unsupported_value', /only 'text' parts are supported, got the string "image_url"$/);
  await refused(CHAT, { messages: [{ role: 'user', content: [{ type: 'text', text: 3 }] }] }, 'messages[0].content[0].text', 'invalid_type', /must be a string, got number 3$/);
  // logprobs: off by default, true alone gives the chosen tokens without alternatives
  assert.is((await reply(msgs)).logprobs, null);
  assert.is((await reply(msgs, { logprobs: false })).logprobs, null);
  const lp0 = (await reply(msgs, { logprobs: true })).logprobs.content;
  assert.is(lp0.length, 6);
  assert.ok(lp0.every((c: any) => c.top_logprobs.length === 0));
  const lp20 = (await reply(msgs, { logprobs: true, top_logprobs: 20 })).logprobs.content;
  assert.ok(lp20.every((c: any) => c.top_logprobs.length === 20));
  assert.is((await reply(msgs, { logprobs: true, top_logprobs: 0 })).logprobs.content[0].top_logprobs.length, 0);
  await refused(CHAT, { messages: msgs, top_logprobs: 2 }, 'top_logprobs', 'invalid_value', /needs logprobs: true$/);
  await refused(CHAT, { messages: msgs, logprobs: false, top_logprobs: 2 }, 'top_logprobs', 'invalid_value', /needs logprobs: true$/);
  await refused(CHAT, { messages: msgs, logprobs: true, top_logprobs: 21 }, 'top_logprobs', 'invalid_value', /must be <= 20, got 21$/);
  await refused(CHAT, { messages: msgs, logprobs: true, top_logprobs: -1 }, 'top_logprobs', 'invalid_value', /must be >= 0/);
  await refused(CHAT, { messages: msgs, logprobs: true, top_logprobs: 2.5 }, 'top_logprobs', 'invalid_type', /must be an integer, got 2\.5$/);
  await refused(CHAT, { messages: msgs, logprobs: 1 }, 'logprobs', 'invalid_type', /must be true or false, got number 1$/);
  // response_format: text only
  await accepted(CHAT, { messages: msgs, max_tokens: 1, response_format: { type: 'text' } });
  await accepted(CHAT, { messages: msgs, max_tokens: 1, response_format: null });
  await refused(CHAT, { messages: msgs, response_format: { type: 'json_object' } }, 'response_format', 'unsupported_value', /only \{ type: 'text' \} is supported, got type the string "json_object"$/);
  await refused(CHAT, { messages: msgs, response_format: {} }, 'response_format', 'unsupported_value', /got type nothing$/);
  await refused(CHAT, { messages: msgs, response_format: ['text'] }, 'response_format', 'invalid_type', /must be an object, got an array$/);
  await refused(CHAT, { messages: msgs, response_format: 'text' }, 'response_format', 'invalid_type', /must be an object, got the string "text"$/);
});

test('completions: prompt forms, token ids, logprobs, best_of and echo', async () => {
  const V = model.config.vocabSize;
  const text = async (prompt: unknown, extra: object = {}) => (await accepted(COMP, { prompt, max_tokens: 4, temperature: 0, ignore_eos: true, ...extra })).choices[0];
  const fromText = (await text('In the beginning')).text;
  const ids = model.tokenize('In the beginning');
  assert.is((await text(['In the beginning'])).text, fromText, 'a one-element array of text');
  assert.is((await text(ids)).text, fromText, 'token ids');
  assert.is((await text([ids])).text, fromText, 'a one-element array of token ids');
  assert.is((await text([0, V - 1])).finish_reason, 'length', 'the last id is in range');
  await refused(COMP, {}, 'prompt', 'missing_required_parameter', /is required$/);
  await refused(COMP, { prompt: null }, 'prompt', 'missing_required_parameter', /is required$/);
  await refused(COMP, { prompt: ['a', 'b'] }, 'prompt', 'unsupported_value', /holds several prompts; this server takes one per request$/);
  await refused(COMP, { prompt: [[1], [2]] }, 'prompt', 'unsupported_value', /holds several prompts/);
  for (const p of [7, { text: 'a' }, { length: 2, 0: 'a', 1: 'b' }, [1, 'a'], ['a', 1], [true]]) await refused(COMP, { prompt: p }, 'prompt', 'invalid_type', /must be a string or an array of token ids, got/);
  await refused(COMP, { prompt: [1, V] }, 'prompt[1]', 'invalid_value', new RegExp(`must be a token id in \\[0, ${V}\\), got number ${V}$`));
  await refused(COMP, { prompt: [-1] }, 'prompt[0]', 'invalid_value', /got number -1$/);
  await refused(COMP, { prompt: [1, 2.5] }, 'prompt[1]', 'invalid_value', /got number 2\.5$/);
  await refused(COMP, { prompt: [[1, V + 5]] }, 'prompt[1]', 'invalid_value', /must be a token id/);
  await refused(COMP, { prompt: [] }, 'prompt', 'invalid_value', /is empty/);
  // logprobs: alternatives per token, 0..20
  assert.is((await text('Amen')).logprobs, null);
  const lp = (await text('Amen', { logprobs: 3 })).logprobs;
  assert.is(lp.tokens.length, 4);
  assert.ok(lp.top_logprobs.every((t: object) => Object.keys(t).length === 3));
  assert.ok((await text('Amen', { logprobs: 0 })).logprobs.top_logprobs.every((t: object) => Object.keys(t).length === 0));
  await text('Amen', { logprobs: 20 });
  await refused(COMP, { prompt: 'x', logprobs: 21 }, 'logprobs', 'invalid_value', /must be <= 20, got 21$/);
  await refused(COMP, { prompt: 'x', logprobs: -1 }, 'logprobs', 'invalid_value', /must be >= 0/);
  await refused(COMP, { prompt: 'x', logprobs: 2.5 }, 'logprobs', 'invalid_type', /must be an integer, got 2\.5$/);
  await refused(COMP, { prompt: 'x', logprobs: true }, 'logprobs', 'invalid_type', /must be a number, got boolean true$/);
  // best_of: only 1
  await text('Amen', { best_of: 1 });
  await refused(COMP, { prompt: 'x', best_of: 3 }, 'best_of', 'unsupported_value', /must be 1, got 3$/);
  await refused(COMP, { prompt: 'x', best_of: 0 }, 'best_of', 'invalid_value', /must be >= 1/);
  await refused(COMP, { prompt: 'x', best_of: 1.5 }, 'best_of', 'invalid_type', /must be an integer, got 1\.5$/);
  // echo: the prompt before the reply, not with logprobs
  assert.is((await text('In the beginning', { echo: true })).text, 'In the beginning' + fromText);
  assert.is((await text('In the beginning', { echo: false })).text, fromText);
  assert.is((await text('In the beginning', { echo: true, logprobs: null })).text, 'In the beginning' + fromText);
  await refused(COMP, { prompt: 'x', echo: true, logprobs: 0 }, 'echo', 'unsupported_value', /cannot be combined with logprobs/);
  await refused(COMP, { prompt: 'x', echo: 'yes' }, 'echo', 'invalid_type', /must be true or false/);
});

test('/tokenize and /detokenize fields', async () => {
  const ids = model.tokenize('In the beginning', { addBos: false });
  assert.equal((await accepted('/tokenize', { content: 'In the beginning' })).tokens, ids);
  assert.equal((await accepted('/tokenize', { content: 'In the beginning', add_special: false, with_pieces: false })).tokens, ids);
  assert.equal((await accepted('/tokenize', { content: 'In the beginning', add_special: true })).tokens, [model.tokenizer!.bosId, ...ids]);
  const inIds = model.tokenize('In', { addBos: false });
  assert.equal((await accepted('/tokenize', { content: 'In', with_pieces: true })).tokens, inIds.map((id) => ({ id, piece: model.tokenizer!.piece(id).replace(/\u2581/g, ' ') })));
  await refused('/tokenize', {}, 'content', 'invalid_type', /is required$/);
  await refused('/tokenize', { content: ['a'] }, 'content', 'invalid_type', /must be a string, got an array$/);
  await refused('/tokenize', { content: 'a', add_special: 'no' }, 'add_special', 'invalid_type', /must be true or false/);
  await refused('/tokenize', { content: 'a', with_pieces: 1 }, 'with_pieces', 'invalid_type', /must be true or false/);
  assert.is((await accepted('/detokenize', { tokens: ids })).content, 'In the beginning');
  assert.is((await accepted('/detokenize', { tokens: [] })).content, '');
  await refused('/detokenize', {}, 'tokens', 'missing_required_parameter', /is required$/);
  await refused('/detokenize', { tokens: 'abc' }, 'tokens', 'invalid_type', /must be an array of token ids, got the string "abc"$/);
  await refused('/detokenize', { tokens: [1, 'a'] }, 'tokens[1]', 'invalid_value', /must be a token id in \[0, \d+\), got the string "a"$/);
  await refused('/detokenize', { tokens: [model.config.vocabSize] }, 'tokens[0]', 'invalid_value', /must be a token id/);
});

test.run();

// --- The body reader and the key check -------------------------------------------------------

const body = suite('server: request bodies and the API key');
let m2: Model;
body.before(async () => { m2 = await loadModel(MODEL, { threads: 1 }); });
body.after(() => m2?.dispose());

/** A streamed (chunked) body: no Content-Length, the chunks as given. */
const chunked = (chunks: Uint8Array[], fail = false) => new ReadableStream<Uint8Array>({
  start(c) { for (const ch of chunks) c.enqueue(ch); if (fail) c.error(new Error('connection reset')); else c.close(); },
});
const enc = (s: string) => new TextEncoder().encode(s);
const send = (h: ServeHandler, init: RequestInit & { duplex?: string }, path = '/tokenize') => h(new Request(`http://local${path}`, { method: 'POST', ...init }));
const errorOf = async (r: Response) => { const j = await r.json(); assert.is(j.error.type, 'invalid_request_error'); return [r.status, j.error.code, j.error.message]; };

body('the size limit: a declared length over it is refused unread, a chunked body when it passes it', async () => {
  const h = createHandler(m2, { maxBodyBytes: 40, parallel: 1 });
  const exact = '{"content":"' + 'a'.repeat(40 - 14) + '"}';
  assert.is(exact.length, 40);
  assert.is((await send(h, { body: exact })).status, 200, 'exactly the limit');
  assert.is((await send(h, { body: exact, headers: { 'content-length': '40' } })).status, 200, 'declared exactly the limit');
  const over = exact.replace('"a', '"aa');
  let [status, code, message] = await errorOf(await send(h, { body: over }));
  assert.equal([status, code], [413, 'body_too_large']);
  assert.match(message, /larger than the server's limit of 40 bytes/);
  [status, code] = await errorOf(await send(h, { body: exact, headers: { 'content-length': '41' } }));
  assert.equal([status, code], [413, 'body_too_large'], 'a declared length over the limit');
  // a chunked body: parts are joined in order; one byte over in the last part is refused
  const parts = [enc(exact.slice(0, 7)), enc(exact.slice(7, 25)), enc(exact.slice(25))];
  const r = await send(h, { body: chunked(parts), duplex: 'half' });
  assert.is(r.status, 200);
  assert.is((await r.json()).tokens.length, m2.tokenize('a'.repeat(26), { addBos: false }).length);
  [status, code] = await errorOf(await send(h, { body: chunked([...parts, enc(' ')]), duplex: 'half' }));
  assert.equal([status, code], [413, 'body_too_large']);
  // the default limit is 4 MiB
  await h.close();
  const big = createHandler(m2, { parallel: 1 });
  const content = 'a'.repeat((4 << 20) - 14);
  assert.is((await send(big, { body: JSON.stringify({ content: content.slice(0, 100) }), headers: { 'content-length': String(4 << 20) } })).status, 200, 'a declared 4 MiB is within the default limit');
  [status, code] = await errorOf(await send(big, { body: JSON.stringify({ content }) + ' ' }));
  assert.equal([status, code], [413, 'body_too_large']);
  await big.close();
});

body('unreadable, non-UTF-8, malformed and non-object bodies are 400 invalid_json / body_unreadable', async () => {
  const h = createHandler(m2, { parallel: 1 });
  let [status, code, message] = await errorOf(await send(h, { body: chunked([enc('{"content":')], true), duplex: 'half' }));
  assert.equal([status, code], [400, 'body_unreadable']);
  assert.match(message, /could not be read \(connection reset\)/);
  [status, code, message] = await errorOf(await send(h, { body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }));
  assert.equal([status, code, message], [400, 'invalid_json', 'the request body is not valid UTF-8']);
  [status, code, message] = await errorOf(await send(h, { body: '{"content": "a",}' }));
  assert.equal([status, code], [400, 'invalid_json']);
  assert.match(message, /^the request body is not valid JSON \(.+\)$/);
  [status, code] = await errorOf(await send(h, { headers: { 'content-length': String(5 << 20) } }));
  assert.equal([status, code], [413, 'body_too_large'], 'a declared length over the limit and no body');
  [status, code, message] = await errorOf(await send(h, {}));
  assert.equal([status, code], [400, 'invalid_json'], 'no body at all');
  for (const b of ['[1]', 'null', '"content"', '3']) {
    [status, code, message] = await errorOf(await send(h, { body: b }));
    assert.equal([status, code, message], [400, 'invalid_json', 'the request body must be a JSON object'], b);
  }
  await h.close();
});

body('the API key: the exact key as a Bearer token (any case, any spacing), nothing else', async () => {
  const h = createHandler(m2, { apiKey: 'sk-abc', parallel: 1 });
  const get = (authorization?: string) => h(new Request('http://local/v1/models', { headers: authorization === undefined ? {} : { authorization } }));
  for (const a of ['Bearer sk-abc', 'bearer sk-abc', 'BEARER   sk-abc', ' Bearer sk-abc ']) assert.is((await get(a)).status, 200, a);
  for (const a of [undefined, '', 'sk-abc', 'Bearer sk-ab', 'Bearer sk-abcd', 'Bearer sk-abC', 'Basic sk-abc', 'Bearer ', 'Bearer', 'Bearersk-abc', 'xBearer sk-abc']) {
    const r = await get(a);
    assert.is(r.status, 401, String(a));
    assert.equal((await r.json()).error.code, 'invalid_api_key');
  }
  assert.is((await (await get()).json()).error.type, 'authentication_error');
  assert.is((await h(new Request('http://local/health'))).status, 200, '/health needs no key');
  await h.close();
});

body('the key check on its own: it trims the header itself and the token runs to its end', async () => {
  // Headers already trims values and refuses newlines, so through the handler neither can be seen;
  // the checker must not rely on that (a runtime's raw header, a test calling it).
  const check = keyChecker('sk-abc');
  assert.ok(await check(' \tBearer sk-abc \t'), 'surrounding whitespace');
  assert.not.ok(await check('Bearer sk-abc\nX'), 'a token that stops at a line break is not the whole value');
  assert.not.ok(await check(null));
});

body.run();

// --- Prompts: the room left in the context, empty text, files without a tokenizer or with a chat
// template that refuses a conversation -------------------------------

const prompts = suite('server: prompts');
let m3: Model;
prompts.before(async () => { m3 = await loadModel(MODEL, { threads: 1 }); });
prompts.after(() => m3?.dispose());
const edited = (edit: Parameters<typeof rewriteMetadata>[1]) => rewriteMetadata(new Uint8Array(readFileSync(MODEL)), edit);

prompts('a prompt must leave room for one token; max_tokens is cut to the room left', async () => {
  const h = createHandler(m3, { parallel: 1 });
  try {
    const ctx = m3.contextLength;
    const ids = (n: number) => Array.from({ length: n }, (_, i) => 300 + (i % 50));
    let r = await post(COMP, { prompt: ids(ctx - 1), max_tokens: 50, ignore_eos: true, temperature: 0 }, h);
    assert.equal([r.status, r.body.usage.completion_tokens, r.body.choices[0].finish_reason], [200, 1, 'length']);
    r = await post(COMP, { prompt: ids(ctx - 3), ignore_eos: true, temperature: 0 }, h);
    assert.is(r.body.usage.completion_tokens, 3, 'no max_tokens: to the end of the context');
    for (const n of [ctx, ctx + 7]) {
      r = await post(COMP, { prompt: ids(n) }, h);
      assert.is(r.status, 400);
      assert.equal(r.body.error, { message: `the prompt has ${n} tokens; this server's context holds ${ctx}, so no room is left for a reply`, type: 'invalid_request_error', param: 'prompt', code: 'context_length_exceeded' });
    }
    r = await post(CHAT, { messages: [{ role: 'user', content: 'and the king '.repeat(100) }] }, h);
    assert.equal([r.status, r.body.error.param, r.body.error.code], [400, 'messages', 'context_length_exceeded']);
    // empty text: BOS alone
    r = await post(COMP, { prompt: '', max_tokens: 2, ignore_eos: true, temperature: 0 }, h);
    assert.equal([r.status, r.body.usage.prompt_tokens, r.body.choices[0].text], [200, 1, (await m3.complete([m3.tokenizer!.bosId], { maxTokens: 2, temperature: 0, stopAtEos: false })).text]);
  } finally { await h.close(); }
});

prompts('the stop strings a chat format needs: the plain transcript\'s turn markers, none for a template', async () => {
  // The bundled model has no template and no chat/instruct name: the plain format, which needs them
  const plain = chatPrompt(m3, msgs);
  assert.equal(plain.stop, PLAIN_STOPS);
  const m = await loadModel(edited((md) => md.set('tokenizer.chat_template', meta.str('{{ messages[0].content }}'))), { threads: 1 });
  try { assert.equal(chatPrompt(m, msgs).stop, []); } finally { m.dispose(); }
});

prompts('an empty text prompt is BOS alone, also when the file does not add BOS and BOS is id 0; without BOS a 400', async () => {
  assert.equal(completionPrompt(m3, ''), [m3.tokenizer!.bosId]);
  const m = await loadModel(edited((md) => { md.set('tokenizer.ggml.bos_token_id', meta.u32(0)); md.set('tokenizer.ggml.add_bos_token', meta.bool(false)); }), { threads: 1 });
  try {
    assert.equal([m.tokenizer!.bosId, m.tokenize('')], [0, []], 'the file as edited');
    assert.equal(completionPrompt(m, ''), [0]);
  } finally { m.dispose(); }
  // a file without BOS: nothing to start from, so an empty text prompt is a 400 on prompt
  const none = await loadModel(edited((md) => md.delete('tokenizer.ggml.bos_token_id')), { threads: 1 });
  const h = createHandler(none, { parallel: 1 });
  try {
    assert.equal([none.tokenizer!.bosId, completionPrompt(none, '')], [-1, []], 'the file as edited');
    const r = await post(COMP, { prompt: '', max_tokens: 2 }, h);
    assert.equal([r.status, r.body.error?.param, r.body.error?.message], [400, 'prompt', 'prompt: is empty (and the model has no BOS token to start from)']);
  } finally { await h.close(); none.dispose(); }
});

prompts('a file without a tokenizer: token-id completions only, the rest a 400 saying so', async () => {
  const m = await loadModel(withoutTokenizer(new Uint8Array(readFileSync(MODEL)), m3.config.vocabSize), { threads: 1 });
  const h = createHandler(m, { parallel: 1 });
  try {
    assert.is(m.tokenizer, null);
    const r = await post(COMP, { prompt: [1, 300, 359], max_tokens: 3, ignore_eos: true, temperature: 0 }, h);
    assert.equal([r.status, r.body.usage.completion_tokens], [200, 3]);
    for (const [path, body, what] of [[CHAT, { messages: msgs }, 'chat'], [COMP, { prompt: 'x' }, 'a text prompt'], ['/tokenize', { content: 'x' }, 'tokenize'], ['/detokenize', { tokens: [1] }, 'detokenize']] as const) {
      const e = await post(path, body, h);
      assert.is(e.status, 400, path);
      assert.equal(e.body.error, { message: `this model file has no tokenizer, so ${what} is not available (send token ids to /v1/completions)`, type: 'invalid_request_error', param: null, code: 'no_tokenizer' });
    }
  } finally { await h.close(); m.dispose(); }
});

prompts('a chat template that refuses the conversation is a 400 on messages, with its reason', async () => {
  const m = await loadModel(edited((md) => md.set('tokenizer.chat_template', meta.str("{% if messages|length > 1 %}{{ raise_exception('one message only') }}{% endif %}{{ messages[0].content }}"))), { threads: 1 });
  const h = createHandler(m, { parallel: 1 });
  try {
    const ok = await post(CHAT, { messages: [{ role: 'user', content: 'And it came to pass' }], max_tokens: 3, ignore_eos: true, temperature: 0 }, h);
    // the template's output is the prompt as it is (no BOS unless the template writes it, no plain-format turns)
    assert.equal([ok.status, ok.body.usage.prompt_tokens], [200, m.tokenize('And it came to pass', { addBos: false }).length]);
    const r = await post(CHAT, { messages: [msgs[0], msgs[0]] }, h);
    assert.is(r.status, 400);
    assert.equal([r.body.error.param, r.body.error.code], ['messages', 'invalid_value']);
    assert.match(r.body.error.message, /^messages: the model's chat template refused them: .*one message only$/);
  } finally { await h.close(); m.dispose(); }
});

prompts.run();
