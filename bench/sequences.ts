// Aggregate decode tokens/s with 1, 2, 4, 8 sequences decoding together, on TinyLlama-1.1B and
// LLaMA-2-7B shaped models with random weights: ours (W2, src/node/synthetic.ts; the sequences' next-
// token steps batched into one forward pass by the Model) and, for reference, native llama.cpp
// (node-llama-cpp in this process, TQ2_0 files of the same shapes from bench/peers/gguf-llama.ts;
// its sequences' steps batched into one llama_decode: bench/peers/native.ts). Reported, not judged:
//
//   npx tsx bench/sequences.ts [--shapes tinyllama-1.1b,llama2-7b] [--engines ours,native] [--counts 1,2,4,8]
//                              [--tokens 8] [--rounds 1] [--threads N] [--out sequences]
//
// --engines defaults to ours; --threads to the cores available, the same for both engines; --out names
// the result files (bench/results/<out>.json and .md).
// Per shape: writes each engine's model to a temporary directory and loads it once; for each count N
// and round, each engine (in turn, the order alternating between rounds) prefills N different
// 8-token prompts (untimed) and then times N greedy completions of --tokens tokens run at the same
// time, measuring wall and process CPU time. Of the rounds it keeps the fastest wall and the least
// CPU: the 2 cores are shared, and what others run only ever slows a round down. Checks before it
// reports: ours' sequence 0 tokens are the same whatever ran beside it (native's are reported), and
// native's steps were each one llama_decode of all N. Prints a table per shape and writes
// bench/results/sequences.json and sequences.md.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, getPriority, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/node.ts';
import { SHAPES, writeSyntheticModel, type ShapeName } from '../src/node/synthetic.ts';
import { writeLlamaGguf } from './peers/gguf-llama.ts';
import { loadNative, nativeModule, NODE_LLAMA_CPP, promptIds, runNativeSequences } from './peers/native.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const list = <T extends string>(name: string, def: string, known: readonly string[]) => {
  const v = opt(name, def).split(',');
  for (const x of v) if (!known.includes(x)) throw new Error(`${name}: unknown ${x} (known: ${known.join(', ')})`);
  return v as T[];
};
const count = (name: string, def: string) => {
  const v = opt(name, def).split(',').map(Number);
  for (const x of v) if (!Number.isInteger(x) || x < 1) throw new Error(`${name}: ${opt(name, def)} is not a list of integers >= 1`);
  return v;
};
const shapes = list<ShapeName>('--shapes', 'tinyllama-1.1b,llama2-7b', Object.keys(SHAPES));
const engines = list<'ours' | 'native'>('--engines', 'ours', ['ours', 'native']);
const counts = count('--counts', '1,2,4,8');
const [TOKENS] = count('--tokens', '8');
const [ROUNDS] = count('--rounds', '1');
const [THREADS] = count('--threads', String(availableParallelism()));
const OUT = opt('--out', 'sequences');
if (!/^[\w.-]+$/.test(OUT)) throw new Error(`--out: ${OUT} is not a plain file name`);
const PROMPT = 8;

/** One timed run of N sequences decoding together. */
interface Run { wallMs: number; cpuMs: number; generated: number; threads: number; tokensPerPass: number; first: number[] }
interface Engine { name: string; measure(n: number): Promise<Run>; dispose(): Promise<void> | void }

