// What `convert` needs from any source checkpoint: the hyper-parameters, the tokenizer, and each
// tensor as float32 in the Hugging Face LLaMA layout (q/k rows in rotate_half order), one at a time.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Fairy2iError } from '../errors.js';
import type { LinearKind, ModelConfig } from '../format.js';
import type { TokenizerVocab } from '../tokenizer.js';
import { openHfCheckpoint } from './checkpoint-hf.js';
import { openLlama2cCheckpoint } from './checkpoint-llama2c.js';

/** The source's hyper-parameters: the model config's shape fields, plus whether lm_head is tied. */
export type Hyper = Pick<ModelConfig, 'name' | 'contextLength' | 'dim' | 'nLayers' | 'ffnDim' | 'nHeads' | 'nKvHeads' | 'headDim' | 'rmsEps' | 'ropeTheta' | 'vocabSize'> & {
  tied: boolean;
};

export type TensorRole =
  | { kind: 'embedding' }
  | { kind: 'norm'; layer: number | null; which: 'attn_norm' | 'ffn_norm' | 'output_norm' }
  | { kind: 'linear'; layer: number | null; linear: LinearKind | 'output' };

export interface Checkpoint {
  format: 'hf-safetensors' | 'llama2c';
  hyper: Hyper;
  /** null when the source has no tokenizer (the file then only takes token ids). */
  vocab: TokenizerVocab | null;
  /** Checks that every tensor exists with the right shape, without reading data. */
  validate(): void;
  /** Float32 data, row-major (out, in) for linears; throws FormatError on NaN/Inf. */
  read(role: TensorRole): Float32Array;
  /** Bytes of source data, for progress. */
  totalBytes: number;
  close(): void;
}

export function openCheckpoint(input: string, opts: { tokenizer?: string } = {}): Checkpoint {
  if (!existsSync(input)) throw new Fairy2iError('input', `${input}: no such file or directory`);
  const st = statSync(input);
  if (st.isDirectory()) {
    if (existsSync(join(input, 'config.json'))) return openHfCheckpoint(input);
    if (existsSync(join(input, 'model.bin'))) return openLlama2cCheckpoint(join(input, 'model.bin'), opts.tokenizer);
    throw new Fairy2iError('input', `${input}: not a checkpoint directory (expected config.json with *.safetensors, or a llama2.c model.bin)`);
  }
  if (input.endsWith('.bin')) return openLlama2cCheckpoint(input, opts.tokenizer);
  throw new Fairy2iError('input', `${input}: not a checkpoint (expected a Hugging Face directory or a llama2.c .bin file)`);
}

/** HF's q/k permutation from Meta's interleaved RoPE rows: row h·d + i·d/2 + t ← h·d + 2t + i. */
export function permuteRotary(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < half; t++) {
      for (let i = 0; i < 2; i++) {
        const dst = h * headDim + i * half + t, src = h * headDim + 2 * t + i;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}
