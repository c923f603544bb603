// Converter at LLaMA-2-7B scale (issue 2): bounded memory, one tensor at a time.
//
//   npx tsx bench/convert-7b.ts [--dir DIR] [--layers 32] [--keep] [--no-breakdown]
//
// 1. Writes a synthetic Hugging Face checkpoint with the real LLaMA-2-7B shapes (hidden 4096, FFN
//    11008, 32 layers, 32 heads and 32 KV heads, vocab 32000, untied lm_head), BF16 random values,
//    sharded like real checkpoints (model-0000k-of-0000n.safetensors of at most 5 GB each, keys
//    sorted inside a shard as the safetensors library writes them, plus model.safetensors.index.json).
//    Values are streamed to disk in 32 MiB chunks: the writer never holds more than one chunk.
//    ~13.5 GB on disk, in DIR (default: a new directory under the OS temp dir).
// 2. Checks before it times: the checkpoint reads back (every shape, and one tensor's values equal
//    the generator's).
// 3. Runs `node bin/fairy2i-wasm.js convert DIR -o OUT --stages 2 --arithmetic f32 --quiet` as a child process under
//    /usr/bin/time (wall time, peak RSS = max resident set size), or polling /proc/PID/status
//    VmHWM when /usr/bin/time is missing. (f32 arithmetic: the checks below compare with
//    quantizeLinear; a BF16 source would default to the bf16 quantizer.)
// 4. Checks the output: `info --json` must describe the 7B shapes, and the converter's bytes of
//    blk.0.attn_q, blk.0.ffn_down and lm_head (codes and scales) and of the embedding must equal what
//    quantizeLinear + packCodes compute in this process from the same source tensor.
// 5. Where the time goes: the converter's phases timed in this process on layer 0 (read + widen
//    BF16 + finite check, quantizeLinear, packCodes), extrapolated to the whole model, and the
//    reference quantizer (quantizeLinearRef) on one tensor for comparison.
// 6. Writes bench/results/convert-7b.json, prints a summary and deletes the checkpoint and the
//    output (unless --keep). Needs ~16 GB free: checkpoint 13.5 GB + output 2.4 GB.
//
// Random BF16 values: sign and 9 low bits random, exponent 120..123, i.e. |v| in [2^-7, 2^-3)
// (weights) and [1, 2) (norm gains): all finite, so the converter's NaN/Inf check passes.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packCodes, type ModelHeader } from '../src/format.ts';
import { openCheckpoint } from '../src/convert/open-checkpoint.ts';
import { readModelHeaderFromFile } from '../src/node/read-header.ts';
import { SafetensorsFile } from '../src/convert/safetensors.ts';
import { quantizeLinear, quantizeLinearRef } from '../src/convert/quantize.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };

const LAYERS = Number(opt('--layers', '32'));
const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, intermediate_size: 11008,
  num_hidden_layers: LAYERS, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32000,
  max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
  hidden_act: 'silu', torch_dtype: 'bfloat16',
};
const MAX_SHARD_BYTES = 5e9; // transformers' save_pretrained default max_shard_size "5GB"
const CHUNK_U32 = 8 << 20; // 32 MiB of random bytes per write
const RSS_LIMIT = 2 * 2 ** 30;

interface Spec { name: string; shape: number[]; norm: boolean; seed: number }

function tensorSpecs(): Spec[] {
  const h = CONFIG.hidden_size, f = CONFIG.intermediate_size, v = CONFIG.vocab_size;
  const out: Spec[] = [];
  const add = (name: string, shape: number[], norm = false) => out.push({ name, shape, norm, seed: out.length + 1 });
  add('model.embed_tokens.weight', [v, h]);
  for (let l = 0; l < LAYERS; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'self_attn.q_proj.weight', [h, h]);
    add(p + 'self_attn.k_proj.weight', [h, h]);
    add(p + 'self_attn.v_proj.weight', [h, h]);
    add(p + 'self_attn.o_proj.weight', [h, h]);
    add(p + 'mlp.gate_proj.weight', [f, h]);
    add(p + 'mlp.up_proj.weight', [f, h]);
    add(p + 'mlp.down_proj.weight', [h, f]);
    add(p + 'input_layernorm.weight', [h], true);
    add(p + 'post_attention_layernorm.weight', [h], true);
  }
  add('model.norm.weight', [h], true);
  add('lm_head.weight', [v, h]);
  return out;
}