async function ours(file: string, shape: ShapeName): Promise<Engine> {
  writeSyntheticModel(file, shape, 2);
  const most = Math.max(...counts);
  const model = await loadModel(file, { sequences: most, contextLength: PROMPT + TOKENS + 8, threads: THREADS });
  const seqs = Array.from({ length: most }, () => model.sequence());
  // Untimed warm-up (the engine's first calls run before the runtime's optimizing tier).
  await model.complete(promptIds(PROMPT, 99), { temperature: 0, maxTokens: 2, stopAtEos: false, sequence: seqs[0] });
  return {
    name: 'ours',
    async measure(n) {
      const prompts = Array.from({ length: n }, (_, i) => promptIds(PROMPT, i));
      prompts.forEach((p, i) => model.prefill(p, 0, false, seqs[i]));
      const before = { ...model.stats }, cpu0 = process.cpuUsage(), t0 = performance.now();
      const rs = await Promise.all(prompts.map((p, i) => model.complete(p, { temperature: 0, maxTokens: TOKENS, stopAtEos: false, sequence: seqs[i] })));
      const wallMs = performance.now() - t0, cpu = process.cpuUsage(cpu0);
      return {
        wallMs, cpuMs: (cpu.user + cpu.system) / 1000, generated: rs.reduce((a, r) => a + r.tokens.length, 0), threads: model.threads,
        tokensPerPass: (model.stats.tokens - before.tokens) / (model.stats.passes - before.passes), first: rs[0].tokens,
      };
    },
    dispose: () => model.dispose(),
  };
}

let nativeMod: any = null;
async function native(file: string, shape: ShapeName): Promise<Engine> {
  writeLlamaGguf(file, shape, 'TQ2_0');
  nativeMod ??= await nativeModule((s) => console.log(s));
  const m = await loadNative(nativeMod, file, THREADS);
  return {
    name: 'native',
    async measure(n) {
      const r = await runNativeSequences(m, { sequences: n, threads: THREADS, promptTokens: PROMPT, tokens: TOKENS });
      return { wallMs: r.wallMs, cpuMs: r.cpuMs, generated: r.generated, threads: r.threads, tokensPerPass: r.tokensPerDecode, first: r.first };
    },
    dispose: () => m.model.dispose(),
  };
}

interface Row {
  shape: ShapeName; engine: string; sequences: number; threads: number; tokens: number;
  wall_ms: number; cpu_ms: number; aggregate_tok_s: number; per_sequence_tok_s: number; vs_one: number;
  tok_per_cpu_s: number; tokens_per_pass: number; same_first_tokens: boolean;
  rounds: { wall_ms: number; cpu_ms: number; load_avg: number }[];
}

