// A LLaMA-2-7B-shaped W2 model inside wasm32's 4 GiB with a context of 2048 (issue 3).
//
//   npx tsx bench/size-7b.ts [--model FILE] [--dir DIR] [--float f32|f16] [--keep]
//
// 1. Writes a Fairy2i file with the real LLaMA-2-7B shapes (dim 4096, 32 layers, FFN 11008, 32 heads,
//    32 KV heads, vocab 32000, context 4096), V2 codes (lm_head quantized too, as convert does by
//    default), random code bytes, plausible scales (stage 1 ~0.0125, stage 2 ~0.006: the mean |w| of
//    a 7B layer and of its residual), norm gains 1 and a random embedding stored as --float (default
//    f32, convert's default), through src/format.ts's encodeModelHeader and a placeholder vocabulary
//    of 32000 unused pieces (what convert writes for a checkpoint without tokenizer). Or takes
//    --model FILE (e.g. bench/convert-7b.ts --keep's output).
// 2. In a child process (so its peak RSS is the engine's alone): loadModel(file, { contextLength:
//    2048, precision: 'exact' }), the logits of token 1 at position 0 (saved for the check), then
//    model.complete([1, 2, 3], { temperature: 0, maxTokens: 8, stopAtEos: false }); prints
//    memoryBytes, the KV type, load time, tokens/s and peak RSS.
// 3. Checks before it reports: those logits against a float64 reference computed here from the
//    file's bytes (at position 0 attention returns V unchanged, so q/k are not needed): within 1e-3 of
//    max |logit| (test/engine.test.ts's bound) with the same arg-max; every tensor above 2 GiB (the
//    late layers, lm_head, the KV cache, scratch and logits) takes part.
// 4. Another child asks for contextLength 4096: it must be refused before allocating, saying how much
//    is needed and the largest context that fits.
// 5. Writes bench/results/size-7b.json, prints a summary, deletes the file it wrote (unless --keep).
//
// Decode speed is what the current kernels give with this memory plan; it is reported, not judged.

import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeAt, encodeModelHeader, linearShape, type LinearKind, type ModelConfig, type ModelHeader } from '../src/format.ts';
import { TensorType } from '../src/gguf.ts';
import { WASM_MAX_BYTES } from '../src/layout.ts';
import { readModelHeaderFromFile } from '../src/node/read-header.ts';
import type { TokenizerVocab } from '../src/tokenizer.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const MAX_REL_LOGIT_ERR = 1e-3; // as test/engine.test.ts: f32 engine vs a higher-precision forward
const PROMPT = [1, 2, 3];
const GiB = 2 ** 30;

