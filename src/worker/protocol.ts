// The messages between a page (src/worker/client.ts) and the model's Web Worker
// (src/worker/serve.ts). Every request carries an id; the worker answers it with events for that
// id (progress, notices, generated pieces) and then exactly one `ok` or `error`. Functions and
// AbortSignals cannot cross the boundary, so callbacks become events and an abort is its own
// message naming the request; where SharedArrayBuffer exists a generation also carries a stop flag
// (below) that the worker reads before each token, so Stop does not wait for that message.

import type { ChatOptions } from '../chat.js';
import type { ModelConfig } from '../format.js';
import type { GeneratePiece, GenerateOptions, GenerateResult } from '../generate.js';
import type { KvType } from '../layout.js';
import type { CacheMode } from '../browser/model-cache.js';
import type { Precision } from '../model.js';

/** Load options that can be posted (no callbacks, no signal). */
export interface PostableLoadOptions {
  contextLength?: number;
  kvCache?: KvType | 'auto';
  threads?: number;
  precision?: Precision;
  cache?: CacheMode;
  wasm?: WebAssembly.Module | ArrayBuffer | Uint8Array;
}

export type PostableGenerateOptions = Omit<GenerateOptions, 'signal'>;

/** What the page learns about a model loaded in the worker (the in-page Model's readonly facts). */
export interface ModelFacts {
  config: ModelConfig;
  contextLength: number;
  kvType: KvType;
  memoryBytes: { weights: number; kvCache: number; scratch: number; total: number };
  threads: number;
  maxBatch: number;
  precision: Precision;
  /** Whether the file has a tokenizer (text prompts and chat need one). */
  hasTokenizer: boolean;
  /** Whether the worker is cross-origin isolated (threads need it). */
  crossOriginIsolated: boolean;
}

export type Request =
  | { id: number; op: 'load'; source: string | Blob | ArrayBuffer | Uint8Array; opts: PostableLoadOptions }
  | { id: number; op: 'generate'; prompt: string | number[]; opts: PostableGenerateOptions; stopFlag?: StopFlag }
  | { id: number; op: 'chat-open'; session: number; opts: ChatOptions }
  | { id: number; op: 'chat-send'; session: number; content: string; opts: PostableGenerateOptions; stopFlag?: StopFlag }
  | { id: number; op: 'chat-system'; session: number; text: string }
  | { id: number; op: 'chat-reset'; session: number }
  | { id: number; op: 'chat-messages'; session: number }
  | { id: number; op: 'tokenize'; text: string; addBos?: boolean }
  | { id: number; op: 'detokenize'; ids: number[] }
  | { id: number; op: 'abort'; target: number; sentAt: number };

/** A thrown error, as plain data (rebuilt as the same class on the page). */
export interface PostedError {
  name: string;
  message: string;
  code?: string;
}

/** A generation's end: the result, and how many tokens came after the page sent an abort. */
export interface GenerateDone {
  result: GenerateResult;
  /** Tokens generated after the page posted the abort (null: not aborted by message). */
  tokensAfterAbort: number | null;
}

export type Reply =
  | { id: number; progress: { loaded: number; total: number } }
  | { id: number; notice: string }
  | { id: number; piece: GeneratePiece }
  | { id: number; ok: unknown }
  | { id: number; error: PostedError };

/** Milliseconds on a clock the page and its workers share (each context's timeOrigin differs). */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A generation's stop flag in shared memory: Int32 [0] is 1 once the page asked to stop, Float64 [1]
 * the wallClock() time it asked. The page writes the time, then the flag with Atomics.store; a
 * worker that sees the flag with Atomics.load also sees the time (the store and load synchronize).
 */
export type StopFlag = SharedArrayBuffer;

/** A new stop flag, or null where SharedArrayBuffer is missing (a page not cross-origin isolated). */
export function newStopFlag(): StopFlag | null {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(16) : null;
}

export function raiseStopFlag(f: StopFlag, sentAt: number): void {
  new Float64Array(f, 8, 1)[0] = sentAt;
  Atomics.store(new Int32Array(f, 0, 1), 0, 1);
}

/** When the page raised the flag (wallClock ms), or null while it is down. */
export function stopFlagRaisedAt(f: StopFlag): number | null {
  return Atomics.load(new Int32Array(f, 0, 1), 0) === 1 ? new Float64Array(f, 8, 1)[0] : null;
}
