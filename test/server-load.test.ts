// Load on a real `serve --parallel 4`: 16 concurrent clients (the openai client, streamed and not,
// mixed chat and completions, each with its own seed) are all answered, each answer equal to the
// same request served alone (nothing lost or mixed up, the seed gives the same text whatever else
// runs); a flood past the queue bound is answered 503 with Retry-After while the admitted ones
// complete; and the server's memory is back to its level afterwards.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { health, startServe, type ServeProcess } from './serve-process.ts';

const test = suite('server: 16 clients against serve --parallel 4');
let srv: ServeProcess;
let client: OpenAI;
test.before(async () => {
  srv = await startServe(['--parallel', '4', '--queue', '16', '-q']);
  client = new OpenAI({ baseURL: srv.url + 'v1', apiKey: 'none', maxRetries: 0, timeout: 60_000 });
});
test.after(async () => { await srv?.stop(); });

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))![1]);
const PROMPTS = ['And it came to pass', 'The LORD is my shepherd', 'In the beginning', 'Blessed are they'];

/** Request i of the mix: chat or completion, streamed or not, sampled with its own seed. */
async function request(i: number): Promise<string> {
  const sampling = { max_tokens: 6 + (i % 4), temperature: 1, seed: 1000 + i };
  const prompt = PROMPTS[i % PROMPTS.length];
  const stream = i % 3 === 0;
  if (i % 2 === 0) {
    const params = { model: 'default', messages: [{ role: 'user' as const, content: prompt }], ...sampling };
    if (!stream) return (await client.chat.completions.create(params)).choices[0].message.content!;
    let text = '';
    for await (const c of await client.chat.completions.create({ ...params, stream: true })) text += c.choices[0]?.delta.content ?? '';
    return text;
  }
  const params = { model: 'default', prompt, ...sampling };
  if (!stream) return (await client.completions.create(params)).choices[0].text;
  let text = '';
  for await (const c of await client.completions.create({ ...params, stream: true })) text += c.choices[0]?.text ?? '';
  return text;
}

test('16 concurrent mixed requests: all answered, each equal to the same request alone; memory back to its level', async () => {
  const alone: string[] = [];
  for (let i = 0; i < 16; i++) alone.push(await request(i));
  assert.ok(new Set(alone).size > 8, 'the answers hardly differ: the mix does not test mixing up');
  const rss0 = rssKiB();
  let minFree = 4, polling = true;
  const poll = (async () => { while (polling) { minFree = Math.min(minFree, (await health(srv.url)).free_sequences); await new Promise((r) => setTimeout(r, 5)); } })();
  const together = await Promise.all(Array.from({ length: 16 }, (_, i) => request(i)));
  polling = false;
  await poll;
  assert.is(minFree, 0, 'the four sequences never all ran at once');
  for (let i = 0; i < 16; i++) assert.is(together[i], alone[i], `request ${i}`);
  const h = await health(srv.url);
  assert.is(h.queued, 0);
  assert.is(h.free_sequences, 4);
  assert.ok(rssKiB() - rss0 < 30 << 10, `memory grew by ${(rssKiB() - rss0) >> 10} MB over 16 concurrent requests`);
});

test('a flood past the queue: 503 with Retry-After for the overflow, full answers for the rest', async () => {
  const body = JSON.stringify({ prompt: 'Amen', max_tokens: 16, ignore_eos: true });
  const rs = await Promise.all(Array.from({ length: 60 }, () => fetch(srv.url + 'v1/completions', { method: 'POST', body })));
  const ok = rs.filter((r) => r.status === 200), busy = rs.filter((r) => r.status === 503);
  assert.is(ok.length + busy.length, 60, `other statuses: ${rs.map((r) => r.status).join(',')}`);
  assert.ok(busy.length > 0, 'no request was refused with 60 against 4 sequences + 16 queued');
  assert.ok(ok.length >= 16, `only ${ok.length} admitted`);
  for (const r of busy) {
    assert.is(r.headers.get('retry-after'), '1');
    assert.is((await r.json()).error.code, 'queue_full');
  }
  for (const r of ok) assert.is((await r.json()).usage.completion_tokens, 16);
  assert.is((await health(srv.url)).queued, 0);
});

test.run();