// ---- child: load, step, generate; print one JSON line ----
if (flag('--child')) {
  const { loadModel } = await import('../src/node.ts');
  const file = opt('--model', '');
  const ctx = Number(opt('--ctx', '2048'));
  const t0 = performance.now();
  let model;
  try {
    // 'exact': the check below is test/engine.test.ts's; the memory plan is the same for both precisions
    model = await loadModel(file, { contextLength: ctx, precision: 'exact' });
  } catch (e) {
    const err = e as { code?: string; message: string };
    console.log(JSON.stringify({ ok: false, code: err.code ?? null, message: err.message, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
    process.exit(0);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const logits = model.step(PROMPT[0], 0)!;
  const firstStepMs = performance.now() - t1;
  writeFileSync(opt('--logits', ''), new Uint8Array(logits.buffer));
  const r = await model.complete(PROMPT, { temperature: 0, maxTokens: 8, stopAtEos: false });
  console.log(JSON.stringify({
    ok: true, contextLength: model.contextLength, kvType: model.kvType, memoryBytes: model.memoryBytes, threads: model.threads, loadSeconds, firstStepMs,
    tokens: r.tokens, timings: r.timings, usage: r.usage, peakRssBytes: process.resourceUsage().maxRSS * 1024,
  }));
  process.exit(0);
}

// ---- writing a 7B-shaped file ----

const CONFIG: ModelConfig = {
  name: 'llama2-7b-shaped-random-w2', contextLength: 4096, dim: 4096, nLayers: 32, ffnDim: 11008, nHeads: 32, nKvHeads: 32,
  headDim: 128, rmsEps: 1e-5, ropeTheta: 10000, vocabSize: 32000, stages: 2, lmHeadQuantized: true, tieLmHead: false,
  floatType: opt('--float', 'f32') === 'f16' ? 'f16' : 'f32', source: 'bench/size-7b.ts (random)', sourceFormat: 'synthetic', converter: 'bench/size-7b.ts',
};

function placeholderVocab(size: number): TokenizerVocab {
  return {
    tokens: Array.from({ length: size }, (_, i) => `<unused${i}>`), scores: new Float32Array(size), types: new Int32Array(size).fill(5),
    bosId: 1, eosId: 2, unkId: 0, addBos: true, addEos: false, addSpacePrefix: true, removeExtraWhitespaces: false,
  };
}

let rng = 0x2545f491;
function fillRandomU32(a: Uint32Array): void {
  let s = rng;
  for (let i = 0; i < a.length; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; a[i] = s; }
  rng = s;
}
const rand01 = () => { const a = new Uint32Array(1); fillRandomU32(a); return a[0] / 2 ** 32; };

function writeModel(path: string): number {
  const { header, plan, tensors } = encodeModelHeader(CONFIG, placeholderVocab(CONFIG.vocabSize));
  const fd = openSync(path, 'w');
  const CHUNK = 8 << 20;
  const buf = new Uint32Array(CHUNK);
  const bytes = new Uint8Array(buf.buffer);
  const f32 = new Float32Array(buf.buffer);
  const u16 = new Uint16Array(buf.buffer);
  let end = header.length;
  try {
    writeSync(fd, header, 0, header.length, 0);
    plan.forEach((p, i) => {
      const at = header.length + tensors[i].offset;
      const r = p.role;
      for (let done = 0; done < p.size;) {
        const n = Math.min(p.size - done, 4 * CHUNK);
        if (r.kind === 'codes') fillRandomU32(buf.subarray(0, Math.ceil(n / 4)));
        else if (r.kind === 'norm') f32.fill(1, 0, n / 4);
        else if (r.kind === 'scales') { for (let s = 0; s < CONFIG.stages; s++) for (let k = 0; k < 4; k++) f32[4 * s + k] = (s === 0 ? 0.0125 : 0.006) * (0.9 + 0.2 * rand01()); }
        else if (r.kind === 'embedding' && p.type === TensorType.F32) {
          fillRandomU32(buf.subarray(0, n / 4));
          for (let k = 0; k < n / 4; k++) f32[k] = (buf[k] / 2 ** 32 - 0.5) * 0.06;
        } else if (r.kind === 'embedding') {
          fillRandomU32(buf.subarray(0, n / 4));
          // f16 bits: sign, exponent 8..9 (|v| in [2^-7, 2^-5)), random mantissa.
          for (let k = 0; k < n / 2; k++) u16[k] = (u16[k] & 0x87ff) | 0x2000;
        } else throw new Error(`unexpected tensor ${p.name}`);
        let w = 0;
        while (w < n) w += writeSync(fd, bytes, w, n - w, at + done + w);
        done += n;
      }
      end = Math.max(end, at + p.size);
    });
  } finally {
    closeSync(fd);
  }
  return end;
}

// ---- float64 reference of the logits at position 0 ----

function readTensor(fd: number, h: ModelHeader, name: string): Uint8Array {
  const t = h.tensors.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  const b = new Uint8Array(t.size);
  let done = 0;
  while (done < b.length) done += readSync(fd, b, done, b.length - done, h.dataOffset + t.offset + done);
  return b;
}
const asF32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

/**
 * y (out) = A x for a quantized layer (docs/format.md, code layout 2): y = U z + W conj(z) with
 * z = x[0:m] + i·x[m:2m], y = y[0:n] + i·y[n:2n]; code k of a stage is i^k times its scale.
 */
function cmatvecRef(codes: Uint8Array, scales: Float32Array, S: number, x: Float64Array, out: number): Float64Array {
  const m = x.length / 2, n = out / 2;
  const y = new Float64Array(out);
  // Per plane p the complex factor (cr + i·ci) of each code: i^k · (s_re or s_im).
  const cr = new Float64Array(8 * S), ci = new Float64Array(8 * S);
  for (let p = 0; p < 2 * S; p++) {
    const s = p % S, w = p >= S ? 2 : 0, sRe = scales[4 * s + w], sIm = scales[4 * s + w + 1];
    cr.set([sRe, 0, -sRe, 0], 4 * p);
    ci.set([0, sIm, 0, -sIm], 4 * p);
  }
  for (let r = 0; r < n; r++) {
    let re = 0, im = 0;
    for (let p = 0; p < 2 * S; p++) {
      const conj = p >= S ? -1 : 1;
      for (let j = 0; j < m; j++) {
        const c = codeAt(codes, m, S, p, r, j);
        const a = x[j], b = conj * x[m + j], fr = cr[4 * p + c], fi = ci[4 * p + c];
        re += fr * a - fi * b;
        im += fi * a + fr * b;
      }
    }
    y[r] = re;
    y[n + r] = im;
  }
  return y;
}

function rmsnormRef(x: Float64Array, g: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * g[i]);
}

function referenceLogits(path: string, token: number): Float64Array {
  const h = readModelHeaderFromFile(path);
  const c = h.config;
  const fd = openSync(path, 'r');
  try {
    const lin = (prefix: string, kind: LinearKind | 'output', x: Float64Array) =>
      cmatvecRef(readTensor(fd, h, `${prefix}.codes`), asF32(readTensor(fd, h, `${prefix}.scales`)), c.stages, x, linearShape(c, kind)[0]);
    const e = h.tensors.get('token_embd.weight')!;
    const row = new Uint8Array(c.dim * (e.type === TensorType.F16 ? 2 : 4));
    readSync(fd, row, 0, row.length, h.dataOffset + e.offset + token * row.length);
    const x = new Float64Array(c.dim);
    if (e.type === TensorType.F16) { const u = new Uint16Array(row.buffer); for (let i = 0; i < c.dim; i++) x[i] = half(u[i]); }
    else x.set(asF32(row));
    const group = c.nHeads / c.nKvHeads;
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}`;
      const xb = rmsnormRef(x, asF32(readTensor(fd, h, `${p}.attn_norm.weight`)), c.rmsEps);
      const v = lin(`${p}.attn_v`, 'attn_v', xb);
      // Position 0: softmax over one score is 1, so each head's output is its KV head's v.
      const att = new Float64Array(c.nHeads * c.headDim);
      for (let hh = 0; hh < c.nHeads; hh++) att.set(v.subarray(Math.floor(hh / group) * c.headDim, (Math.floor(hh / group) + 1) * c.headDim), hh * c.headDim);
      const o = lin(`${p}.attn_output`, 'attn_output', att);
      for (let i = 0; i < c.dim; i++) x[i] += o[i];
      const xf = rmsnormRef(x, asF32(readTensor(fd, h, `${p}.ffn_norm.weight`)), c.rmsEps);
      const g = lin(`${p}.ffn_gate`, 'ffn_gate', xf), u = lin(`${p}.ffn_up`, 'ffn_up', xf);
      for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
      const d = lin(`${p}.ffn_down`, 'ffn_down', g);
      for (let i = 0; i < c.dim; i++) x[i] += d[i];
    }
    return lin('output', 'output', rmsnormRef(x, asF32(readTensor(fd, h, 'output_norm.weight')), c.rmsEps));
  } finally {
    closeSync(fd);
  }
}

function half(hb: number): number {
  const s = hb & 0x8000 ? -1 : 1, e = (hb >> 10) & 0x1f, m = hb & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

function child(file: string, ctx: number, logitsFile: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--model', file, '--ctx', String(ctx), '--logits', logitsFile],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`child (ctx ${ctx}) exited with ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// ---- main ----

const given = opt('--model', '');
const base = opt('--dir', '');
if (base) mkdirSync(base, { recursive: true });
const dir = mkdtempSync(join(base || tmpdir(), 'fairy2i-size-7b-'));
const file = given || join(dir, 'llama2-7b-shaped-w2.gguf');
const gib = (b: number) => `${(b / GiB).toFixed(3)} GiB`;
let failed = false;
try {
  if (!given) {
    let t = performance.now();
    const bytes = writeModel(file);
    console.log(`wrote ${file}: ${(bytes / 1e9).toFixed(3)} GB (${CONFIG.floatType} embedding) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const h = readModelHeaderFromFile(file);
  const c = h.config;
  console.log(`model: dim ${c.dim}, ${c.nLayers} layers, ffn ${c.ffnDim}, heads ${c.nHeads}/${c.nKvHeads}, vocab ${c.vocabSize}, V${c.stages}, embedding ${c.floatType}, file ${gib(h.fileSize)}`);

  // ---- context 2048: load, step, generate (child), then check its logits ----
  const logitsFile = join(dir, 'logits0.f32');
  console.log('\nloadModel(file, { contextLength: 2048 }) in a child process ...');
  const loadBefore = loadavg()[0]; // the 2 cores are shared: tokens/s depend on what else runs
  const r = child(file, 2048, logitsFile);
  if (!r.ok) throw new Error(`loading with contextLength 2048 failed: ${r.message}`);
  const ours = new Float32Array(readFileSync(logitsFile).buffer.slice(0));
  let t = performance.now();
  const ref = referenceLogits(file, PROMPT[0]);
  const refSeconds = (performance.now() - t) / 1000;
  let maxAbs = 0, worst = 0, a = 0, b = 0, finite = true;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(ours[i])) finite = false;
    maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
    worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    if (ours[i] > ours[a]) a = i;
    if (ref[i] > ref[b]) b = i;
  }
  const checkOk = finite && ours.length === c.vocabSize && worst <= MAX_REL_LOGIT_ERR * maxAbs && a === b;
  console.log(`  check: logits of token ${PROMPT[0]} at position 0 vs a float64 reference (${refSeconds.toFixed(0)} s): max |Δ| ${worst.toExponential(2)} = ${(worst / maxAbs).toExponential(2)} × max |logit| ${maxAbs.toFixed(3)}, arg-max ${a} (reference ${b}) → ${checkOk ? 'ok' : 'MISMATCH'}`);
  if (!checkOk) throw new Error('the engine\'s logits do not match the reference: not reporting numbers');

  const mem = r.memoryBytes;
  console.log(`  context ${r.contextLength}, KV cache ${r.kvType}`);
  console.log(`  memory: weights ${gib(mem.weights)}, KV cache ${gib(mem.kvCache)}, scratch ${(mem.scratch / 2 ** 20).toFixed(2)} MiB, total ${gib(mem.total)} of ${gib(WASM_MAX_BYTES)}`);
  console.log(`  load ${r.loadSeconds.toFixed(1)} s; first step ${(r.firstStepMs / 1000).toFixed(2)} s; prompt ${r.usage.evaluatedPromptTokens} tokens at ${r.timings.promptTokensPerSecond.toFixed(3)} tok/s; decode ${r.usage.completionTokens} tokens at ${r.timings.generateTokensPerSecond.toFixed(3)} tok/s (${(r.timings.generateMs / r.usage.completionTokens / 1000).toFixed(2)} s/token) on ${r.threads} thread(s)`);
  console.log(`  greedy tokens ${JSON.stringify(r.tokens)}; process peak RSS ${(r.peakRssBytes / GiB).toFixed(3)} GiB; load average before ${loadBefore.toFixed(2)}`);

  // ---- context 4096: must be refused with the needed size and the largest context that fits ----
  console.log('\nloadModel(file, { contextLength: 4096 }) in a child process ...');
  const r4 = child(file, 4096, join(dir, 'logits4096.f32'));
  if (r4.ok) console.log(`  loaded: context ${r4.contextLength}, KV ${r4.kvType}, total ${gib(r4.memoryBytes.total)}`);
  else console.log(`  refused (${r4.code}): ${r4.message}`);
  const largest = Number(/largest context that fits is (\d+)/.exec(r4.message ?? '')?.[1] ?? NaN);
  const refusedWell = !r4.ok && r4.code === 'memory' && /needs [\d.]+ GiB/.test(r4.message) && Number.isInteger(largest);
  if (!refusedWell) throw new Error('contextLength 4096 was not refused with the needed size and the largest context that fits');

  const result = {
    bench: 'size-7b',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: cpus().length, memGiB: Math.round(totalmem() / GiB) },
    model: { source: given ? given : 'random codes, plausible scales (bench/size-7b.ts)', dim: c.dim, layers: c.nLayers, ffn: c.ffnDim, heads: c.nHeads, kvHeads: c.nKvHeads, vocab: c.vocabSize, stages: c.stages, lmHeadQuantized: c.lmHeadQuantized, embedding: c.floatType, fileBytes: h.fileSize },
    ctx2048: {
      contextLength: r.contextLength, kvType: r.kvType,
      memoryBytes: mem, memoryGiB: Object.fromEntries(Object.entries(mem as Record<string, number>).map(([k, v]) => [k, Number((v / GiB).toFixed(4))])),
      wasmLimitBytes: WASM_MAX_BYTES, headroomBytes: WASM_MAX_BYTES - mem.total,
      loadSeconds: Number(r.loadSeconds.toFixed(2)), firstStepSeconds: Number((r.firstStepMs / 1000).toFixed(3)),
      prompt: PROMPT, promptTokensPerSecond: Number(r.timings.promptTokensPerSecond.toFixed(4)),
      decodeTokens: r.usage.completionTokens, decodeTokensPerSecond: Number(r.timings.generateTokensPerSecond.toFixed(4)),
      greedyTokens: r.tokens, threads: r.threads, peakRssBytes: r.peakRssBytes, loadAverageBefore: Number(loadBefore.toFixed(2)),
      check: { what: `logits of token ${PROMPT[0]} at position 0 vs a float64 reference from the file`, maxAbsDiff: worst, maxAbsLogit: maxAbs, relBound: MAX_REL_LOGIT_ERR, argmax: a, ok: checkOk },
    },
    ctx4096: { refused: !r4.ok, code: r4.code, message: r4.message, largestContextThatFits: largest },
    kernels: 'the kernels of the commit this was run at (default threads: one per core); decode speed reported, not judged',
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/size-7b.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote bench/results/size-7b.json`);
  console.log(`summary: 7B-shaped W2 at context 2048 fits: ${gib(mem.total)} (weights ${gib(mem.weights)} + ${r.kvType} KV ${gib(mem.kvCache)} + scratch ${(mem.scratch / 2 ** 20).toFixed(1)} MiB) of 4 GiB; ` +
    `decode ${r.timings.generateTokensPerSecond.toFixed(3)} tok/s; peak RSS ${(r.peakRssBytes / GiB).toFixed(2)} GiB; context 4096 refused, largest that fits ${largest}`);
} catch (e) {
  console.error(`bench/size-7b: ${(e as Error).message}`);
  failed = true;
} finally {
  if (flag('--keep')) console.log(`kept ${dir}`);
  else { rmSync(dir, { recursive: true, force: true }); console.log(`deleted ${dir}`); }
}
process.exit(failed ? 1 : 0);
