// Aggregate decode tokens/s with 1, 2, 4, 8 sequences decoding together (their next-token steps
// batched into one forward pass by the Model), on synthetic TinyLlama-1.1B and LLaMA-2-7B shaped W2
// models (random codes; src/node/synthetic.ts). Reported, not judged:
//
//   npx tsx bench/sequences.ts [--shapes tinyllama-1.1b,llama2-7b] [--counts 1,2,4,8] [--tokens 8] [--threads N]
//
// Per shape: writes the model to a temporary directory, loads it once with 8 sequences, and for each
// count N: prefills N different 8-token prompts (untimed), then times N greedy completions of
// --tokens tokens run at the same time (Promise.all). Checks before it reports: sequence 0's tokens
// are the same whatever ran beside it. Prints a table and writes bench/results/sequences.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/node.ts';
import { writeSyntheticModel, type ShapeName } from '../src/node/synthetic.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const shapes = opt('--shapes', 'tinyllama-1.1b,llama2-7b').split(',') as ShapeName[];
const counts = opt('--counts', '1,2,4,8').split(',').map(Number);
const TOKENS = Number(opt('--tokens', '8'));
const threads = argv.includes('--threads') ? Number(opt('--threads', '1')) : undefined;
const PROMPT = 8;

const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % 31990));
const rows: Record<string, unknown>[] = [];
for (const shape of shapes) {
  const tmp = mkdtempSync(join(tmpdir(), 'fairy2i-sequences-'));
  try {
    const file = join(tmp, `${shape}-w2.gguf`);
    writeSyntheticModel(file, shape, 2);
    const most = Math.max(...counts);
    const model = await loadModel(file, { sequences: most, contextLength: PROMPT + TOKENS + 8, threads });
    try {
      const seqs = Array.from({ length: most }, () => model.sequence());
      // Untimed warm-up (the engine's first calls run before the runtime's optimizing tier).
      await model.complete(ids(PROMPT, 99), { temperature: 0, maxTokens: 2, stopAtEos: false, sequence: seqs[0] });
      let first: number[] | null = null;
      let base = 0;
      for (const n of counts) {
        const prompts = Array.from({ length: n }, (_, i) => ids(PROMPT, i));
        prompts.forEach((p, i) => model.prefill(p, 0, false, seqs[i]));
        const before = { ...model.stats }, load = loadavg()[0];
        const t0 = performance.now();
        const rs = await Promise.all(prompts.map((p, i) => model.complete(p, { temperature: 0, maxTokens: TOKENS, stopAtEos: false, sequence: seqs[i] })));
        const ms = performance.now() - t0;
        if (!first) first = rs[0].tokens;
        else if (rs[0].tokens.join() !== first.join()) throw new Error(`${shape}: sequence 0's tokens changed with ${n} sequences beside it`);
        const generated = rs.reduce((a, r) => a + r.tokens.length, 0);
        const tokS = (1000 * generated) / ms;
        if (n === counts[0]) base = tokS;
        const passes = model.stats.passes - before.passes;
        const row = { shape, sequences: n, threads: model.threads, aggregate_tok_s: tokS, per_sequence_tok_s: tokS / n, vs_one: tokS / base, tokens_per_pass: (model.stats.tokens - before.tokens) / passes, load_avg: load };
        rows.push(row);
        console.log(`${shape} ${n} sequence(s), ${model.threads} thread(s): ${tokS.toFixed(2)} tok/s aggregate (${(tokS / n).toFixed(2)} each, ×${(tokS / base).toFixed(2)} of one), ${row.tokens_per_pass.toFixed(1)} tokens/pass, load ${load.toFixed(1)}`);
      }
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
const out = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'sequences.json'), JSON.stringify({ date: new Date().toISOString(), tokens: TOKENS, rows }, null, 2) + '\n');
console.table(rows.map((r) => ({ ...r, aggregate_tok_s: Number((r.aggregate_tok_s as number).toFixed(2)), vs_one: Number((r.vs_one as number).toFixed(2)) })));