const numel = (s: Spec) => s.shape.reduce((a, b) => a * b, 1);

/**
 * Fills `u32` with pairs of random BF16 values (xorshift32 stream continued from `state`); returns
 * the new state. Weights: sign + 9 random low bits, exponent 120..123; norms: positive, [1, 2).
 */
function fillBf16(u32: Uint32Array, n: number, state: number, norm: boolean): number {
  let s = state | 0;
  const mask = norm ? 0x007f007f : 0x81ff81ff, bits = norm ? 0x3f803f80 : 0x3c003c00;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    u32[i] = (s & mask) | bits;
  }
  return s;
}
const seedOf = (spec: Spec) => (Math.imul(spec.seed, 0x9e3779b9) ^ 0x5bd1e995) | 1;

function writeFully(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, b.length - done);
}

/** Writes the checkpoint directory; returns the shard count and bytes written. */
function writeCheckpoint(dir: string): { shards: number; bytes: number } {
  const specs = tensorSpecs();
  // Shards in state-dict order, each at most MAX_SHARD_BYTES of data (as transformers splits them).
  const groups: Spec[][] = [[]];
  let size = 0;
  for (const s of specs) {
    const b = numel(s) * 2;
    if (size + b > MAX_SHARD_BYTES && groups[groups.length - 1].length) { groups.push([]); size = 0; }
    groups[groups.length - 1].push(s);
    size += b;
  }
  const n = groups.length;
  const weightMap: Record<string, string> = {};
  const chunk = new Uint32Array(CHUNK_U32);
  const chunkBytes = new Uint8Array(chunk.buffer);
  let total = 0;
  groups.forEach((g, k) => {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const sorted = [...g].sort((a, b) => (a.name < b.name ? -1 : 1)); // safetensors writes keys sorted
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const s of sorted) {
      header[s.name] = { dtype: 'BF16', shape: s.shape, data_offsets: [off, off + numel(s) * 2] };
      off += numel(s) * 2;
      weightMap[s.name] = file;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
    const hb = Buffer.from(json, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    const fd = openSync(join(dir, file), 'w');
    try {
      writeFully(fd, len);
      writeFully(fd, hb);
      for (const s of sorted) {
        let left = numel(s) / 2; // u32 words, two BF16 each
        let st = seedOf(s);
        while (left > 0) {
          const cnt = Math.min(CHUNK_U32, left);
          st = fillBf16(chunk, cnt, st, s.norm);
          writeFully(fd, chunkBytes.subarray(0, cnt * 4));
          left -= cnt;
        }
      }
    } finally {
      closeSync(fd);
    }
    total += off;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG, null, 2));
  return { shards: n, bytes: total };
}

/** Peak RSS and wall time of a child process. */
async function measure(cmd: string, args: string[]): Promise<{ seconds: number; cpuSeconds: number | null; peakRssBytes: number; exitCode: number; stderr: string; method: string }> {
  const useTime = existsSync('/usr/bin/time');
  const timeOut = join(tmpdir(), `fairy2i-time-${process.pid}.txt`);
  const full = useTime ? ['/usr/bin/time', ['-f', '%e %M %U %S', '-o', timeOut, cmd, ...args]] as const : [cmd, args] as const;
  const t0 = performance.now();
  const child = spawn(full[0], full[1], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; process.stderr.write(d); });
  // Fallback (and cross-check): poll VmHWM of the node process (the grandchild under /usr/bin/time).
  let hwm = 0;
  const poll = setInterval(() => {
    const pids = [child.pid!, ...childPids(child.pid!)];
    for (const p of pids) {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
      } catch { /* exited */ }
    }
  }, 200);
  const exitCode: number = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  clearInterval(poll);
  const wall = (performance.now() - t0) / 1000;
  if (useTime && existsSync(timeOut)) {
    const last = readFileSync(timeOut, 'utf8').trim().split('\n').pop()!;
    rmSync(timeOut);
    const [e, m, u, sy] = last.split(' ').map(Number);
    if (Number.isFinite(e) && Number.isFinite(m)) return { seconds: e, cpuSeconds: u + sy, peakRssBytes: m * 1024, exitCode, stderr, method: `/usr/bin/time %M (polled VmHWM ${(hwm / 2 ** 20).toFixed(0)} MiB)` };
  }
  return { seconds: wall, cpuSeconds: null, peakRssBytes: hwm, exitCode, stderr, method: 'polled /proc/PID/status VmHWM every 200 ms' };
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function fileTensor(path: string, h: ModelHeader, name: string): Uint8Array {
  const t = h.tensors.get(name);
  if (!t) throw new Error(`${path}: no tensor ${name}`);
  const b = new Uint8Array(t.size);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < b.length) done += readSync(fd, b, done, b.length - done, h.dataOffset + t.offset + done);
  } finally {
    closeSync(fd);
  }
  return b;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;
