// The worker half of Stop (src/worker/serve.ts) driven in this process the way the page's client
// drives it: requests in, replies out, a stop flag in shared memory. The page raises the flag while
// a piece is being delivered; no piece may follow, whatever happens to the abort message. The real
// Web Worker path is test/browser.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { serveModel } from '../src/worker/serve.ts';
import { newStopFlag, raiseStopFlag, wallClock, type GenerateDone, type Reply, type Request } from '../src/worker/protocol.ts';

const test = suite('worker: stop flag');
const MODEL = readFileSync(join(process.cwd(), 'models/default.gguf'));
// The browser entry fetches its .wasm from next to the bundle; here it is handed over, as a page may.
const WASM = readFileSync(join(process.cwd(), 'build/fairy2i.wasm'));

/** A served model and a call() that collects one request's replies. */
function serve() {
  const listeners = new Map<number, (r: Reply) => void>();
  const scope = { onmessage: null as ((e: MessageEvent<Request>) => void) | null, postMessage: (r: Reply) => listeners.get(r.id)?.(r) };
  serveModel(scope);
  let next = 1;
  const call = <T>(req: Omit<Request, 'id'>, event?: (r: Reply) => void): { id: number; done: Promise<T> } => {
    const id = next++;
    const done = new Promise<T>((ok, fail) => listeners.set(id, (r) => {
      if ('ok' in r) ok(r.ok as T);
      else if ('error' in r) fail(new Error(r.error.message));
      else event?.(r);
    }));
    scope.onmessage!({ data: { ...req, id } as Request } as MessageEvent<Request>);
    return { id, done };
  };
  return { call, post: (m: Request) => scope.onmessage!({ data: m } as MessageEvent<Request>) };
}

test('a stop flag raised while piece k is delivered: no piece after k, stopReason abort, the chat goes on from the tokens kept', async () => {
  const w = serve();
  await w.call({ op: 'load', source: new Uint8Array(MODEL), opts: { threads: 1, wasm: new Uint8Array(WASM) } }).done;
  await w.call({ op: 'chat-open', session: 1, opts: {} }).done;
  for (const k of [1, 3, 7]) {
    const flag = newStopFlag()!;
    const got: number[] = [];
    let raisedAt = -1;
    const { done } = w.call<GenerateDone>({ op: 'chat-send', session: 1, content: 'Tell me a story.', opts: { maxTokens: 200, stopAtEos: false, seed: k }, stopFlag: flag } as Omit<Request, 'id'>, (r) => {
      if (!('piece' in r)) return;
      got.push(...r.piece.tokens);
      // The page's Stop, with no abort message at all: only the flag can stop this run.
      if (raisedAt < 0 && got.length >= k) { raisedAt = got.length; raiseStopFlag(flag); }
    });
    const { result, tokensAfterAbort } = await done;
    assert.is(result.stopReason, 'abort', `k=${k}`);
    assert.is(got.length, raisedAt, `k=${k}: tokens delivered after the flag was raised: ${got.length - raisedAt}`);
    assert.equal(result.tokens, got, 'the result holds exactly the delivered tokens');
    // Raised between two tokens (while piece k is delivered): no token was sampled after it.
    assert.is(tokensAfterAbort, 0, `k=${k}: tokensAfterAbort`);
  }
  // The session's history ends with the stopped reply's text, and a next turn runs.
  const msgs = await w.call<{ role: string; content: string }[]>({ op: 'chat-messages', session: 1 }).done;
  assert.is(msgs.length, 6);
  const next = await w.call<GenerateDone>({ op: 'chat-send', session: 1, content: 'And then?', opts: { maxTokens: 4, stopAtEos: false } } as Omit<Request, 'id'>).done;
  assert.is(next.result.tokens.length, 4);
});

test('without a flag the abort message still stops the run (the path of a page without SharedArrayBuffer)', async () => {
  const w = serve();
  await w.call({ op: 'load', source: new Uint8Array(MODEL), opts: { threads: 1, wasm: new Uint8Array(WASM) } }).done;
  let n = 0;
  let id = 0;
  const c = w.call<GenerateDone>({ op: 'generate', prompt: 'Once', opts: { maxTokens: 200, stopAtEos: false } }, (r) => {
    if ('piece' in r && ++n === 2) w.post({ id: 0, op: 'abort', target: id, sentAt: wallClock() });
  });
  id = c.id;
  const { result, tokensAfterAbort } = await c.done;
  assert.is(result.stopReason, 'abort');
  assert.ok(result.tokens.length < 200);
  assert.ok(tokensAfterAbort !== null && tokensAfterAbort <= 1, `tokens after the abort message: ${tokensAfterAbort}`);
});

test('tokens held back before Stop (a possible stop string) and delivered after it are not counted as made after it, by flag or by message', async () => {
  const w = serve();
  await w.call({ op: 'load', source: new Uint8Array(MODEL), opts: { threads: 1, wasm: new Uint8Array(WASM) } }).done;
  const greedy = { temperature: 0, maxTokens: 300, stopAtEos: false };
  const texts: string[] = [];
  await w.call<GenerateDone>({ op: 'generate', prompt: 'Once', opts: greedy }, (r) => { if ('piece' in r) texts.push(r.piece.text); }).done;
  const K = 3;
  // Everything after piece K could begin this stop string, so it is held back until the run ends.
  const stop = [texts.slice(K).join('') + '\u0001'];
  for (const by of ['flag', 'message'] as const) {
    const flag = by === 'flag' ? newStopFlag()! : undefined;
    const got: number[] = [];
    let atStop = -1;
    let id = 0;
    const stopNow = () => {
      atStop = got.length;
      if (flag) raiseStopFlag(flag);
      else w.post({ id: 0, op: 'abort', target: id, sentAt: wallClock() });
    };
    // Stop once several held tokens exist: the flag counts the samples; by message, some time later.
    const whenHeld = () => {
      if (flag && (Atomics.load(new Int32Array(flag), 0) & 0x3fffffff) < K + 4) setImmediate(whenHeld); // its count bits (protocol.ts)
      else stopNow();
    };
    const c = w.call<GenerateDone>({ op: 'generate', prompt: 'Once', opts: { ...greedy, stop }, ...(flag ? { stopFlag: flag } : {}) } as Omit<Request, 'id'>, (r) => {
      if (!('piece' in r)) return;
      got.push(...r.piece.tokens);
      if (got.length === K) flag ? setImmediate(whenHeld) : setTimeout(stopNow, 100);
    });
    id = c.id;
    const { result, tokensAfterAbort } = await c.done;
    assert.is(result.stopReason, 'abort', by);
    assert.ok(got.length - atStop >= 2, `${by}: held tokens delivered after Stop: ${got.length - atStop}`);
    assert.equal(result.tokens, got, `${by}: the result holds exactly the delivered tokens`);
    assert.is(tokensAfterAbort, 0, `${by}: tokens counted as made after Stop`);
  }
});

test.run();
