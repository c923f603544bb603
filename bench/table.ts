// The paper's table in miniature: held-out perplexity (the engine's own `ppl`, in WebAssembly) and
// tokens/s of the bundled model's variants. Needs the checkpoints of `train/train.py all` in
// train/out/. Converts each with the project's own `convert`, then runs `ppl` and `bench` through
// the CLI; prints a markdown table and writes bench/results/table.json. With --install, also copies
// the QAT W2 file to models/default.gguf and the held-out text to models/heldout.txt.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OUT = 'train/out';
const HELDOUT = 'train/heldout.txt';
const VARIANTS = [
  { name: 'Float (FP pre-training)', ckpt: 'hf-fp', stages: 0, bits: '16 (f16)' },
  { name: 'PTQ W2 (V2 on the float model, no training)', ckpt: 'hf-fp', stages: 2, bits: '2' },
  { name: 'QAT W2 (Fairy2i-W2) — the bundled model', ckpt: 'hf-qat-w2', stages: 2, bits: '2', bundled: true },
  { name: 'PTQ W1 (V1 on the float model)', ckpt: 'hf-fp', stages: 1, bits: '1' },
  { name: 'QAT W1 (Fairy2i-W1)', ckpt: 'hf-qat-w1', stages: 1, bits: '1' },
  { name: 'QAT ternary (real-valued, BitNet b1.58-style)', ckpt: 'hf-ternary', stages: 0, bits: '1.58 (stored f16)' },
];

const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`fairy2i-wasm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const tmp = mkdtempSync(join(tmpdir(), 'fairy2i-table-'));
const rows: any[] = [];
try {
  for (const v of VARIANTS) {
    const src = join(OUT, v.ckpt);
    if (!existsSync(src)) {
      if (v.ckpt === 'hf-fp' || v.bundled) { console.error(`missing ${src}: run train/train.py all first`); process.exit(1); }
      console.error(`skipping ${v.name}: ${src} was not trained`);
      continue;
    }
    const file = join(tmp, `${v.ckpt}-s${v.stages}.gguf`);
    cli(['convert', src, '-o', file, '--stages', String(v.stages), '--float', 'f16', '--quiet']);
    const ppl = JSON.parse(cli(['ppl', '-m', file, HELDOUT, '--precision', 'exact', '--json']));
    const bench = JSON.parse(cli(['bench', '-m', file, '--prompt', '255', '--decode-prompt', '64', '--generate', '128', '--json']));
    rows.push({ ...v, file_mb: statSync(file).size / 1e6, ppl: ppl.ppl, count: ppl.count, windows: ppl.windows, decode_tok_s: bench.decode_tok_s, prefill_tok_s: bench.prefill_tok_s });
    console.error(`${v.name}: ppl ${ppl.ppl.toFixed(3)}`);
    if (v.bundled && process.argv.includes('--install')) {
      mkdirSync('models', { recursive: true });
      copyFileSync(file, 'models/default.gguf');
      copyFileSync(HELDOUT, 'models/heldout.txt');
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

console.log('| model | bits / linear weight | file MB | held-out PPL | decode tok/s | prefill tok/s |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.bits} | ${r.file_mb.toFixed(2)} | ${r.ppl.toFixed(2)} | ${r.decode_tok_s.toFixed(0)} | ${r.prefill_tok_s.toFixed(0)} |`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/table.json', JSON.stringify({ date: new Date().toISOString(), heldout: HELDOUT, tokens_scored: rows[0]?.count, rows }, null, 1) + '\n');
