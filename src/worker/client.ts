// The page half of loadModelInWorker: a WorkerModel with the in-page Model's shape (generate as an
// async iterator with `.result`, complete, chat sessions, tokenize) whose engine runs in a Web
// Worker (dist/worker.js, src/worker/serve.ts). Callbacks and AbortSignals stay on the page: the
// worker's progress and notices arrive as events, and an abort is posted as a message. A generation's
// abort also raises its stop flag in shared memory where there is one (protocol.ts), which the worker
// reads before each token: under load its event loop may see the message only tokens later.

import type { ChatMessage, ChatOptions } from '../chat.js';
import { AbortError, Fairy2iError, type Fairy2iErrorCode } from '../errors.js';
import type { GeneratePiece, GenerateResult } from '../generate.js';
import type { LoadProgress } from '../model.js';
import { newStopFlag, raiseStopFlag, wallClock, type GenerateDone, type ModelFacts, type PostableGenerateOptions, type PostableLoadOptions, type PostedError, type Reply, type Request } from './protocol.js';

export type { ModelFacts } from './protocol.js';

export interface WorkerLoadOptions extends PostableLoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** One-line notices (fewer threads than asked, a model not kept in the cache). @default console.warn */
  onNotice?: (message: string) => void;
  /** Aborts the load (the worker is then ended). */
  signal?: AbortSignal;
  /** The worker script. @default dist/worker.js next to this bundle */
  workerUrl?: string | URL;
}

export interface WorkerGenerateOptions extends PostableGenerateOptions {
  /**
   * Aborts across the boundary (stopReason 'abort'). On a cross-origin isolated page (and in Node) at
   * most the token being computed when abort() returns is still delivered; elsewhere the worker
   * stops when the abort message reaches it.
   */
  signal?: AbortSignal;
}

/** The result of a generation in the worker; `tokensAfterAbort` counts tokens made after the page sent the abort. */
export type WorkerGenerateResult = GenerateResult & { tokensAfterAbort: number | null };

type Pending = { ok: (v: unknown) => void; fail: (e: Error) => void; event?: (r: Reply) => void };

/** A request channel to one worker. */
class Channel {
  private next = 1;
  private pending = new Map<number, Pending>();
  private dead: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const r = e.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      if ('ok' in r) { this.pending.delete(r.id); p.ok(r.ok); }
      else if ('error' in r) { this.pending.delete(r.id); p.fail(fromPosted(r.error)); }
      else p.event?.(r);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.end(new Fairy2iError('state', `the model's worker failed: ${e.message || 'its script did not load (is dist/worker.js served?)'}`));
    };
  }

  /** Sends a request; resolves with its `ok`. `event` receives its progress/notice/piece replies. */
  call<T>(req: DistributiveOmit<Request, 'id'>, event?: (r: Reply) => void, onId?: (id: number) => void): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    onId?.(id);
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail, event });
      this.worker.postMessage({ ...req, id });
    });
  }

  /** Stops request `target`: raises its stop flag (if it has one), then posts the abort for the rest. */
  abort(target: number, flag?: SharedArrayBuffer | null): void {
    if (flag) raiseStopFlag(flag);
    if (!this.dead) this.worker.postMessage({ id: 0, op: 'abort', target, sentAt: wallClock() });
  }

  /** Ends the worker; every open request fails with `why`. */
  end(why: Error): void {
    if (!this.dead) this.dead = why;
    this.worker.terminate();
    for (const p of this.pending.values()) p.fail(why);
    this.pending.clear();
  }
}

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

function fromPosted(e: PostedError): Error {
  if (e.name === 'AbortError') return new AbortError(e.message);
  const err = new Fairy2iError((e.code ?? 'state') as Fairy2iErrorCode, e.message);
  err.name = e.name;
  return err;
}

/**
 * Pieces of a generation running in the worker, iterated like the in-page GenerationStream: the
 * request is sent when iteration starts; stopping early aborts it.
 */
export class WorkerGenerationStream implements AsyncIterable<GeneratePiece> {
  readonly result: Promise<WorkerGenerateResult>;
  private resolve!: (r: WorkerGenerateResult) => void;
  private reject!: (e: unknown) => void;
  private started = false;

  private stopFlag = newStopFlag();

