// The host side of the thread pool (the protocol itself is assembly/threads.ts): worker threads that
// each instantiate the same WebAssembly.Module over the model's shared memory and run worker_main
// until dispose. The platform part (Node's worker_threads, or Web Workers) comes from src/node.ts or
// src/browser.ts, so this module runs anywhere.
//
// Where a pool cannot start (a page that is not cross-origin isolated cannot post a shared memory
// to a worker; edge runtimes have no workers), the model runs on one thread and says so in one line.

import type { Fairy2iExports } from './wasm.js';

/** Control block offsets used from JavaScript (assembly/threads.ts has the whole layout). */
const C_DONE = 64;
const C_ERROR = 72;
const C_THREADS = 192;
const C_POSTER_BLOCKS = 196;
const C_MIN_WORK = 200;
const C_SPIN = 204;
const C_WORKER_SPIN = 208;

/**
 * Tuning of the split, read when a model loads. Work units are additions (a code-row of m complex
 * inputs at S stages is m·2S units; a float row of n inputs is n). Not part of the API: tests lower
 * minChunkWork to split even the tiny test models.
 */
export const threadTuning = {
  /** Smallest chunk worth handing to another thread: ~2 µs of the quantized kernel (~60 ps a unit). */
  minChunkWork: 1 << 15,
  /**
   * Polls of the done counter before the posting thread sleeps on it (it waits there for the other
   * threads' last chunks of a job): with 2^26 it never sleeps within a token.
   */
  spin: 1 << 26,
  /**
   * Polls of the job word before a worker sleeps. It waits there while the posting thread runs the
   * serial parts of a token and between tokens. With 2^16 the worker slept and was woken ~450 times a
   * 7B token (its share of the chunks fell to 45 %); 2^20 (about a millisecond) outlasts the gaps
   * within a token. Not 2^26 as before: on a machine whose cores are busy with other processes a
   * worker that spins for tens of ms takes CPU time from the thread it waits for, and 2 threads
   * decoded the TinyLlama shape at 4-6 tok/s, below 1 thread's 12; with 2^14-2^20, 8-15 tok/s
   * (2026-12-02, load average 7-9 on 2 cores, interleaved runs).
   */
  workerSpin: 1 << 20,
  /** Most threads a model starts per logical core (Model.load caps the threads asked for); tests raise it to split a model on more threads than the machine has. */
  oversubscription: 1,
};

/** What a worker thread receives. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  tid: number;
}

export type WorkerMessage = { ready: true } | { exit: true } | { error: string };

export interface WorkerHandle {
  terminate(): void;
}

/** How a platform starts worker threads. */
export interface ThreadPlatform {
  /** Logical cores (the default thread count). */
  cores(): number;
  /** Why workers with a shared memory cannot run here, or null when they can. */
  unavailable(): string | null;
  /** Starts a worker running WORKER_BODY with `init`; messages from it go to `onMessage`. */
  spawn(init: WorkerInit, onMessage: (m: WorkerMessage) => void): WorkerHandle;
}

/**
 * The worker's code, shared by both platforms: `start(init, post)` instantiates the module over the
 * shared memory, reports ready and blocks in worker_main until the quit job. A trap after start
 * raises the control block's error flag (the posting thread then traps instead of waiting forever).
 * Plain JavaScript without imports: it is run from a string (eval or a blob URL).
 */
export const WORKER_BODY: string = `
const start = async ({ module, memory, ctrl, tid }, post) => {
  let running = false;
  try {
    const instance = await WebAssembly.instantiate(module, { env: { memory, abort: () => { throw new Error('wasm abort'); } } });
    post({ ready: true });
    running = true;
    instance.exports.worker_main(ctrl, tid);
    post({ exit: true });
  } catch (e) {
    if (running) {
      const i = new Int32Array(memory.buffer);
      Atomics.store(i, (ctrl + ${C_ERROR}) >>> 2, 1);
      Atomics.notify(i, (ctrl + ${C_DONE}) >>> 2);
    }
    post({ error: String((e && e.stack) || e) });
  }
};
`;

