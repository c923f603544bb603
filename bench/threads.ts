// Threads and batched prefill at LLaMA-2-7B shape (W2: dim 4096, 32 layers, FFN 11008, vocab 32000,
// random codes; src/node/synthetic.ts), reported, not judged:
//
//   npx tsx bench/threads.ts [--model FILE] [--threads 1,2] [--prompt 64] [--decode 6] [--keep]
//
// 1. Writes the synthetic model to a temporary directory (~2.2 GB), unless --model is given.
// 2. Checks before it times: the logits of one token on every thread count equal those of 1 thread
//    bit for bit, and a batched prefill's last logits equal token-by-token decode within 1e-4 of
//    max |logit| with the same arg-max.
// 3. Per thread count: decode tok/s (model.step after a short prompt, `--decode` tokens), and batched
//    prefill tok/s (model.prefill of `--prompt` tokens, batches of up to 64) from an empty cache.
// 4. Prints a table and writes bench/results/threads-7b.json (with the machine's load average: the
//    numbers are only as good as the machine was idle).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/node.ts';
import { writeSyntheticModel } from '../src/node/synthetic.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const threadCounts = opt('--threads', '1,2').split(',').map(Number);
const PROMPT = Number(opt('--prompt', '64'));
const DECODE = Number(opt('--decode', '6'));
const MAX_REL = 1e-4;

let file = opt('--model', '');
let tmp: string | null = null;
if (!file) {
  tmp = mkdtempSync(join(tmpdir(), 'fairy2i-threads-'));
  file = join(tmp, 'llama2-7b-w2.gguf');
  const t0 = performance.now();
  writeSyntheticModel(file, 'llama2-7b', 2);
  console.log(`wrote ${file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % 31990));
const ctx = PROMPT + DECODE + 16;
const results: Record<string, unknown>[] = [];
try {
  let reference: Float32Array | null = null;
  for (const threads of threadCounts) {
    const model = await loadModel(file, { contextLength: ctx, threads });
    try {
      if (model.threads !== threads) throw new Error(`asked for ${threads} threads, got ${model.threads}`);
      // Check: one token's logits, bit for bit against 1 thread.
      const first = model.step(ids(1, 3)[0], 0)!;
      if (!reference) reference = first;
      else if (!first.every((v, i) => Object.is(v, reference![i]))) throw new Error(`${threads} threads: logits differ from the first run's`);
      // Check: batched prefill vs decode on a few tokens (positions 0..3).
      const few = ids(4, 5);
      let stepped: Float32Array = new Float32Array(0);
      for (let t = 0; t < few.length; t++) stepped = model.step(few[t], t)!;
      const batched = model.prefill(few, 0)!;
      let maxAbs = 0, worst = 0, a = 0, b = 0;
      for (let i = 0; i < stepped.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(stepped[i]));
        worst = Math.max(worst, Math.abs(batched[i] - stepped[i]));
        if (stepped[i] > stepped[a]) a = i;
        if (batched[i] > batched[b]) b = i;
      }
      if (!(worst <= MAX_REL * maxAbs) || a !== b) throw new Error(`${threads} threads: batched prefill differs from decode: |Δ| ${worst} vs max ${maxAbs}, arg-max ${b} vs ${a}`);

      // Decode: after a 4-token prompt, DECODE tokens one at a time.
      const loadBefore = loadavg()[0];
      let t0 = performance.now();
      let tok = few[few.length - 1];
      for (let i = 0; i < DECODE; i++) {
        const l = model.step(tok, few.length + i)!;
        tok = l.indexOf(Math.max(...l));
      }
      const decodeMs = performance.now() - t0;
      // Prefill: PROMPT tokens from an empty cache, in batches.
      t0 = performance.now();
      model.prefill(ids(PROMPT, 7), 0);
      const prefillMs = performance.now() - t0;
      const r = {
        threads, decode_tok_s: (1000 * DECODE) / decodeMs, prefill_tok_s: (1000 * PROMPT) / prefillMs,
        decode_tokens: DECODE, prefill_tokens: PROMPT, max_batch: model.maxBatch, load_avg_1min: [loadBefore, loadavg()[0]],
      };
      results.push(r);
      console.log(`${threads} thread(s): decode ${r.decode_tok_s.toFixed(3)} tok/s, prefill ${r.prefill_tok_s.toFixed(3)} tok/s (${(r.prefill_tok_s / r.decode_tok_s).toFixed(2)}× decode); load average ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
    } finally {
      model.dispose();
    }
  }
  const one = results.find((r) => r.threads === 1) as { decode_tok_s: number } | undefined;
  const two = results.find((r) => r.threads === 2) as { decode_tok_s: number } | undefined;
  if (one && two) console.log(`decode scaling, 2 threads vs 1: ${(two.decode_tok_s / one.decode_tok_s).toFixed(2)}×`);
  const out = fileURLToPath(new URL('results/threads-7b.json', import.meta.url));
  mkdirSync(fileURLToPath(new URL('results/', import.meta.url)), { recursive: true });
  writeFileSync(out, JSON.stringify({ shape: 'llama2-7b', stages: 2, cpus: cpus().length, cpu: cpus()[0]?.model, date: new Date().toISOString(), results }, null, 1) + '\n');
  console.log(`wrote ${out}`);
} finally {
  if (tmp && !argv.includes('--keep')) rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${file}`);
}
