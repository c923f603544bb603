// The per-token cost outside the forward pass: decode ms/token of a bare model.step() loop against
// model.complete() (greedy, and default sampling) and the streaming generate() iterator, on a
// synthetic TinyLlama-1.1B shaped W2 model (random codes; src/node/synthetic.ts), one process,
// interleaved rounds so load changes hit every variant alike. Then the host-side pieces alone, on
// vocab-sized logits: the sampler (greedy and default), the finite check, the copy out of wasm
// memory and one event-loop yield. Reported, not judged:
//
//   npx tsx bench/per-token.ts [--tokens 16] [--rounds 3] [--threads 1] [--shape tinyllama-1.1b] [--baseline DIR]
//
// --baseline DIR: also the same variants on another version's host code, loaded beside this one in
// the same process, rounds interleaved (DIR holds its src/; build/ and node_modules/ may be links
// to this checkout's), e.g. before/after a change:
//   rm -rf /tmp/base && mkdir /tmp/base && git archive main src | tar -x -C /tmp/base &&
//   ln -s $PWD/build $PWD/node_modules /tmp/base/ && npx tsx bench/per-token.ts --baseline /tmp/base
//
// Each variant starts from the same prefilled 8-token prompt (complete reuses it and evaluates only
// its last token), so every variant runs the same number of one-token passes. Checks before it
// reports: the greedy step loop and greedy complete give the same tokens.

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSyntheticModel, type ShapeName } from '../src/node/synthetic.ts';
import { argmax } from '../src/sampler.ts';
import { checkLogits } from '../src/finite-logits.ts';
import { yieldToEventLoop } from '../src/batcher.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const shape = opt('--shape', 'tinyllama-1.1b') as ShapeName;
const TOKENS = Number(opt('--tokens', '16'));
const ROUNDS = Number(opt('--rounds', '3'));
const threads = Number(opt('--threads', '1'));
const baseline = argv.includes('--baseline') ? opt('--baseline', '') : null;
const PROMPT = Array.from({ length: 8 }, (_, i) => 3 + ((i * 7919) % 31990));

