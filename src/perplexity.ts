// Perplexity with the Fairy2i paper's protocol (the authors' eval_ppl.py): documents are the text's
// non-empty lines, each tokenized without BOS and followed by EOS; documents that cannot fit in a
// window are skipped; a window starts with BOS and takes whole documents while they fit in `ctx`
// tokens; each window is evaluated from scratch; the loss sums the NLL of positions 1..L−1 except
// those whose previous token is EOS, while the count is L−1 per window (masked positions included,
// as theirs); PPL = exp(loss / count).

import { Fairy2iError } from './errors.js';
import type { Model } from './model.js';

export interface PerplexityResult {
  ppl: number;
  loss: number;
  count: number;
  windows: number;
  documents: number;
  skippedDocuments: number;
  tokens: number;
  seconds: number;
}

export function packWindows(docs: number[][], ctx: number, bos: number): { windows: number[][]; skipped: number } {
  const windows: number[][] = [];
  let cur: number[] = [bos];
  let skipped = 0;
  for (const d of docs) {
    if (d.length + 1 > ctx) { skipped++; continue; }
    if (cur.length + d.length > ctx) { windows.push(cur); cur = [bos]; }
    cur.push(...d);
  }
  if (cur.length > 1) windows.push(cur);
  return { windows, skipped };
}

/** Sum of NLL over positions 1..L−1 of one window, skipping targets right after EOS. */
export function windowLoss(logits: Float32Array, window: number[], vocab: number, eos: number): number {
  let loss = 0;
  for (let t = 1; t < window.length; t++) {
    if (window[t - 1] === eos) continue;
    const row = logits.subarray((t - 1) * vocab, t * vocab);
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (row[i] > max) max = row[i];
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(row[i] - max);
    loss += Math.log(sum) + max - row[window[t]];
  }
  return loss;
}

export function perplexity(model: Model, text: string, opts: { ctx?: number; onWindow?: (done: number, total: number) => void } = {}): PerplexityResult {
  const t0 = Date.now();
  const tok = model.tokenizer!;
  const ctx = Math.min(opts.ctx ?? model.contextLength, model.contextLength);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const docs = lines.map((l) => [...tok.encode(l, { addBos: false, addEos: false }), tok.eosId]);
  const { windows, skipped } = packWindows(docs, ctx, tok.bosId);
  let loss = 0, count = 0, tokens = 0;
  windows.forEach((w, i) => {
    const logits = model.evaluate(w, 0);
    loss += windowLoss(logits, w, model.config.vocabSize, tok.eosId);
    count += w.length - 1;
    tokens += w.length;
    opts.onWindow?.(i + 1, windows.length);
  });
  if (count === 0) {
    throw new Fairy2iError('input', lines.length === 0
      ? 'the text has no non-empty line, so there is nothing to predict'
      : `none of the ${docs.length} documents (lines) fits in a window of ${ctx} tokens with BOS, so there is nothing to predict (use a larger --ctx or shorter lines)`);
  }
  const ppl = Math.exp(loss / count);
  if (!Number.isFinite(ppl)) throw new Fairy2iError('format', `perplexity is ${ppl} (loss ${loss} over ${count} tokens): the model's predictions overflowed`);
  return { ppl, loss, count, windows: windows.length, documents: docs.length - skipped, skippedDocuments: skipped, tokens, seconds: (Date.now() - t0) / 1000 };
}
