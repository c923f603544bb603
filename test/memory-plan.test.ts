// The wasm32 memory plan (src/layout.ts planMemory) at LLaMA-2-7B scale, without allocating: the
// header of a 7B-shaped W2 file is built with encodeModelHeader and parsed back (no tensor data),
// then planned against the real module's heap base. And the loader's refusal of a context that
// does not fit, on a small model whose own context is huge (a request above a model's context is
// capped at it, so only such a model can ask for too much).
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fairy2iError } from '../src/errors.ts';
import { encodeModelHeader, readModelHeader, type ModelConfig, type ModelHeader } from '../src/format.ts';
import { planMemory, WASM_MAX_BYTES } from '../src/layout.ts';
import { convert } from '../src/convert/convert.ts';
import { loadModel, wasmModule } from '../src/node.ts';
import type { TokenizerVocab } from '../src/tokenizer.ts';
import { engineSizes, instantiateWasm } from '../src/wasm.ts';
import type { EngineSizes } from '../src/layout.ts';
import { tempDir, writeTinyCheckpoint } from './fixtures.ts';

const FILE = 'llama2-7b-shaped.gguf';

/** The parsed header of a LLaMA-2-7B-shaped file (dim 4096, 32 layers, FFN 11008, vocab 32000). */
function header7b(over: Partial<ModelConfig> = {}): ModelHeader {
  const c: ModelConfig = {
    name: '7b', contextLength: 4096, dim: 4096, nLayers: 32, ffnDim: 11008, nHeads: 32, nKvHeads: 32, headDim: 128,
    rmsEps: 1e-5, ropeTheta: 10000, vocabSize: 32000, stages: 2, lmHeadQuantized: true, tieLmHead: false,
    floatType: 'f32', source: 'test', sourceFormat: 'synthetic', converter: 'test', ...over,
  };
  const n = c.vocabSize;
  const vocab: TokenizerVocab = {
    tokens: Array.from({ length: n }, (_, i) => `<unused${i}>`), scores: new Float32Array(n), types: new Int32Array(n).fill(5),
    bosId: 1, eosId: 2, unkId: 0, addBos: true, addEos: false, addSpacePrefix: true, removeExtraWhitespaces: false,
  };
  const { header, dataSize } = encodeModelHeader(c, vocab);
  return readModelHeader(header, FILE, header.length + dataSize);
}

function planError(f: () => unknown): Fairy2iError {
  try {
    f();
  } catch (e) {
    assert.instance(e, Fairy2iError);
    assert.is((e as Fairy2iError).code, 'memory');
    return e as Fairy2iError;
  }
  assert.unreachable('expected a memory error');
  throw new Error('unreachable');
}

const largestIn = (msg: string) => {
  const m = /The largest context that fits is (\d+) \(contextLength: (\d+)/.exec(msg);
  assert.ok(m, `no largest context in: ${msg}`);
  assert.is(m![1], m![2]);
  return Number(m![1]);
};

const plan7b = suite('memory plan: LLaMA-2-7B-shaped W2 in wasm32');
let hb: EngineSizes;
plan7b.before(async () => {
  hb = engineSizes(await instantiateWasm(await wasmModule()));
});

plan7b('context 2048 fits in 4 GiB: f32 KV does not, so auto picks f16', () => {
  const h = header7b();
  // Weights: f32 embedding 524 MB + 2-bit linears and lm_head (+ norms): ~2.03 GiB.
  assert.ok(h.fileSize > 2.0 * 2 ** 30 && h.fileSize < 2.1 * 2 ** 30, `file size ${h.fileSize}`);
  const p = planMemory(h, hb, { contextLength: 2048 }, FILE);
  assert.is(p.kvType, 'f16');
  assert.is(p.kvBytes, 2 * 32 * 2048 * 4096 * 2); // k and v, 32 layers, 2048 positions, 4096 values, f16
  assert.is(p.contextLength, 2048);
  assert.ok(p.total <= WASM_MAX_BYTES);
  assert.ok(p.total >= p.fileSize + p.kvBytes + p.scratchBytes);
  // The same request with an f32 cache needs 2 GiB of KV: refused, pointing at the f16 cache.
  const e = planError(() => planMemory(h, hb, { contextLength: 2048, kvCache: 'f32' }, FILE));
  assert.match(e.message, FILE);
  assert.match(e.message, /f32 KV cache 2\.00 GiB for a context of 2048/);
  assert.match(e.message, /kvCache: 'f16'/);
  // With an f16 embedding (convert --float f16) the f32 cache fits too.
  assert.is(planMemory(header7b({ floatType: 'f16' }), hb, { contextLength: 2048 }, FILE).kvType, 'f32');
});

plan7b('context 8192 does not fit; the message says how much is needed and the largest context that fits', () => {
  const h = header7b();
  const e = planError(() => planMemory(h, hb, { contextLength: 8192 }, FILE));
  assert.match(e.message, new RegExp(`^${FILE}: needs [\\d.]+ GiB of wasm memory \\(weights 2\\.\\d\\d GiB, f16 KV cache 4\\.00 GiB for a context of 8192\\); wasm32 allows 4 GiB\\.`));
  const n = largestIn(e.message);
  assert.ok(n >= 2048 && n < 4096, `largest context ${n}`);
  // It is the largest: n fits (auto picks f16), n + 1 does not.
  const p = planMemory(h, hb, { contextLength: n }, FILE);
  assert.is(p.kvType, 'f16');
  assert.ok(p.total <= WASM_MAX_BYTES);
  planError(() => planMemory(h, hb, { contextLength: n + 1 }, FILE));
  // The model's own context (4096) does not fit either, and names the same largest context.
  assert.is(largestIn(planError(() => planMemory(h, hb, { contextLength: 4096 }, FILE)).message), n);
});

plan7b.run();

const load = suite('memory plan: loading a small model with a context too large for wasm32');
const dir = tempDir();

load('refused before allocating, with the largest context that fits; that context then loads and runs', async () => {
  // TINY (dim 32, 2 layers, 2 KV heads of 8) with a 2^26-token context: an f16 KV cache of 8 GiB.
  const src = writeTinyCheckpoint(join(dir, 'huge-ctx'), { config: { max_position_embeddings: 1 << 26 } });
  const file = join(dir, 'huge-ctx.gguf');
  await convert(src, { output: file, stages: 2, quiet: true });
  let err: unknown = null;
  try {
    await loadModel(file, { contextLength: 1 << 26 });
  } catch (e) {
    err = e;
  }
  assert.instance(err, Fairy2iError);
  const e = err as Fairy2iError;
  assert.is(e.code, 'memory');
  assert.match(e.message, file);
  assert.match(e.message, /needs 9\.\d\d GiB of wasm memory/);
  assert.match(e.message, /f16 KV cache 8\.00 GiB for a context of 67108864/);
  const n = largestIn(e.message);
  assert.ok(n > 20_000_000 && n < 1 << 26, `largest context ${n}`);
  // The context it names loads (wasm memory grown to within 64 KiB of 4 GiB) and runs.
  const model = await loadModel(file, { contextLength: n });
  try {
    assert.is(model.contextLength, n);
    assert.is(model.kvType, 'f16');
    assert.ok(model.memoryBytes.total <= WASM_MAX_BYTES && model.memoryBytes.total > WASM_MAX_BYTES - (1 << 20), `total ${model.memoryBytes.total}`);
    // Scratch and logits sit above the KV cache, in the last megabyte below 4 GiB.
    const logits = model.step(1, 0)!;
    assert.ok(logits.every(Number.isFinite));
  } finally {
    model.dispose();
  }
});

load.run();
