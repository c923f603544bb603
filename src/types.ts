// The public types, in one module: both entries (src/node.ts, src/browser.ts) re-export all of it, so
// a TypeScript user sees the same names whichever entry a resolver picks. Types with an
// implementation elsewhere are re-exported from their module; those without one are declared here.

import type { ModelLoadOptions } from './model.js';
import type { WasmInput } from './wasm.js';

export type { ModelLoadOptions, LoadProgress, Precision } from './model.js';
export type { GenerateOptions, GenerateResult, GeneratePiece, GenerationStream, StopReason } from './generate.js';
export type { ChatSession, ChatOptions, ChatMessage, ChatFormat } from './chat.js';
export type { SamplingOptions } from './sampler.js';
export type { EncodeOptions, DecodeOptions, StreamDecoder, TokenizerVocab } from './tokenizer.js';
export type { ModelConfig } from './format.js';
export type { KvType } from './layout.js';
export type { Sequence } from './sequence.js';
export type { Fairy2iErrorCode } from './errors.js';
export type { WasmInput } from './wasm.js';

/** What loadModel reads a model from: a path or URL (Node), a URL (browsers), bytes or a Response. */
export type ModelSource = string | URL | ArrayBuffer | Uint8Array | Response;

export interface LoadOptions extends ModelLoadOptions {
  /** The engine's wasm: a compiled module or its bytes. @default build/fairy2i.wasm of this package */
  wasm?: WasmInput;
}