  constructor(private channel: Channel, private req: DistributiveOmit<Request, 'id'>, private signal?: AbortSignal) {
    this.result = new Promise((res, rej) => { this.resolve = res; this.reject = rej; });
    this.result.catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<GeneratePiece> {
    if (this.started) throw new Fairy2iError('state', 'a generation stream can be iterated only once');
    this.started = true;
    const queue: GeneratePiece[] = [];
    let wake: (() => void) | null = null;
    let end: { done: GenerateDone } | { error: unknown } | null = null;
    let id = 0;
    const onAbort = () => this.channel.abort(id, this.stopFlag);
    const req = this.stopFlag ? { ...this.req, stopFlag: this.stopFlag } : this.req;
    const call = this.channel.call<GenerateDone>(req, (r) => {
      if ('piece' in r) { queue.push(r.piece); wake?.(); }
    }, (i) => { id = i; });
    call.then((done) => { end = { done }; wake?.(); }, (error) => { end = { error }; wake?.(); });
    if (this.signal?.aborted) onAbort();
    else this.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        const e = end as { done: GenerateDone } | { error: unknown } | null;
        if (e) {
          finished = true;
          if ('error' in e) { this.reject(e.error); throw e.error; }
          this.resolve({ ...e.done.result, tokensAfterAbort: e.done.tokensAfterAbort });
          return;
        }
        await new Promise<void>((r) => { wake = r; });
        wake = null;
      }
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
      if (!finished) {
        // The consumer stopped iterating early: stop the worker's generation too.
        onAbort();
        this.reject(new AbortError('the generation stream was not iterated to its end'));
      }
    }
  }

  /** Runs to the end and returns the result. */
  async done(): Promise<WorkerGenerateResult> {
    for await (const _ of this) { /* drain */ }
    return this.result;
  }
}

/** A chat session held in the worker (ChatSession's shape; `messages()` is asynchronous here). */
export class WorkerChatSession {
  constructor(private channel: Channel, private session: number, private opened: Promise<unknown>) {}

  send(content: string, opts: WorkerGenerateOptions = {}): WorkerGenerationStream {
    const { signal, ...rest } = opts;
    return new WorkerGenerationStream(this.channel, { op: 'chat-send', session: this.session, content, opts: rest }, signal);
  }

  async setSystem(text: string): Promise<void> {
    await this.opened;
    await this.channel.call({ op: 'chat-system', session: this.session, text });
  }

  async reset(): Promise<void> {
    await this.opened;
    await this.channel.call({ op: 'chat-reset', session: this.session });
  }

  async messages(): Promise<ChatMessage[]> {
    await this.opened;
    return this.channel.call({ op: 'chat-messages', session: this.session });
  }
}

/** A model loaded in a Web Worker. */
export class WorkerModel {
  private sessions = 0;
  private disposedFlag = false;

  private constructor(private channel: Channel, readonly facts: ModelFacts) {}

  /** Starts a worker and loads `source` there (a URL, a Blob/File or bytes; bytes are transferred). */
  static async load(source: string | URL | Blob | ArrayBuffer | Uint8Array, opts: WorkerLoadOptions = {}): Promise<WorkerModel> {
    const { onProgress, onNotice, signal, workerUrl, ...postable } = opts;
    const url = workerUrl ?? new URL('./worker.js', import.meta.url);
    const channel = new Channel(new Worker(url, { type: 'module', name: 'fairy2i-wasm' }));
    const notice = onNotice ?? console.warn;
    const onAbort = () => channel.end(new AbortError('model loading was aborted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const src = source instanceof URL ? source.href : source;
      const facts = await channel.call<ModelFacts>({ op: 'load', source: src, opts: postable }, (r) => {
        if ('progress' in r) onProgress?.(r.progress);
        else if ('notice' in r) notice(r.notice);
      });
      return new WorkerModel(channel, facts);
    } catch (e) {
      channel.end(e as Error);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  get config() { return this.facts.config; }
  get contextLength() { return this.facts.contextLength; }
  get threads() { return this.facts.threads; }
  get precision() { return this.facts.precision; }
  get memoryBytes() { return this.facts.memoryBytes; }
  get maxBatch() { return this.facts.maxBatch; }
  get kvType() { return this.facts.kvType; }
  /** The Worker running the engine (for a page that wants to watch it). */
  get worker(): Worker { return this.channel.worker; }

  generate(prompt: string | ArrayLike<number>, opts: WorkerGenerateOptions = {}): WorkerGenerationStream {
    const { signal, ...rest } = opts;
    return new WorkerGenerationStream(this.channel, { op: 'generate', prompt: typeof prompt === 'string' ? prompt : Array.from(prompt), opts: rest }, signal);
  }

  complete(prompt: string | ArrayLike<number>, opts: WorkerGenerateOptions = {}): Promise<WorkerGenerateResult> {
    return this.generate(prompt, opts).done();
  }

  chat(opts: ChatOptions = {}): WorkerChatSession {
    const session = ++this.sessions;
    const opened = this.channel.call({ op: 'chat-open', session, opts });
    opened.catch(() => {});
    return new WorkerChatSession(this.channel, session, opened);
  }

  tokenize(text: string, opts: { addBos?: boolean } = {}): Promise<number[]> {
    return this.channel.call({ op: 'tokenize', text, addBos: opts.addBos });
  }

  detokenize(ids: ArrayLike<number>): Promise<string> {
    return this.channel.call({ op: 'detokenize', ids: Array.from(ids) });
  }

  /** Ends the worker (and its threads); the model's memory goes with it. */
  dispose(): void {
    this.disposedFlag = true;
    this.channel.end(new Fairy2iError('state', 'this model was disposed; load it again'));
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }
}

/** Loads a model in a new Web Worker: the page's thread never runs the engine. */
export function loadModelInWorker(source: string | URL | Blob | ArrayBuffer | Uint8Array, opts: WorkerLoadOptions = {}): Promise<WorkerModel> {
  return WorkerModel.load(source, opts);
}
