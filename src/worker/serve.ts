// The worker half of loadModelInWorker: one Model in this Web Worker, driven by the requests of
// src/worker/protocol.ts. The page's main thread never runs the engine, so a long prompt or load
// cannot freeze it; the worker's own main thread may block in Atomics.wait, which the thread pool
// uses (a page's main thread may not).
//
// Abort: a generation's AbortSignal also reads the request's stop flag in shared memory (where the
// page has SharedArrayBuffer) whenever generate or the batcher asks `signal.aborted`, which they do
// before each token is sampled and before each model pass. So Stop is seen at the next token however
// late this worker's event loop gets to the abort message, which remains the path where there is no
// flag (a page not cross-origin isolated). The result counts the tokens sampled after the page asked
// (0 or 1: the one being computed), by when each was sampled, not when its piece was posted: a piece
// can carry tokens held back earlier (a possible stop string, an unfinished UTF-8 character). With a
// flag the count is exact (protocol.ts); by message, it compares the page's clock with this one.

import type { ChatSession } from '../chat.js';
import { yieldToEventLoop } from '../batcher.js';
import type { GenerationStream } from '../generate.js';
import { Fairy2iError } from '../errors.js';
import type { Model } from '../model.js';
import { loadModel } from '../browser.js';
import { countSampledToken, stopFlagRaised, wallClock, type StopFlag, type GenerateDone, type ModelFacts, type PostedError, type Reply, type Request } from './protocol.js';

interface Scope {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: Reply): void;
}

export function serveModel(scope: Scope = self as unknown as Scope): void {
  let model: Model | null = null;
  let loading = false;
  const sessions = new Map<number, ChatSession>();
  /** Running requests that an abort message can stop. */
  const running = new Map<number, Run>();
  const post = (m: Reply) => scope.postMessage(m);

  const need = (): Model => {
    if (!model) throw new Fairy2iError('state', 'no model is loaded in this worker');
    return model;
  };
  const session = (id: number): ChatSession => {
    const s = sessions.get(id);
    if (!s) throw new Fairy2iError('state', `chat session ${id} does not exist in the worker`);
    return s;
  };

  const stream = async (id: number, s: GenerationStream, run: Run): Promise<GenerateDone> => {
    for await (const piece of s) {
      post({ id, piece });
      await yieldToEventLoop();
    }
    const result = await s.result;
    return { result, tokensAfterAbort: tokensAfterStop(run) };
  };

  const handle = async (m: Request): Promise<unknown> => {
    switch (m.op) {
      case 'load': {
        if (model || loading) throw new Fairy2iError('state', 'this worker already holds a model; dispose of it and start another');
        loading = true;
        const run = newRun();
        running.set(m.id, run);
        try {
          model = await loadModel(m.source, {
            ...m.opts,
            signal: run.ctrl.signal,
            onProgress: (progress) => post({ id: m.id, progress }),
            onNotice: (notice) => post({ id: m.id, notice }),
          });
        } finally {
          loading = false;
        }
        return facts(model);
      }
      case 'generate': {
        const md = need();
        const run = newRun(m.stopFlag);
        running.set(m.id, run);
        return stream(m.id, md.generate(m.prompt, { ...m.opts, ...runOptions(run) }), run);
      }
      case 'chat-open':
        sessions.set(m.session, need().chat(m.opts));
        return null;
      case 'chat-send': {
        const s = session(m.session);
        const run = newRun(m.stopFlag);
        running.set(m.id, run);
        return stream(m.id, s.send(m.content, { ...m.opts, ...runOptions(run) }), run);
      }
      case 'chat-system':
        session(m.session).setSystem(m.text);
        return null;
      case 'chat-reset':
        session(m.session).reset();
        return null;
      case 'chat-messages':
        return session(m.session).messages;
      case 'tokenize':
        return need().tokenize(m.text, { addBos: m.addBos });
      case 'detokenize':
        return need().detokenize(m.ids);
      case 'abort': {
        const r = running.get(m.target);
        if (r) stop(r, m.sentAt);
        return null;
      }
    }
  };

  scope.onmessage = (e) => {
    const m = e.data;
    handle(m).then(
      (ok) => post({ id: m.id, ok }),
      (err) => post({ id: m.id, error: toPosted(err) }),
    ).finally(() => running.delete(m.id));
  };
}

/**
 * A running request: its abort and stop flag, and when its last tokens were sampled (wall-clock ms),
 * so the tokens sampled after an abort message was sent can be counted, whatever it took to arrive.
 */
interface Run {
  ctrl: AbortController;
  flag: StopFlag | null;
  sampledAt: number[];
  afterFlag: number;
  abortSentAt: number | null;
}

const nativeAborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

/** A run whose signal, where the page sent a stop flag, reads as aborted once the flag is raised. */
function newRun(flag?: StopFlag): Run {
  const run: Run = { ctrl: new AbortController(), flag: flag ?? null, sampledAt: [], afterFlag: 0, abortSentAt: null };
  const signal = run.ctrl.signal;
  if (flag) {
    Object.defineProperty(signal, 'aborted', {
      get: () => {
        if (!nativeAborted.call(signal) && stopFlagRaised(flag)) run.ctrl.abort();
        return nativeAborted.call(signal);
      },
    });
  }
  return run;
}

/** The signal, and the per-token hook that counts each sampled token (generate calls it for every kept token). */
function runOptions(run: Run): { signal: AbortSignal; onSample: () => void } {
  return {
    signal: run.ctrl.signal,
    onSample: () => {
      if (run.flag) { if (countSampledToken(run.flag)) run.afterFlag++; return; }
      run.sampledAt.push(wallClock());
      if (run.sampledAt.length > 256) run.sampledAt.shift();
    },
  };
}

function stop(run: Run, sentAt: number): void {
  if (run.abortSentAt !== null) return;
  run.abortSentAt = sentAt;
  run.ctrl.abort();
}

/** Tokens sampled after the page asked to stop, or null when it did not. */
function tokensAfterStop(run: Run): number | null {
  if (run.flag && stopFlagRaised(run.flag)) return run.afterFlag;
  const sent = run.abortSentAt;
  return sent === null ? null : run.sampledAt.filter((t) => t > sent).length;
}

function facts(m: Model): ModelFacts {
  return {
    config: { ...m.config },
    contextLength: m.contextLength,
    kvType: m.kvType,
    memoryBytes: { ...m.memoryBytes },
    threads: m.threads,
    maxBatch: m.maxBatch,
    precision: m.precision,
    hasTokenizer: m.tokenizer !== null,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
  };
}

function toPosted(e: unknown): PostedError {
  if (e instanceof Error) return { name: e.name, message: e.message, code: (e as Fairy2iError).code };
  return { name: 'Error', message: String(e) };
}
