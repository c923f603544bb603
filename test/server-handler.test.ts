// createHandler in-process, called with web-standard Requests as Deno.serve or Bun.serve would:
// /health while the model loads and after, the queue bound (503 with Retry-After, every admitted
// request still answered), CORS, /tokenize and /detokenize as llama-server has them, close() ending
// a running stream with its last chunk, and the key check. Then the same handler under `deno` and
// `bun` (their own HTTP servers), one request each.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHandler, loadModel, type Model } from '../src/node.ts';
import { keyChecker } from '../src/server/auth.ts';
// @ts-ignore: plain JavaScript shared with .ci/run
import { findRuntime } from '../scripts/runtimes.mjs';
import { MODEL } from './serve-process.ts';

const test = suite('server: createHandler in-process');
let model: Model;
test.before(async () => { model = await loadModel(MODEL, { threads: 1, sequences: 4 }); });
test.after(() => model?.dispose());

const req = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  new Request(`http://local${path}`, body === undefined ? { headers } : { method: 'POST', body: JSON.stringify(body), headers });

async function drain(r: Response): Promise<string> {
  return r.text();
}

test('/health says loading until the model promise resolves, and other routes answer 503', async () => {
  let resolve!: (m: Model) => void;
  const h = createHandler(new Promise<Model>((r) => (resolve = r)), { parallel: 1 });
  let r = await h(req('/health'));
  assert.is(r.status, 503);
  assert.is((await r.json()).status, 'loading');
  r = await h(req('/v1/completions', { prompt: 'x' }));
  assert.is(r.status, 503);
  assert.is(r.headers.get('retry-after'), '1');
  resolve(model);
  await new Promise((res) => setTimeout(res, 0));
  r = await h(req('/health'));
  assert.is(r.status, 200);
  assert.equal(await r.json(), { status: 'ok', model: 'hf-qat-w2', sequences: 1, free_sequences: 1, queued: 0, queue_limit: 64 });
  await h.close();
});

test('a full queue answers 503 with Retry-After; every admitted request is answered in full', async () => {
  const h = createHandler(model, { parallel: 1, queue: 2 });
  const body = { prompt: 'And it came to pass', max_tokens: 24, ignore_eos: true, temperature: 0 };
  const first = await h(req('/v1/completions', { ...body, stream: true })); // holds the one sequence while unread
  const waiting = [h(req('/v1/completions', body)), h(req('/v1/completions', body))];
  await new Promise((res) => setTimeout(res, 10));
  assert.is((await (await h(req('/health'))).json()).queued, 2);
  const over = await h(req('/v1/completions', body));
  assert.is(over.status, 503);
  assert.is(over.headers.get('retry-after'), '1');
  assert.is((await over.json()).error.code, 'queue_full');
  const streamed = await drain(first);
  assert.ok(streamed.endsWith('data: [DONE]\n\n'));
  const answers = await Promise.all(waiting);
  const texts = await Promise.all(answers.map((a) => a.json()));
  for (const t of texts) assert.is(t.usage.completion_tokens, 24);
  assert.is(texts[0].choices[0].text, texts[1].choices[0].text);
  assert.is((await (await h(req('/health'))).json()).queued, 0);
  await h.close();
});

test('a request whose client goes away while queued leaves the queue', async () => {
  const h = createHandler(model, { parallel: 1 });
  const first = await h(req('/v1/completions', { prompt: 'Amen', max_tokens: 8, stream: true }));
  const ac = new AbortController();
  const queued = h(new Request('http://local/v1/completions', { method: 'POST', body: JSON.stringify({ prompt: 'x' }), signal: ac.signal }));
  await new Promise((res) => setTimeout(res, 10));
  assert.is((await (await h(req('/health'))).json()).queued, 1);
  ac.abort();
  assert.is((await queued).status, 499);
  assert.is((await (await h(req('/health'))).json()).queued, 0);
  await drain(first);
  await h.close();
});

