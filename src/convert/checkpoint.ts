// What `convert` needs from any source checkpoint: the hyper-parameters, the tokenizer, and each
// tensor as float32 in the Hugging Face LLaMA layout (q/k rows in rotate_half order), one at a time.

import type { LinearKind, ModelConfig } from '../format.js';
import type { TokenizerVocab } from '../tokenizer.js';

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
  /** Every file this checkpoint reads (convert refuses to write over any of them). */
  inputs: string[];
  /** Storage type of the linear weights (layer 0's q_proj): picks the default quantizer arithmetic. */
  linearDtype: 'F32' | 'F16' | 'BF16';
  /** Makes the next read(role) not block: a remote checkpoint (src/hub) fetches the tensor's bytes. */
  prefetch?(role: TensorRole): Promise<void>;
  /** Bytes of source data, for progress. */
  totalBytes: number;
  close(): void;
}
