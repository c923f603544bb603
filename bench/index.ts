// `npm run bench`: decode and prefill tokens/s of synthetic TinyLlama-1.1B and LLaMA-2-7B shaped
// models (random codes) at W2 and W1, with 1 thread and with all cores, each in its own process so
// peak memory is per run, and each on both engine builds back to back (the relaxed-SIMD one under
// Node 20 with V8's flag); prints a table and writes bench/results/bench.json. Precision 'fast'.
// Options: --shapes tinyllama-1.1b,llama2-7b  --stages 2,1  --threads 1,2  --wasm simd128,relaxed  --quick
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { relaxedSimdSupported } from '../src/wasm.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const quick = process.argv.includes('--quick');
const shapes = arg('shapes', 'tinyllama-1.1b,llama2-7b').split(',');
const stages = arg('stages', '2,1').split(',');
const threads = arg('threads', [...new Set([1, availableParallelism()])].join(',')).split(',');
const builds = arg('wasm', 'simd128,relaxed').split(',');
const relaxedFlag = relaxedSimdSupported() ? [] : ['--experimental-wasm-relaxed-simd'];
const hasThreads = /--threads/.test(spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'bench', '--help'], { encoding: 'utf8' }).stdout);

const rows: Record<string, unknown>[] = [];
for (const shape of shapes) for (const s of stages) for (const t of hasThreads ? threads : ['1']) for (const w of builds) {
  const args = [...(w === 'relaxed' ? relaxedFlag : []), 'bin/fairy2i-wasm.js', 'bench', '--shape', shape, '--stages', s, '--json', '--wasm', w, ...(hasThreads ? ['--threads', t] : [])];
  if (quick) args.push('--prompt', '64', '--decode-prompt', '16', '--generate', '8');
  process.stderr.write(`${shape} W${s} ${t} thread(s) ${w} ... `);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) { process.stderr.write(`failed:\n${r.stderr}\n`); continue; }
  const row = { shape, stages: Number(s), ...JSON.parse(r.stdout.trim().split('\n').pop()!) };
  process.stderr.write(`decode ${row.decode_tok_s.toFixed(2)} tok/s\n`);
  rows.push(row);
}

const fmt = (x: number, d = 1) => x.toFixed(d).padStart(8);
console.log('shape            W  thr  build     prefill tok/s  decode tok/s  roofline tok/s  of roofline  bandwidth GB/s  peak RSS MB');
for (const r of rows as any[]) {
  console.log(`${r.shape.padEnd(16)} ${r.stages}  ${String(r.threads).padStart(3)}  ${String(r.wasm).padEnd(8)}  ${fmt(r.prefill_tok_s)}       ${fmt(r.decode_tok_s, 2)}      ${fmt(r.roofline_tok_s)}      ${fmt(100 * r.roofline_fraction)} %    ${fmt(r.bandwidth_gb_s)}       ${fmt(r.peak_rss_mb, 0)}`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/bench.json', JSON.stringify({ date: new Date().toISOString(), quick, rows }, null, 1) + '\n');
