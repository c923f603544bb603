// `bench`: prompt (prefill) and generation (decode) tokens/s of a model file, or of a synthetic model
// with real LLaMA shapes and random codes (--shape), plus the memory-read roofline measured by a plain
// SIMD streaming loop in the same wasm runtime in the same run.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fairy2iError } from '../errors.js';
import type { ModelHeader } from '../format.js';
import type { Precision } from '../model.js';
import { loadModel, wasmModule } from '../node.js';
import { readModelHeaderFromFile } from '../node/read-header.js';
import { SHAPES, writeSyntheticModel, type ShapeName } from '../node/synthetic.js';
import { instantiateWasm } from '../wasm.js';
import type { CommandSpec, Parsed } from './args.js';
import { modelFlags } from './common.js';

export const benchSpec: CommandSpec = {
  name: 'bench',
  summary: 'Measure prompt and generation tokens/s, and how close decode gets to the memory bandwidth.',
  usage: 'fairy2i-wasm bench [-m FILE | --shape tinyllama-1.1b|llama2-7b --stages N] [--threads N] [--json]',
  positionals: [],
  flags: {
    ...modelFlags,
    shape: { type: 'string', choices: Object.keys(SHAPES), conflicts: ['model'], help: 'benchmark a synthetic model of this shape (random codes)' },
    stages: { type: 'int', min: 1, max: 4, default: 2, help: 'stages of the synthetic model (2 = W2, 1 = W1)' },
    prompt: { type: 'int', min: 1, default: 512, help: 'prompt tokens for the prefill figure' },
    'decode-prompt': { type: 'int', min: 1, default: 128, help: 'prompt tokens before the decode figure' },
    generate: { type: 'int', min: 1, default: 32, help: 'tokens generated for the decode figure' },
    json: { type: 'bool', help: 'print the figures as one JSON object' },
  },
};

/** GB/s of a plain SIMD read loop over `bytes` of wasm memory (best of a few passes). */
export async function measureBandwidth(bytes = 512 << 20): Promise<number> {
  const ex = await instantiateWasm(await wasmModule());
  const base = Math.ceil(ex.heap_base() / 64) * 64;
  const need = base + bytes - ex.memory.buffer.byteLength;
  if (need > 0) ex.memory.grow(Math.ceil(need / 65536));
  new Uint8Array(ex.memory.buffer, base, bytes).fill(1);
  let best = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    ex.bandwidth_read(base, bytes, 1);
    best = Math.max(best, bytes / ((performance.now() - t0) / 1000) / 1e9);
  }
  return best;
}

/** Bytes decode reads per token: every linear layer (codes, scales or float weights) and lm_head. */
function weightBytesPerToken(h: ModelHeader): number {
  let bytes = 0;
  for (const [name, t] of h.tensors) if (/\.(codes|scales)$/.test(name) || (/\.weight$/.test(name) && !/norm|token_embd/.test(name))) bytes += t.size;
  if (h.config.tieLmHead) bytes += h.tensors.get('token_embd.weight')!.size;
  return bytes;
}

function peakRssMb(): number {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(s);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss / 2 ** 20;
}

export async function runBench(a: Parsed): Promise<void> {
  const f = a.flags;
  if (!f.model && !f.shape) throw new Fairy2iError('option', 'give -m FILE or --shape tinyllama-1.1b|llama2-7b');
  let file = f.model as string | undefined;
  let tmp: string | null = null;
  const log = (s: string) => { if (!f.json) process.stderr.write(s + '\n'); };
  if (!file) {
    tmp = mkdtempSync(join(tmpdir(), 'fairy2i-bench-'));
    file = join(tmp, `${f.shape}-w${f.stages}.gguf`);
    log(`writing a synthetic ${f.shape} W${f.stages} model (random codes) to ${file} ...`);
    writeSyntheticModel(file, f.shape as ShapeName, f.stages as number);
  }
  try {
    const promptLen = f.prompt as number, decodePrompt = f['decode-prompt'] as number, nGen = f.generate as number;
    const header = readModelHeaderFromFile(file);
    const ctx = Math.min(Math.max(promptLen, decodePrompt + nGen) + 1, (f.ctx as number | undefined) ?? header.config.contextLength, header.config.contextLength);
    if (promptLen > ctx || decodePrompt + nGen > ctx) throw new Fairy2iError('option', `--prompt ${promptLen} / --decode-prompt ${decodePrompt} + --generate ${nGen} do not fit in a context of ${ctx}`);
    const model = await loadModel(file, { contextLength: ctx, threads: f.threads as number | undefined, precision: f.precision as Precision });
    const V = model.config.vocabSize;
    const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + seed * 104729) % (V - 3)));
    // Untimed warm-up, as llama-bench does: the engine's first calls run before the runtime's
    // optimizing tier and touch fresh scratch (a 7B prompt's first batch is ~15 % slower).
    model.prefill(ids(Math.min(16, promptLen), 3), 0, false);
    // Prefill: a fresh window of promptLen tokens.
    let t0 = performance.now();
    model.prefill(ids(promptLen, 1), 0, false);
    const prefill = promptLen / ((performance.now() - t0) / 1000);
    // Decode: after a decodePrompt-token prompt, nGen greedy tokens.
    const r = await model.complete(ids(decodePrompt, 2), { temperature: 0, maxTokens: nGen, stopAtEos: false });
    const decode = r.timings.generateTokensPerSecond;
    const bw = await measureBandwidth();
    const weightBytes = weightBytesPerToken(header);
    const out = {
      model: f.shape ? `synthetic ${f.shape} W${f.stages}` : file,
      file_mb: statSync(file).size / 1e6,
      threads: model.threads,
      precision: model.precision,
      prefill_tok_s: prefill,
      decode_tok_s: decode,
      weight_bytes_per_token: weightBytes,
      bandwidth_gb_s: bw,
      roofline_tok_s: (bw * 1e9) / weightBytes,
      roofline_fraction: (decode * weightBytes) / (bw * 1e9),
      memory_mb: { weights: model.memoryBytes.weights / 2 ** 20, kv_cache: model.memoryBytes.kvCache / 2 ** 20, scratch: model.memoryBytes.scratch / 2 ** 20 },
      peak_rss_mb: peakRssMb(),
    };
    model.dispose();
    if (f.json) process.stdout.write(JSON.stringify(out) + '\n');
    else {
      process.stdout.write(
        `${out.model}: prefill ${prefill.toFixed(1)} tok/s (${promptLen} tokens), decode ${decode.toFixed(2)} tok/s (after ${decodePrompt}), ` +
        `${out.threads} thread(s), precision ${out.precision}\nweights read per token ${(weightBytes / 1e9).toFixed(3)} GB; memory bandwidth ${bw.toFixed(1)} GB/s → roofline ${out.roofline_tok_s.toFixed(1)} tok/s; decode reaches ${(100 * out.roofline_fraction).toFixed(1)} %\n` +
        `peak RSS ${out.peak_rss_mb.toFixed(0)} MB\n`,
      );
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