/** ms per call of f, over `n` calls after a few untimed ones. */
async function perCall(n: number, f: () => unknown): Promise<number> {
  for (let i = 0; i < 20; i++) await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

const tmp = mkdtempSync(join(tmpdir(), 'fairy2i-per-token-'));
try {
  const file = join(tmp, `${shape}-w2.gguf`);
  writeSyntheticModel(file, shape, 2);
  type Host = { node: typeof import('../src/node.ts'); sampler: typeof import('../src/sampler.ts') };
  const hosts: [string, Host][] = [['this', { node: await import('../src/node.ts'), sampler: await import('../src/sampler.ts') }]];
  if (baseline) {
    const at = (f: string) => pathToFileURL(join(baseline, 'src', f)).href;
    hosts.push(['baseline', { node: await import(at('node.ts')), sampler: await import(at('sampler.ts')) }]);
  }
  const models = await Promise.all(hosts.map(([, h]) => h.node.loadModel(file, { contextLength: PROMPT.length + TOKENS + 8, threads, precision: 'fast' })));
  try {
    const ms: Record<string, number[]> = {}, outside: Record<string, number[]> = {};
    const runs: [string, () => Promise<number[]>, () => number][] = [];
    models.forEach((model, h) => {
      // Time inside the forward pass (wasm plus the copy and check of its logits), so what a
      // variant spends outside it is measured apart from the kernels' noise on a shared machine.
      let inPass = 0;
      const m = model as unknown as { forwardPass: (...a: unknown[]) => unknown };
      const pass = m.forwardPass.bind(model);
      m.forwardPass = (...a: unknown[]) => { const t = performance.now(); try { return pass(...a); } finally { inPass += performance.now() - t; } };
      const variants: Record<string, () => Promise<number[]>> = {
        'step loop (argmax)': async () => {
          // The prompt's last token is run again, as complete does with a prompt the cache holds.
          const toks: number[] = [];
          let logits = model.step(PROMPT[PROMPT.length - 1], PROMPT.length - 1)!;
          for (let i = 0; i < TOKENS; i++) {
            const t = argmax(logits);
            toks.push(t);
            if (i < TOKENS - 1) logits = model.step(t, PROMPT.length + i)!;
          }
          return toks;
        },
        'complete greedy': async () => (await model.complete(PROMPT, { temperature: 0, maxTokens: TOKENS, stopAtEos: false })).tokens,
        'complete default sampling': async () => (await model.complete(PROMPT, { seed: 1, maxTokens: TOKENS, stopAtEos: false })).tokens,
        'complete topK 0': async () => (await model.complete(PROMPT, { seed: 1, topK: 0, maxTokens: TOKENS, stopAtEos: false })).tokens,
        'generate stream (default)': async () => {
          const s = model.generate(PROMPT, { seed: 1, maxTokens: TOKENS, stopAtEos: false });
          for await (const _ of s) { /* consume pieces as a user prints them */ }
          return (await s.result).tokens;
        },
      };
      for (const [name, run] of Object.entries(variants)) {
        const label = `${hosts[h][0]}: ${name}`;
        ms[label] = [];
        outside[label] = [];
        runs.push([label, async () => { model.prefill(PROMPT, 0, false); return run(); }, () => inPass]);
      }
    });
    for (const [, run] of runs) await run(); // untimed warm-up
    const loads: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      loads.push(loadavg()[0]);
      const got: Record<string, number[]> = {};
      for (const [label, run, inPass] of runs) {
        const t0 = performance.now(), p0 = inPass();
        got[label] = await run();
        const wall = performance.now() - t0;
        ms[label].push(wall / TOKENS);
        outside[label].push((wall - (inPass() - p0)) / TOKENS);
        if (got[label].length !== TOKENS) throw new Error(`${label}: ${got[label].length} tokens, expected ${TOKENS}`);
      }
      // The same tokens whatever the host code: greedy everywhere, and each seeded variant across hosts.
      for (const [label] of runs) {
        const [host, name] = label.split(': ');
        const same = name === 'complete greedy' ? `${host}: step loop (argmax)` : `this: ${name}`;
        if (got[label].join() !== got[same].join()) throw new Error(`${label} and ${same} gave different tokens`);
      }
    }
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    console.log(`${shape} W2, precision fast, ${models[0].threads} thread(s), ${TOKENS} tokens x ${ROUNDS} interleaved rounds, load ${loads.map((l) => l.toFixed(1)).join('/')}`);
    console.log('  ms/token: wall median (each round) | outside the forward pass, median');
    for (const [label, a] of Object.entries(ms)) {
      console.log(`  ${label.padEnd(37)} ${median(a).toFixed(2).padStart(8)} (${a.map((x) => x.toFixed(1)).join(' ')}) | ${median(outside[label]).toFixed(3).padStart(7)}`);
    }

    // The host-side pieces alone, on logits of the real vocabulary size.
    const V = models[0].config.vocabSize;
    const logits = models[0].step(PROMPT[0], 0)!;
    const history = PROMPT.slice();
    const pieces: Record<string, number> = {};
    for (const [host, h] of hosts) {
      const greedy = new h.sampler.Sampler({ temperature: 0 }), sampling = new h.sampler.Sampler({ seed: 1 }), full = new h.sampler.Sampler({ seed: 1, topK: 0 });
      pieces[`${host}: sampler greedy`] = await perCall(200, () => greedy.sample(logits.slice(), history));
      pieces[`${host}: sampler default (top-k 40)`] = await perCall(200, () => sampling.sample(logits.slice(), history));
      pieces[`${host}: sampler topK 0 (all ids)`] = await perCall(50, () => full.sample(logits.slice(), history));
    }
    pieces['logits.slice (copy)'] = await perCall(200, () => logits.slice());
    pieces['checkLogits'] = await perCall(200, () => checkLogits(logits, V, 0, 'bench'));
    pieces['yieldToEventLoop'] = await perCall(200, () => yieldToEventLoop());
    console.log(`host-side pieces (vocab ${V}), ms per call (each includes a logits.slice):`);
    for (const [name, m] of Object.entries(pieces)) console.log(`  ${name.padEnd(37)} ${m.toFixed(3).padStart(8)}`);
  } finally {
    for (const m of models) m.dispose();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