test('close(): a running stream ends with its last chunk and [DONE]; new requests get 503', async () => {
  const h = createHandler(model);
  const r = await h(req('/v1/chat/completions', { messages: [{ role: 'user', content: 'Tell' }], max_tokens: 200, ignore_eos: true, stream: true }));
  const reader = r.body!.getReader();
  await reader.read();
  const closed = h.close();
  let text = '';
  for (;;) { const c = await reader.read(); if (c.done) break; text += new TextDecoder().decode(c.value); }
  await closed;
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  assert.match(text, /"finish_reason":"length"/);
  assert.ok(text.split('data: ').length < 100, 'the stream was not stopped');
  assert.is((await h(req('/v1/models'))).status, 503);
  assert.not.throws(() => model.sequence().release(), 'close() did not give the sequences back');
});

test('CORS: preflight 204 and the origin on every reply; none without --cors', async () => {
  const h = createHandler(model, { cors: 'https://app.example' });
  const pre = await h(new Request('http://local/v1/chat/completions', { method: 'OPTIONS' }));
  assert.is(pre.status, 204);
  assert.is(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.match(pre.headers.get('access-control-allow-headers')!, /authorization/);
  const r = await h(req('/v1/models'));
  assert.is(r.headers.get('access-control-allow-origin'), 'https://app.example');
  const e = await h(req('/nowhere'));
  assert.is(e.headers.get('access-control-allow-origin'), 'https://app.example');
  await h.close();
  const plain = createHandler(model);
  assert.is((await plain(req('/v1/models'))).headers.get('access-control-allow-origin'), null);
  assert.is((await plain(new Request('http://local/v1/models', { method: 'OPTIONS' }))).status, 405);
  await plain.close();
});

test('/tokenize and /detokenize round-trip, with pieces and BOS on request', async () => {
  const h = createHandler(model);
  const t = await (await h(req('/tokenize', { content: 'In the beginning' }))).json();
  assert.equal(t.tokens, model.tokenize('In the beginning', { addBos: false }));
  const withBos = await (await h(req('/tokenize', { content: 'In the beginning', add_special: true, with_pieces: true }))).json();
  assert.is(withBos.tokens[0].id, model.tokenizer!.bosId);
  assert.equal(withBos.tokens.slice(1).map((p: any) => p.id), t.tokens);
  assert.is(withBos.tokens.slice(1).map((p: any) => p.piece).join(''), ' In the beginning');
  const d = await (await h(req('/detokenize', { tokens: t.tokens }))).json();
  assert.is(d.content, 'In the beginning');
  await h.close();
});

test('the key check accepts only the exact key, as a Bearer token', async () => {
  const ok = keyChecker('sk-abc');
  assert.ok(await ok('Bearer sk-abc'));
  assert.ok(await ok('bearer  sk-abc'));
  for (const h of [null, '', 'sk-abc', 'Bearer sk-ab', 'Bearer sk-abcd', 'Basic sk-abc', 'Bearer ']) assert.not.ok(await ok(h), String(h));
});

test.run();

// --- The handler under Deno and Bun -----------------------------------------------------------

const runtimes = suite('server: createHandler under deno and bun');
let expected = '';
runtimes.before(async () => {
  const m = await loadModel(MODEL, { threads: 1 });
  const r = await createHandler(m)(req('/v1/chat/completions', { messages: [{ role: 'user', content: 'What did Moses say?' }], max_tokens: 16, temperature: 0 }));
  expected = (await r.json()).choices[0].message.content;
  m.dispose();
  assert.ok(expected.length > 0);
});
for (const name of ['deno', 'bun'] as const) {
  runtimes(`${name}: its own HTTP server answers a chat completion through createHandler`, () => {
    const rt = findRuntime(name);
    assert.ok(!('error' in rt), rt.error);
    const argv = name === 'deno' ? [rt.path, 'run', '-A', 'test/runtimes/serve-main.mjs', MODEL] : [rt.path, 'test/runtimes/serve-main.mjs', MODEL];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    let rep: any;
    try { rep = JSON.parse(last); } catch { assert.unreachable(`${name}: exit ${r.status}, no JSON report\n${r.stdout}${r.stderr}`); }
    assert.ok(rep.ok, `${name}: ${rep.error}`);
    assert.is(rep.runtime.split(' ')[0], name);
    assert.is(rep.status, 200);
    assert.is(rep.object, 'chat.completion');
    assert.ok(rep.completionTokens > 0);
    // Greedy: the same reply as the handler gives in Node.
    assert.is(rep.content, expected);
    assert.is(r.status, 0, r.stderr);
  });
}
runtimes.run();
