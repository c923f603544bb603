// `serve` against clients that misbehave, over raw fetch and raw TCP: malformed JSON, wrong field
// types (a 400 naming the field, in OpenAI's error shape), unknown routes and methods, a 100 MB
// body with and without Content-Length (413 long before it is all sent, and the server's memory
// does not grow by it), headers sent a byte at a time (the timeout closes the connection), a
// client that vanishes mid-stream (generation stops, the sequence is freed), a flood of connections
// that never send — and throughout, the server keeps answering others. Last, SIGINT mid-stream:
// the stream ends with its last chunk and [DONE], and the process exits 0.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { health, rawSocket, readUntilClose, startServe, until, type ServeProcess } from './serve-process.ts';

const test = suite('server: faults against serve');
let srv: ServeProcess;

test.before(async () => { srv = await startServe(['--timeout', '1']); });
test.after(async () => { await srv?.stop(); });

const post = (path: string, body: unknown) => fetch(srv.url + path.slice(1), { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
/** Whether a small completion is answered in full (throws, saying what came instead, if not). */
const served = async () => {
  const r = await post('/v1/completions', { prompt: 'Amen', max_tokens: 2, ignore_eos: true });
  const body = await r.text();
  if (r.status !== 200 || JSON.parse(body).usage.completion_tokens !== 2) throw new Error(`not served: ${r.status} ${body}`);
  return true;
};
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))![1]);

test('malformed JSON, invalid UTF-8, a non-object body: 400 in the OpenAI error shape', async () => {
  for (const body of ['{bad', '', '[1,2]', '"text"', Buffer.from([0x7b, 0xff, 0x7d])]) {
    const r = await fetch(srv.url + 'v1/chat/completions', { method: 'POST', body });
    assert.is(r.status, 400, String(body));
    const e = (await r.json()).error;
    assert.equal(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
    assert.is(e.type, 'invalid_request_error');
    assert.is(e.code, 'invalid_json');
  }
});

test('wrong field types and values: 400 naming the field', async () => {
  const msgs = [{ role: 'user', content: 'hi' }];
  const cases: [string, unknown, string][] = [
    ['/v1/chat/completions', {}, 'messages'],
    ['/v1/chat/completions', { messages: 'hi' }, 'messages'],
    ['/v1/chat/completions', { messages: [] }, 'messages'],
    ['/v1/chat/completions', { messages: [{ role: 'bot', content: 'x' }] }, 'messages[0].role'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].type'],
    ['/v1/chat/completions', { messages: msgs, temperature: 'hot' }, 'temperature'],
    ['/v1/chat/completions', { messages: msgs, temperature: 3 }, 'temperature'],
    ['/v1/chat/completions', { messages: msgs, max_tokens: -1 }, 'max_tokens'],
    ['/v1/chat/completions', { messages: msgs, max_tokens: 1.5 }, 'max_tokens'],
    ['/v1/chat/completions', { messages: msgs, stream: 'yes' }, 'stream'],
    ['/v1/chat/completions', { messages: msgs, stream_options: { include_usage: true } }, 'stream_options'],
    ['/v1/chat/completions', { messages: msgs, n: 2 }, 'n'],
    ['/v1/chat/completions', { messages: msgs, stop: 5 }, 'stop'],
    ['/v1/chat/completions', { messages: msgs, seed: 1.5 }, 'seed'],
    ['/v1/chat/completions', { messages: msgs, top_logprobs: 2 }, 'top_logprobs'],
    ['/v1/chat/completions', { messages: msgs, tools: [] }, 'tools'],
    ['/v1/chat/completions', { messages: msgs, temprature: 1 }, 'temprature'],
    ['/v1/chat/completions', { messages: msgs, top_k: -1 }, 'top_k'],
    ['/v1/completions', {}, 'prompt'],
    ['/v1/completions', { prompt: 7 }, 'prompt'],
    ['/v1/completions', { prompt: [1, 99999] }, 'prompt[1]'],
    ['/v1/completions', { prompt: ['a', 'b'] }, 'prompt'],
    ['/v1/completions', { prompt: 'x', logprobs: true }, 'logprobs'],
    ['/v1/completions', { prompt: 'x', echo: true, logprobs: 1 }, 'echo'],
    ['/v1/completions', { prompt: 'x', suffix: 'y' }, 'suffix'],
    ['/v1/completions', { prompt: 'x'.repeat(2000) }, 'prompt'],
    ['/tokenize', { content: 3 }, 'content'],
    ['/detokenize', { tokens: [1, -1] }, 'tokens[1]'],
  ];
  for (const [path, body, param] of cases) {
    const r = await post(path, body);
    const what = `${path} ${JSON.stringify(body).slice(0, 80)}`;
    assert.is(r.status, 400, what);
    const e = (await r.json()).error;
    assert.is(e.param, param, `${what}: ${e.message}`);
    assert.is(e.type, 'invalid_request_error');
    assert.ok(e.message.startsWith(param) || e.code === 'context_length_exceeded', `${what}: ${e.message}`);
  }
  assert.ok(await served());
});

test('unknown routes are 404, wrong methods 405 with Allow', async () => {
  let r = await fetch(srv.url + 'v2/nothing');
  assert.is(r.status, 404);
  assert.is((await r.json()).error.code, 'unknown_url');
  r = await fetch(srv.url + 'v1/chat/completions');
  assert.is(r.status, 405);
  assert.is(r.headers.get('allow'), 'POST');
  r = await post('/v1/models', {});
  assert.is(r.status, 405);
  assert.is(r.headers.get('allow'), 'GET');
});

/** Sends a 100 MB body in 256 KiB writes until a response arrives; returns it and the bytes sent. */
async function hugeBody(chunked: boolean): Promise<{ response: string; sent: number; rssGrowthKiB: number }> {
  const total = 100 << 20;
  const s = await rawSocket(srv.port);
  const rss0 = rssKiB();
  let response = '';
  s.on('data', (d) => { response += d; });
  s.on('error', () => {});
  s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`}\r\n\r\n`);
  const block = Buffer.alloc(256 << 10, 0x20);
  let sent = 0;
  let rssMax = rss0;
  while (sent < total && !response && !s.destroyed) {
    if (chunked) s.write(`${block.length.toString(16)}\r\n`);
    let ok = s.write(block);
    if (chunked) ok = s.write('\r\n');
    sent += block.length;
    if (!ok) await new Promise((r) => { s.once('drain', r); s.once('close', r); setTimeout(r, 200); });
    rssMax = Math.max(rssMax, rssKiB());
  }
  await until(() => response.includes('\r\n\r\n') || s.destroyed, 5000, 'the 413 response');
  s.destroy();
  return { response, sent, rssGrowthKiB: rssMax - rss0 };
}

