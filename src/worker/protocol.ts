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
  /** Tokens sampled after the page asked to stop, by its stop flag or its abort message (null: it did not). */
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
 * A generation's stop flag in shared memory: one Int32 whose bit 30 the page raises to stop, and whose
 * lower bits count the tokens the worker has sampled. Each side changes it with one atomic
 * read-modify-write, so the worker knows exactly which of its tokens came after the page asked (those
 * whose count saw the bit), with no clock shared between the two contexts and no race between reading
 * the count and raising the flag. (2^30 tokens in one generation would reach the bit: far beyond any
 * run.)
 */
export type StopFlag = SharedArrayBuffer;

const STOP_BIT = 1 << 30;

/** A new stop flag, or null where SharedArrayBuffer is missing (a page not cross-origin isolated). */
export function newStopFlag(): StopFlag | null {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(4) : null;
}

export function raiseStopFlag(f: StopFlag): void {
  Atomics.or(new Int32Array(f), 0, STOP_BIT);
}

export function stopFlagRaised(f: StopFlag): boolean {
  return (Atomics.load(new Int32Array(f), 0) & STOP_BIT) !== 0;
}

/** Counts one token the worker sampled; true when the page had already raised the flag. */
export function countSampledToken(f: StopFlag): boolean {
  return (Atomics.add(new Int32Array(f), 0, 1) & STOP_BIT) !== 0;
}