const f32bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

// ---------------------------------------------------------------------------------------------

const base = opt('--dir', '');
if (base) mkdirSync(base, { recursive: true });
const dir = base ? mkdtempSync(join(base, 'llama2-7b-synthetic-')) : mkdtempSync(join(tmpdir(), 'fairy2i-bench-7b-'));
const ckDir = join(dir, 'checkpoint');
const outFile = join(dir, 'llama2-7b-synthetic-w2.gguf');
mkdirSync(ckDir);
const fs = statfsSync(dir);
const free = fs.bavail * fs.bsize;
const need = (LAYERS * 202.4e6 + 262e6) * 2 * 1.2 + 0.6e9;
if (free < need) {
  rmSync(dir, { recursive: true, force: true });
  console.error(`bench/convert-7b: ${dir} has ${(free / 1e9).toFixed(1)} GB free, needs ~${(need / 1e9).toFixed(1)} GB (checkpoint + output); use --dir`);
  process.exit(1);
}

let failed = false;
try {
  console.log(`writing a synthetic LLaMA-2-7B-shaped BF16 checkpoint (${LAYERS} layers) to ${ckDir}`);
  let t = performance.now();
  const ck = writeCheckpoint(ckDir);
  const writeSeconds = (performance.now() - t) / 1000;
  console.log(`  ${ck.shards} shards, ${(ck.bytes / 1e9).toFixed(2)} GB in ${writeSeconds.toFixed(1)} s (${(ck.bytes / 1e6 / writeSeconds).toFixed(0)} MB/s); writer peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}`);

  // ---- check the checkpoint before timing anything on it ----
  {
    const c = openCheckpoint(ckDir);
    c.validate();
    const spec = tensorSpecs().find((s) => s.name === 'model.layers.0.self_attn.k_proj.weight')!;
    const got = c.read({ kind: 'linear', layer: 0, linear: 'attn_k' });
    const want = new Uint32Array(numel(spec) / 2);
    fillBf16(want, want.length, seedOf(spec), false);
    const gotU32 = new Uint32Array(got.buffer);
    for (let i = 0; i < got.length; i++) {
      if (gotU32[i] !== (i & 1 ? want[i >> 1] & 0xffff0000 : want[i >> 1] << 16) >>> 0) throw new Error(`checkpoint check: ${spec.name}[${i}] reads back as ${got[i]}`);
    }
    c.close();
    console.log('  checked: config and all shapes parse, blk.0 k_proj reads back bit for bit');
  }

  // ---- convert under measurement ----
  const build = spawnSync(process.execPath, ['scripts/build-host.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build:host failed');
  console.log(`\nconvert (child process): node bin/fairy2i-wasm.js convert ${ckDir} -o ${outFile} --stages 2 --arithmetic f32 --quiet`);
  const loadBefore = loadavg()[0]; // the 2 cores are shared: wall time depends on what else runs
  const m = await measure(process.execPath, ['bin/fairy2i-wasm.js', 'convert', ckDir, '-o', outFile, '--stages', '2', '--arithmetic', 'f32', '--quiet']);
  if (m.exitCode !== 0) throw new Error(`convert exited with ${m.exitCode}: ${m.stderr.trim()}`);
  const outBytes = statSync(outFile).size;
  console.log(`  ${m.seconds.toFixed(1)} s wall${m.cpuSeconds === null ? '' : ` (${m.cpuSeconds.toFixed(1)} s CPU user + sys)`}, load average ${loadBefore.toFixed(2)} before, peak RSS ${mib(m.peakRssBytes)} (${m.method}); output ${(outBytes / 1e9).toFixed(3)} GB`);

  // ---- check the output ----
  const info = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', outFile, '--json'], { cwd: ROOT, encoding: 'utf8' });
  if (info.status !== 0) throw new Error(`info failed: ${info.stderr}`);
  const d = JSON.parse(info.stdout);
  const expect = { dim: 4096, layers: LAYERS, ffnDim: 11008, heads: 32, kvHeads: 32, vocabSize: 32000, stages: 2, lmHeadQuantized: true, contextLength: 4096, fileSize: outBytes };
  for (const [k, v] of Object.entries(expect)) if (d[k] !== v) throw new Error(`info: ${k} is ${d[k]}, expected ${v}`);
  console.log(`  info: dim ${d.dim}, ${d.layers} layers, ffn ${d.ffnDim}, vocab ${d.vocabSize}, V${d.stages}, ${d.linearBitsPerWeight} bits per linear weight, ${d.tensorCount} tensors`);
  const h = readModelHeaderFromFile(outFile);
  const src = openCheckpoint(ckDir);
  const checks: string[] = [];
  try {
    const emb = src.read({ kind: 'embedding' });
    if (!sameBytes(fileTensor(outFile, h, 'token_embd.weight'), f32bytes(emb))) throw new Error('token_embd.weight differs from the source widened to f32');
    checks.push('token_embd.weight');
    for (const [name, layer, linear, rows, cols] of [['blk.0.attn_q', 0, 'attn_q', 4096, 4096], ['blk.0.ffn_down', 0, 'ffn_down', 4096, 11008], ['output', null, 'output', 32000, 4096]] as const) {
      const q = quantizeLinear(src.read({ kind: 'linear', layer, linear }), rows, cols, 2);
      if (!sameBytes(fileTensor(outFile, h, `${name}.codes`), packCodes(q.codesU, q.codesW, q.n, q.m))) throw new Error(`${name}.codes differ from quantizeLinear + packCodes of the source`);
      if (!sameBytes(fileTensor(outFile, h, `${name}.scales`), f32bytes(q.scales))) throw new Error(`${name}.scales differ from quantizeLinear of the source`);
      checks.push(name);
    }
  } finally {
    src.close();
  }
  console.log(`  checked: ${checks.join(', ')} equal the whole-tensor quantizeLinear + packCodes bit for bit`);

  // ---- where the time goes (in this process, layer 0, then scaled to the model) ----
  let breakdown: Record<string, unknown> | null = null;
  if (!flag('--no-breakdown')) {
    const c = openCheckpoint(ckDir);
    const ph = { read: 0, quantize: 0, pack: 0 };
    let params = 0, refMs = 0, refParams = 0;
    for (const linear of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const) {
      const [rows, cols] = linear === 'ffn_gate' || linear === 'ffn_up' ? [11008, 4096] : linear === 'ffn_down' ? [4096, 11008] : [4096, 4096];
      t = performance.now(); const A = c.read({ kind: 'linear', layer: 0, linear }); ph.read += performance.now() - t;
      t = performance.now(); const q = quantizeLinear(A, rows, cols, 2); ph.quantize += performance.now() - t;
      t = performance.now(); packCodes(q.codesU, q.codesW, q.n, q.m); ph.pack += performance.now() - t;
      params += rows * cols;
      if (linear === 'ffn_gate') {
        // The reference quantizer (split + phaseQuant, what convert used before) on the same tensor.
        t = performance.now(); const r = quantizeLinearRef(A, rows, cols, 2); refMs = performance.now() - t; refParams = rows * cols;
        if (!sameBytes(packCodes(r.codesU, r.codesW, r.n, r.m), packCodes(q.codesU, q.codesW, q.n, q.m)) || !sameBytes(f32bytes(r.scales), f32bytes(q.scales))) throw new Error('quantizeLinear and quantizeLinearRef differ on blk.0.ffn_gate');
      }
    }
    c.close();
    const perLayer = Object.values(ph).reduce((a, b) => a + b, 0);
    const totalParams = LAYERS * params + 32000 * 4096; // + lm_head (the embedding is only read)
    const scale = totalParams / params;
    const extrapolated = Object.fromEntries(Object.entries(ph).map(([k, v]) => [k, Number((v * scale / 1000).toFixed(1))]));
    const sum = Object.values(extrapolated).reduce((a, b) => a + b, 0);
    breakdown = {
      note: 'in-process on layer 0 (202 M weights); extrapolated = layer 0 × (all quantized weights / layer 0 weights); other = convert wall time − extrapolated sum (embedding, write + fsync of the output, process start)',
      layer0Ms: Object.fromEntries(Object.entries(ph).map(([k, v]) => [k, Math.round(v)])),
      extrapolatedSeconds: { ...extrapolated, other: Number((m.seconds - sum).toFixed(1)) },
      nsPerWeight: Object.fromEntries(Object.entries(ph).map(([k, v]) => [k, Number((v * 1e6 / params).toFixed(2))])),
      referenceQuantizer: { tensor: 'blk.0.ffn_gate', nsPerWeight: Number((refMs * 1e6 / refParams).toFixed(2)), fusedNsPerWeight: Number((ph.quantize * 1e6 / params).toFixed(2)), identical: true },
    };
    console.log(`\nwhere the time goes (layer 0 in-process: ${(perLayer / 1000).toFixed(2)} s, ${(perLayer * 1e6 / params).toFixed(2)} ns per weight):`);
    for (const [k, v] of Object.entries(ph)) console.log(`  ${k.padEnd(9)} ${(v / 1000).toFixed(2).padStart(6)} s  ${((100 * v) / perLayer).toFixed(0).padStart(3)}%  ${(v * 1e6 / params).toFixed(2).padStart(6)} ns/weight  → ~${(v * scale / 1000).toFixed(0)} s for the model`);
    console.log(`  other (embedding, write + fsync, start): ~${(m.seconds - sum).toFixed(0)} s`);
    console.log(`  reference quantizer (split + phaseQuant) on blk.0.ffn_gate: ${(refMs * 1e6 / refParams).toFixed(2)} ns/weight, identical output`);
  }

  const ok = m.peakRssBytes < RSS_LIMIT;
  const result = {
    bench: 'convert-7b',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: (await import('node:os')).cpus().length, memGiB: Math.round((await import('node:os')).totalmem() / 2 ** 30) },
    checkpoint: { shape: 'LLaMA-2-7B (hidden 4096, ffn 11008, 32 heads / 32 kv, vocab 32000, untied lm_head)', layers: LAYERS, dtype: 'BF16', shards: ck.shards, bytes: ck.bytes, writeSeconds: Number(writeSeconds.toFixed(1)) },
    command: 'node bin/fairy2i-wasm.js convert <dir> -o <out> --stages 2 --arithmetic f32 --quiet',
    convert: { wallSeconds: Number(m.seconds.toFixed(1)), cpuSeconds: m.cpuSeconds, loadAverageBefore: Number(loadBefore.toFixed(2)), peakRssBytes: m.peakRssBytes, peakRssMiB: Math.round(m.peakRssBytes / 2 ** 20), method: m.method, limitBytes: RSS_LIMIT, underLimit: ok },
    output: { bytes: outBytes, linearBitsPerWeight: d.linearBitsPerWeight, tensors: d.tensorCount, checkedBitIdentical: checks },
    breakdown,
  };
  if (LAYERS === 32) {
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/convert-7b.json'), JSON.stringify(result, null, 2) + '\n');
    console.log('\nwrote bench/results/convert-7b.json');
  }
  console.log(`\nsummary: convert of a ${(ck.bytes / 1e9).toFixed(1)} GB ${LAYERS}-layer BF16 checkpoint: ${m.seconds.toFixed(0)} s, peak RSS ${mib(m.peakRssBytes)} ${ok ? '<' : '>='} 2 GiB${ok ? '' : '  ** OVER THE LIMIT **'}`);
  failed = !ok;
} catch (e) {
  console.error(`bench/convert-7b: ${(e as Error).message}`);
  failed = true;
} finally {
  if (flag('--keep')) console.log(`kept ${dir}`);
  else {
    rmSync(dir, { recursive: true, force: true });
    console.log(`deleted ${dir}`);
  }
}
process.exit(failed ? 1 : 0);
