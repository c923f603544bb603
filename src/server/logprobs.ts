// Log-probabilities of sampled tokens, from the logits they were drawn from before penalties and
// temperature (the model's own distribution, as OpenAI reports it), in the two shapes OpenAI uses:
// chat's `logprobs.content[]` and completions' parallel arrays.

import { TokenType, type Tokenizer } from '../tokenizer.js';

export interface TokenLogprob {
  id: number;
  logprob: number;
  /** The `top` most likely tokens at that position, most likely first. */
  top: { id: number; logprob: number }[];
}

/** log softmax at `id` and the `top` best alternatives (float64 sums over the f32 logits). */
export function tokenLogprob(logits: Float32Array, id: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    // Insertion into a short sorted list: top ≤ 20, one pass over the vocabulary.
    for (let i = 0; i < logits.length; i++) {
      if (best.length === top && logits[i] <= logits[best[top - 1]]) continue;
      let j = Math.min(best.length, top - 1);
      best[j] = i;
      while (j > 0 && logits[best[j - 1]] < logits[i]) { best[j] = best[j - 1]; j--; }
      best[j] = i;
    }
  }
  return { id, logprob: logits[id] - lse, top: best.map((b) => ({ id: b, logprob: logits[b] - lse })) };
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/** The UTF-8 bytes a token stands for (a byte piece: its one byte; a control token: its piece text). */
export function tokenBytes(tok: Tokenizer | null, id: number): number[] {
  if (!tok) return Array.from(utf8.encode(`<${id}>`));
  const piece = tok.piece(id);
  const m = tok.vocab.types[id] === TokenType.BYTE ? BYTE_PIECE.exec(piece) : null;
  return m ? [parseInt(m[1], 16)] : Array.from(utf8.encode(piece.replaceAll('\u2581', ' ')));
}

export function tokenText(tok: Tokenizer | null, id: number): string {
  return new TextDecoder().decode(new Uint8Array(tokenBytes(tok, id)));
}

/** Chat's `choices[].logprobs.content` entries. */
export function chatLogprobs(tok: Tokenizer | null, lps: TokenLogprob[]) {
  const entry = (id: number, logprob: number) => ({ token: tokenText(tok, id), logprob, bytes: tokenBytes(tok, id) });
  return lps.map((l) => ({ ...entry(l.id, l.logprob), top_logprobs: l.top.map((t) => entry(t.id, t.logprob)) }));
}

/** Completions' `choices[].logprobs`; `offset` is where this piece's text starts in the whole text. */
export function completionLogprobs(tok: Tokenizer | null, lps: TokenLogprob[], offset: number) {
  const tokens = lps.map((l) => tokenText(tok, l.id));
  const text_offset: number[] = [];
  for (const t of tokens) { text_offset.push(offset); offset += t.length; }
  return {
    tokens,
    token_logprobs: lps.map((l) => l.logprob),
    top_logprobs: lps.map((l) => Object.fromEntries(l.top.map((t) => [tokenText(tok, t.id), t.logprob]))),
    text_offset,
  };
}