const loadBefore = loadavg();
const rows: Row[] = [];
for (const shape of shapes) {
  const tmp = mkdtempSync(join(tmpdir(), 'fairy2i-sequences-'));
  const loaded: Engine[] = [];
  try {
    for (const e of engines) loaded.push(await (e === 'ours' ? ours : native)(join(tmp, `${shape}-${e}.gguf`), shape));
    const first = new Map<string, number[]>();
    for (const n of counts) {
      const runs = new Map<string, (Run & { load: number })[]>(loaded.map((e) => [e.name, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const e of r % 2 ? [...loaded].reverse() : loaded) {
          const load = loadavg()[0];
          runs.get(e.name)!.push({ ...(await e.measure(n)), load });
        }
      }
      for (const e of loaded) {
        const rs = runs.get(e.name)!;
        const same = rs.every((x) => !first.has(e.name) || x.first.join() === first.get(e.name)!.join());
        if (!same && e.name === 'ours') throw new Error(`${shape}: ours' sequence 0 tokens changed with ${n} sequences beside it`);
        if (!first.has(e.name)) first.set(e.name, rs[0].first);
        const wall = Math.min(...rs.map((x) => x.wallMs)), cpu = Math.min(...rs.map((x) => x.cpuMs));
        const tokS = (1000 * rs[0].generated) / wall;
        const one = rows.find((x) => x.shape === shape && x.engine === e.name)?.aggregate_tok_s ?? tokS;
        const row: Row = {
          shape, engine: e.name, sequences: n, threads: rs[0].threads, tokens: TOKENS, wall_ms: wall, cpu_ms: cpu,
          aggregate_tok_s: tokS, per_sequence_tok_s: tokS / n, vs_one: tokS / one, tok_per_cpu_s: (1000 * rs[0].generated) / cpu,
          tokens_per_pass: rs[0].tokensPerPass, same_first_tokens: same, rounds: rs.map((x) => ({ wall_ms: x.wallMs, cpu_ms: x.cpuMs, load_avg: x.load })),
        };
        rows.push(row);
        console.log(`${shape} ${e.name} ${n} sequence(s), ${row.threads} thread(s): ${tokS.toFixed(2)} tok/s aggregate (×${row.vs_one.toFixed(2)} of ${counts[0]}), ${row.tok_per_cpu_s.toFixed(2)} tok per CPU-s, ${row.tokens_per_pass.toFixed(1)} tokens/pass, load ${rs.map((x) => x.load.toFixed(1)).join(' ')}`);
      }
    }
  } finally {
    for (const e of loaded) await e.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}
const loadAfter = loadavg();

/** Per shape: a row per count, per engine its aggregate tok/s, × its first count's, and tok per CPU-second. */
function table(shape: ShapeName): string {
  const rs = rows.filter((r) => r.shape === shape);
  const head = ['sequences', ...engines.flatMap((e) => [`${e} tok/s`, `${e} ×${counts[0]}`, `${e} tok/CPU-s`])];
  const lines = counts.map((n) => [String(n), ...engines.flatMap((e) => {
    const r = rs.find((x) => x.engine === e && x.sequences === n)!;
    return [r.aggregate_tok_s.toFixed(2), r.vs_one.toFixed(2), r.tok_per_cpu_s.toFixed(2)];
  })]);
  const threads = engines.map((e) => `${e} ${rs.find((x) => x.engine === e)!.threads}`).join(', ');
  return [`${shape} (threads: ${threads}; ${TOKENS} tokens per sequence; best of ${ROUNDS} round(s))`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}
const tables = shapes.map(table).join('\n\n');
console.log(`\n${tables}`);

// Native's steps are checked to be one llama_decode each (runNativeSequences throws otherwise); ours' are reported.
const unbatched = rows.filter((r) => r.tokens_per_pass !== r.sequences);
const batched = unbatched.length === 0
  ? `Every step of every row ran as one batch of all N (tokens per pass in ${OUT}.json).`
  : `Not one batch of all N in every step: ${unbatched.map((r) => `${r.shape} ${r.engine} ${r.sequences} (${r.tokens_per_pass.toFixed(2)} tokens per pass)`).join(', ')}.`;
const nice = getPriority();
const command = `${nice ? `nice -n ${nice} ` : ''}npx tsx bench/sequences.ts ${argv.join(' ')}`.trim();
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const out = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(out, { recursive: true });
const date = new Date().toISOString();
writeFileSync(join(out, `${OUT}.json`), JSON.stringify({ date, command, cpu: cpus()[0]?.model, cores: availableParallelism(), native: engines.includes('native') ? `node-llama-cpp ${NODE_LLAMA_CPP}, TQ2_0` : undefined, ours: 'W2 synthetic', tokens: TOKENS, rounds: ROUNDS, load_before: loadBefore, load_after: loadAfter, rows }, null, 2) + '\n');
writeFileSync(join(out, `${OUT}.md`), `# Sequences decoding together: aggregate decode tok/s

${date}, ${cpus()[0]?.model} (${availableParallelism()} cores, shared), Node ${process.version}.

    ${command}

Load average (1, 5, 15 min) before: ${load(loadBefore)}; after: ${load(loadAfter)}.

Models with random weights at the real shapes: ours W2${engines.includes('native') ? `, native llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP}, CPU) TQ2_0` : ''}. Each figure: N sequences
prefill their own 8-token prompts (untimed), then all N generate ${TOKENS} greedy tokens together; aggregate
tok/s = N × ${TOKENS} / the fastest wall time of ${ROUNDS} round(s) (engines interleaved); ×${counts[0]} = that ÷ the same
engine's ${counts[0]}-sequence figure; tok/CPU-s = N × ${TOKENS} / the least process CPU time (both engines run in
this process). ${batched}

${tables}
`);
