// The check that a forward pass did not overflow. Weights that are finite but huge (a source with
// values near 3e38) make activations overflow to Inf and then NaN; every logit is NaN and sampling
// would return token 0 (or the last) as if it were an answer. Only what is read out is checked (the
// row being sampled, the rows evaluate returns): a pass over V floats per token, negligible next
// to the forward pass that made them.

import { Fairy2iError } from './errors.js';

/**
 * Returns `logits` ([rows × vocab], row r at position firstPos + r) when every value is finite;
 * otherwise a 'format' error naming the model, the position and the token id.
 */
export function checkLogits(logits: Float32Array, vocab: number, firstPos: number, model: string): Float32Array {
  // x * 0 is 0 for every finite x and NaN for ±Inf and NaN, so one sum finds any.
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += logits[i] * 0;
  if (z === 0) return logits;
  let i = 0;
  while (Number.isFinite(logits[i])) i++;
  const pos = firstPos + Math.floor(i / vocab);
  throw new Fairy2iError('format', `${model || 'the model'}: the logit of token ${i % vocab} at position ${pos} is ${logits[i]}: the forward pass overflowed float32 (the weights are too large or damaged), so no token can be chosen`);
}