test('a 100 MB body with Content-Length: 413 before it is sent, memory flat', async () => {
  const r = await hugeBody(false);
  assert.match(r.response, /^HTTP\/1\.1 413 /);
  assert.match(r.response, /"code":"body_too_large"/);
  assert.ok(r.sent < 50 << 20, `sent ${r.sent >> 20} MB before the answer`);
  assert.ok(r.rssGrowthKiB < 40 << 10, `the server grew by ${r.rssGrowthKiB >> 10} MB`);
  assert.ok(await served());
});

test('a 100 MB chunked body: read only to the limit, 413, memory flat', async () => {
  const r = await hugeBody(true);
  assert.match(r.response, /^HTTP\/1\.1 413 /);
  assert.ok(r.sent < 50 << 20, `sent ${r.sent >> 20} MB before the answer`);
  assert.ok(r.rssGrowthKiB < 40 << 10, `the server grew by ${r.rssGrowthKiB >> 10} MB`);
  assert.ok(await served());
});

test('headers sent a byte at a time: the header timeout (1 s) closes the connection; others are served meanwhile', async () => {
  const s = await rawSocket(srv.port);
  const text = 'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ' + 'a'.repeat(200);
  const closed = readUntilClose(s, 6000);
  const t0 = Date.now();
  let i = 0;
  const drip = setInterval(() => { if (!s.destroyed && i < text.length) s.write(text[i++]); }, 100);
  assert.ok(await served(), 'not served while a client drips headers');
  const r = await closed;
  clearInterval(drip);
  assert.ok(r.closed, 'the dripping connection was still open after 6 s');
  assert.ok(Date.now() - t0 < 4000, `closed only after ${Date.now() - t0} ms`);
  assert.ok(i < text.length, 'all the headers got through');
});

test('a flood of connections that never send: others are served, the idle ones are closed', async () => {
  const sockets: Socket[] = await Promise.all(Array.from({ length: 200 }, () => rawSocket(srv.port)));
  const closes = sockets.map((s) => readUntilClose(s, 6000));
  for (let k = 0; k < 3; k++) assert.ok(await served(), 'not served during the flood');
  const r = await Promise.all(closes);
  assert.is(r.filter((x) => x.closed).length, 200, 'idle connections left open');
  assert.ok(await served());
});

test('a client that vanishes mid-stream: generation stops, the sequence is freed', async () => {
  const s = await rawSocket(srv.port);
  const body = JSON.stringify({ prompt: 'And it came to pass', max_tokens: 200, stream: true, ignore_eos: true });
  let got = '';
  s.on('data', (d) => { got += d; });
  s.on('error', () => {});
  const before = srv.lines.length;
  s.write(`POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await until(() => (got.match(/data: /g) ?? []).length >= 2, 5000, 'two chunks');
  s.destroy();
  await until(() => srv.lines.slice(before).some((l) => /POST \/v1\/completions 200 \d+ tokens/.test(l)), 5000, 'the log line of the vanished stream');
  const line = srv.lines.slice(before).find((l) => /POST \/v1\/completions 200/.test(l))!;
  assert.ok(Number(/200 (\d+) tokens/.exec(line)![1]) < 200, `generation ran on: ${line}`);
  const h = await health(srv.url);
  assert.is(h.free_sequences, h.sequences);
  assert.ok(await served());
});

test('a port in use is a one-line error and exit 1', () => {
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'serve', '--port', String(srv.port)], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stderr.trim(), `fairy2i-wasm serve: cannot listen on 127.0.0.1:${srv.port}: the port is in use`);
});

test('SIGINT mid-stream: the stream ends with a last chunk and [DONE], the process exits 0', async () => {
  const r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'Tell a long story.' }], max_tokens: 200, stream: true, ignore_eos: true });
  assert.is(r.status, 200);
  const reader = r.body!.getReader();
  let text = '';
  const dec = new TextDecoder();
  while ((text.match(/data: /g) ?? []).length < 3) text += dec.decode((await reader.read()).value);
  const exit = srv.stop();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value);
  }
  assert.is(await exit, 0, srv.stderr());
  const events = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
  assert.is(events.at(-1), '[DONE]');
  const last = JSON.parse(events.at(-2)!);
  assert.is(last.choices[0].finish_reason, 'length');
  assert.ok(events.length < 200, 'the stream ran to max_tokens instead of stopping');
});

test.run();