/**
 * Worker source for Node's worker_threads (also Deno's and Bun's), run with { eval: true }. It uses
 * import(), not require(): an eval worker inherits the parent's --input-type, so under
 * `node --input-type=module -e` its code is ES module code, where require does not exist.
 */
export const NODE_WORKER_SOURCE: string = `${WORKER_BODY}
import('node:worker_threads').then(({ parentPort }) =>
  parentPort.once('message', (init) => start(init, (m) => parentPort.postMessage(m)).finally(() => parentPort.close())));
`;

/** Worker source for Web Workers (browsers), loaded from a blob URL. */
export const WEB_WORKER_SOURCE: string = `${WORKER_BODY}
self.onmessage = (e) => { self.onmessage = null; start(e.data, (m) => self.postMessage(m)).finally(() => self.close()); };
`;

const READY_TIMEOUT_MS = 30_000;

export class ThreadPool {
  private constructor(private ex: Fairy2iExports, private ctrl: number, private workers: WorkerHandle[]) {}

  /** Threads including the caller's. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `threads − 1` workers over `ex`'s memory, or returns why it cannot (the caller then runs
   * on one thread). The control block at `ctrl` must be zero.
   */
  static async start(platform: ThreadPlatform, module: WebAssembly.Module, ex: Fairy2iExports, ctrl: number, threads: number): Promise<ThreadPool | string> {
    const why = platform.unavailable();
    if (why) return why;
    const memory = ex.memory;
    const i32 = new Int32Array(memory.buffer);
    i32[(ctrl + C_THREADS) >>> 2] = threads;
    i32[(ctrl + C_POSTER_BLOCKS) >>> 2] = posterMayBlock(i32, ctrl) ? 1 : 0;
    i32[(ctrl + C_MIN_WORK) >>> 2] = Math.max(0, Math.min(2 ** 31 - 1, Math.round(threadTuning.minChunkWork)));
    i32[(ctrl + C_SPIN) >>> 2] = Math.max(0, Math.min(2 ** 31 - 1, Math.round(threadTuning.spin)));
    i32[(ctrl + C_WORKER_SPIN) >>> 2] = Math.max(0, Math.min(2 ** 31 - 1, Math.round(threadTuning.workerSpin)));
    const workers: WorkerHandle[] = [];
    const ready: Promise<void>[] = [];
    const stopAll = () => {
      ex.threads_stop(ctrl);
      for (const w of workers) w.terminate();
    };
    try {
      for (let tid = 1; tid < threads; tid++) {
        let settle!: (err: string | null) => void;
        ready.push(new Promise<void>((ok, fail) => { settle = (err) => (err === null ? ok() : fail(new Error(err))); }));
        workers.push(platform.spawn({ module, memory, ctrl, tid }, (m) => {
          if ('ready' in m) settle(null);
          else if ('error' in m) settle(m.error);
        }));
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, fail) => { timer = setTimeout(() => fail(new Error(`no answer within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS); });
      try {
        await Promise.race([Promise.all(ready), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      stopAll();
      i32.fill(0, ctrl >>> 2, (ctrl + 256) >>> 2);
      const msg = e instanceof Error ? e.message : String(e);
      return `a worker thread did not start (${msg.split('\n')[0]})`;
    }
    return new ThreadPool(ex, ctrl, workers);
  }

  /** Ends the workers: the quit job wakes them out of worker_main, then they are terminated. */
  stop(): void {
    if (this.workers.length === 0) return;
    this.ex.threads_stop(this.ctrl);
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function posterMayBlock(i32: Int32Array, ctrl: number): boolean {
  try {
    Atomics.wait(i32, (ctrl + C_DONE) >>> 2, 1, 0); // the word is 0: returns "not-equal" at once
    return true;
  } catch {
    return false;
  }
}
