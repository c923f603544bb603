// `serve` under concurrent streams, reported, not judged:
//
//   npx tsx bench/serve.ts [--model FILE | --shape tinyllama-1.1b] [--streams 1,2,4,8] [--tokens 32] [--rounds 2] [--threads N]
//
// Spawns `fairy2i-wasm serve --parallel <max streams>` on 127.0.0.1 (the bundled model, or a
// synthetic TinyLlama-shape W2 file written to a temporary directory with --shape), checks before it
// times (a streamed completion equals the same one not streamed), then per concurrency level runs
// `rounds` rounds of that many concurrent streamed completions (ignore_eos, `tokens` each) and prints
// aggregate generated tokens/s (all streams' tokens over the wall time of the round) and p50/p95
// time to first token (request sent → first content chunk). Writes bench/results/serve-<model>.json
// with the machine's load average: the numbers are only as good as the machine was idle.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { writeSyntheticModel, type ShapeName } from '../src/node/synthetic.ts';
import { startServe } from '../test/serve-process.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const levels = opt('--streams', '1,2,4,8').split(',').map(Number);
const TOKENS = Number(opt('--tokens', '32'));
const ROUNDS = Number(opt('--rounds', '2'));
const threads = opt('--threads', '');
const shape = opt('--shape', '') as ShapeName | '';

let file = opt('--model', 'models/default.gguf');
let tmp: string | null = null;
if (shape) {
  tmp = mkdtempSync(join(tmpdir(), 'fairy2i-serve-bench-'));
  file = join(tmp, `${shape}-w2.gguf`);
  writeSyntheticModel(file, shape, 2);
}
const parallel = Math.max(...levels);
const srv = await startServe(['-m', file, '--parallel', String(parallel), '--queue', String(4 * parallel), '-q', '--ctx', String(Math.min(512, 64 + TOKENS * 2)), ...(threads ? ['--threads', threads] : [])]);

/** One streamed completion: time to first content chunk and tokens generated. */
async function stream(i: number): Promise<{ ttftMs: number; tokens: number; text: string }> {
  const t0 = performance.now();
  const r = await fetch(srv.url + 'v1/completions', {
    method: 'POST',
    body: JSON.stringify({ prompt: `Once upon a time ${i}`, max_tokens: TOKENS, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  let buf = '', text = '', tokens = 0, ttftMs = -1;
  for await (const chunk of r.body!) {
    buf += dec.decode(chunk, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, at).replace(/^data: /, '');
      buf = buf.slice(at + 2);
      if (ev === '[DONE]') continue;
      const j = JSON.parse(ev);
      if (j.usage) tokens = j.usage.completion_tokens;
      const t = j.choices?.[0]?.text;
      if (t) { if (ttftMs < 0) ttftMs = performance.now() - t0; text += t; }
    }
  }
  return { ttftMs, tokens, text };
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

try {
  // Check before timing: streamed equals not streamed for the same greedy request.
  const a = await stream(0);
  const b = await (await fetch(srv.url + 'v1/completions', { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time 0', max_tokens: TOKENS, ignore_eos: true, temperature: 0 }) })).json();
  if (a.text !== b.choices[0].text || a.tokens !== TOKENS) throw new Error(`check failed: streamed ${JSON.stringify(a.text)} (${a.tokens} tokens) vs ${JSON.stringify(b.choices[0].text)}`);
  console.log(`${basename(file)}: ${srv.lines[0].replace(/^.*— /, '')}; ${TOKENS} tokens per stream, ${ROUNDS} rounds`);
  console.log('streams  aggregate tok/s  per-stream tok/s  TTFT p50 ms  TTFT p95 ms');
  const rows = [];
  for (const n of levels) {
    const ttft: number[] = [];
    let tokens = 0, ms = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const res = await Promise.all(Array.from({ length: n }, (_, i) => stream(r * n + i)));
      ms += performance.now() - t0;
      for (const x of res) { ttft.push(x.ttftMs); tokens += x.tokens; }
    }
    const row = { streams: n, aggregateTokPerS: (1000 * tokens) / ms, perStreamTokPerS: (1000 * tokens) / ms / n, ttftP50Ms: pct(ttft, 0.5), ttftP95Ms: pct(ttft, 0.95) };
    rows.push(row);
    console.log(`${String(n).padStart(7)}  ${row.aggregateTokPerS.toFixed(1).padStart(15)}  ${row.perStreamTokPerS.toFixed(1).padStart(16)}  ${row.ttftP50Ms.toFixed(0).padStart(11)}  ${row.ttftP95Ms.toFixed(0).padStart(11)}`);
  }
  mkdirSync('bench/results', { recursive: true });
  const out = `bench/results/serve-${shape || basename(file, '.gguf')}.json`;
  writeFileSync(out, JSON.stringify({ command: `npx tsx bench/serve.ts ${argv.join(' ')}`.trim(), server: srv.lines[0], tokens: TOKENS, rounds: ROUNDS, cpus: cpus().length, loadavg: loadavg(), rows }, null, 2) + '\n');
  console.log(`wrote ${out} (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
} finally {
  await srv.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
