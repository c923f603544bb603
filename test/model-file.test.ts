// The model file as other tools and bad inputs see it: a generic GGUF reader lists it; the header
// round-trips; damaged or foreign files give a one-line error that names the file and the field.
import { gguf } from '@huggingface/gguf';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fairy2iError } from '../src/errors.ts';
import { codeAt, packCodes, readModelHeader } from '../src/format.ts';
import { decodeHeader, encodeHeader, meta, TensorType, type Metadata } from '../src/gguf.ts';
import { loadModel } from '../src/node.ts';
import { convert } from '../src/convert/convert.ts';
import { rewriteMetadata, tempDir, writeTinyCheckpoint } from './fixtures.ts';

const dir = tempDir();
let good = '';
let goodBytes = new Uint8Array(0);

const s = suite('model file');

s.before(async () => {
  good = join(dir, 'tiny-v2.gguf');
  await convert(writeTinyCheckpoint(join(dir, 'ck')), { output: good, stages: 2, quiet: true });
  goodBytes = new Uint8Array(readFileSync(good));
});

s('@huggingface/gguf lists our metadata and tensors', async () => {
  const { metadata, tensorInfos } = await gguf(good, { allowLocalFile: true });
  assert.is(metadata['general.architecture'], 'fairy2i');
  assert.is(Number(metadata['fairy2i.quant.stages']), 2);
  assert.is(Number(metadata['fairy2i.embedding_length']), 32);
  const names = tensorInfos.map((t) => t.name);
  assert.ok(names.includes('blk.0.attn_q.codes') && names.includes('blk.1.ffn_down.scales') && names.includes('output.codes'));
  const h = readModelHeader(goodBytes, good);
  assert.is(tensorInfos.length, h.tensors.size);
});

s('header round trip: decode(encode(x)) keeps every key, value and tensor record', () => {
  const md: Metadata = new Map([['general.architecture', meta.str('x')], ['a.u32', meta.u32(7)], ['a.f32', meta.f32(0.5)], ['a.bool', meta.bool(true)], ['a.strs', meta.strings(['▁a', '<0x0A>', ''])], ['a.f32s', meta.f32s(Float32Array.from([1, -2.5]))], ['a.i32s', meta.i32s(Int32Array.from([3, -4]))]]);
  const { header, tensors } = encodeHeader(md, [{ name: 't0', dims: [3, 2], type: TensorType.F32, size: 24 }, { name: 't1', dims: [5], type: TensorType.I8, size: 5 }], 64);
  assert.is(header.length % 64, 0);
  const d = decodeHeader(header, 'mem');
  assert.is(d.dataOffset, header.length);
  assert.equal([...d.metadata.keys()], [...md.keys(), 'general.alignment']);
  for (const [k, v] of md) {
    const got = d.metadata.get(k)!;
    assert.is(got.type, v.type, k);
    assert.equal(Array.from(got.value as ArrayLike<unknown>).length ? Array.from(got.value as ArrayLike<unknown>) : got.value, Array.from(v.value as ArrayLike<unknown>).length ? Array.from(v.value as ArrayLike<unknown>) : v.value, k);
  }
  assert.equal(d.tensors, tensors);
  assert.equal(tensors.map((t) => t.offset), [0, 64]);
});

s('code layout 2: pack then read back every code, for awkward n, m and 1..4 stages', () => {
  for (const [n, m] of [[1, 1], [3, 5], [2, 64], [2, 65], [4, 101], [1, 200], [17, 3], [33, 8]]) {
    for (let S = 1; S <= 4; S++) {
      const rnd = (k: number) => Uint8Array.from({ length: n * m }, (_, i) => (i * 7 + k * 13 + ((i * i) >> 3)) & 3);
      const U = Array.from({ length: S }, (_, k) => rnd(k)), W = Array.from({ length: S }, (_, k) => rnd(k + 5));
      const packed = packCodes(U, W, n, m);
      assert.is(packed.length, Math.ceil(n / 16) * 16 * Math.ceil(m / 2) * S);
      for (let p = 0; p < 2 * S; p++) for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) {
        assert.is(codeAt(packed, m, S, p, r, j), (p < S ? U[p] : W[p - S])[r * m + j]);
      }
    }
  }
});

/** A copy of the good file with its metadata edited (tensor data unchanged, header re-encoded). */
function withMetadata(edit: (md: Metadata) => void): Uint8Array {
  return rewriteMetadata(goodBytes, edit);
}

async function expectBad(name: string, bytes: Uint8Array, fragments: RegExp[]) {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  try {
    const m = await loadModel(p);
    m.dispose();
    assert.unreachable('loaded a bad file');
  } catch (e) {
    assert.instance(e, Fairy2iError);
    for (const f of fragments) assert.match((e as Error).message, f);
    assert.ok((e as Error).message.startsWith(p), 'names the file');
  }
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', p], { encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
}

s('the good file loads (baseline for the bad ones)', async () => {
  const m = await loadModel(good);
  assert.is(m.config.stages, 2);
  m.dispose();
});

s('wrong magic', () => expectBad('magic.gguf', Uint8Array.from([...new TextEncoder().encode('GGML'), ...goodBytes.subarray(4)]), [/magic/, /'GGML'/, /expected 'GGUF'/]));

s('wrong version', () => {
  const b = goodBytes.slice();
  new DataView(b.buffer).setUint32(4, 2, true);
  return expectBad('version.gguf', b, [/version/, /GGUF version 2/]);
});

s('truncated tensor data', () => expectBad('trunc.gguf', goodBytes.subarray(0, goodBytes.length - 100), [/tensor data/, /truncated/]));

s('truncated inside the header', () => expectBad('trunc-hdr.gguf', goodBytes.subarray(0, 200), [/ends at byte 200 inside the header/]));

s('metadata inconsistent with tensor shapes', () => expectBad('shape.gguf', withMetadata((md) => md.set('fairy2i.feed_forward_length', meta.u32(96))), [/blk\.0\.ffn_gate\.codes/, /metadata implies/]));

s('unknown stage count', () => expectBad('stages.gguf', withMetadata((md) => md.set('fairy2i.quant.stages', meta.u32(7))), [/fairy2i\.quant\.stages/, /is 7, expected 0 to 4/]));

s('unknown code layout or format version', async () => {
  await expectBad('layout.gguf', withMetadata((md) => md.set('fairy2i.code_layout', meta.u32(9))), [/fairy2i\.code_layout/, /is 9/, /convert the checkpoint again/]);
  await expectBad('fver.gguf', withMetadata((md) => md.set('fairy2i.format_version', meta.u32(2))), [/fairy2i\.format_version/, /is 2/]);
});

s('an ordinary LLaMA GGUF is recognised as not ours, pointing to convert', () => {
  const md: Metadata = new Map([['general.architecture', meta.str('llama')], ['llama.embedding_length', meta.u32(4)]]);
  const { header } = encodeHeader(md, [{ name: 'token_embd.weight', dims: [4, 2], type: TensorType.F32, size: 32 }], 32);
  return expectBad('llama.gguf', Uint8Array.from([...header, ...new Uint8Array(32)]), [/general\.architecture/, /'llama'/, /not a Fairy2i model file/, /fairy2i-wasm convert/]);
});

s('a missing file and a directory', async () => {
  for (const [p, re] of [[join(dir, 'absent.gguf'), /no such file/], [dir, /is a directory/]] as const) {
    try { await loadModel(p); assert.unreachable(); } catch (e) { assert.match((e as Error).message, re); }
  }
});

s('a context that cannot fit in 4 GiB says what is needed and what fits', async () => {
  // The tiny model's own context is 64; asking for more is clamped, so test the planner through a
  // big fake header instead: see memory-plan tests. Here: a bad contextLength value is named.
  try { await loadModel(good, { contextLength: 0 }); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /contextLength/); }
  // More than the model was trained for is refused, not silently capped.
  try { await loadModel(good, { contextLength: 65 }); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /contextLength: is 65, more than this model's context length 64/); }
});

s('shape fields are range-checked at load: no u32 value is trusted to size anything', async () => {
  await expectBad('ctx-huge.gguf', withMetadata((md) => md.set('fairy2i.context_length', meta.u32(0xffffffff))), [/fairy2i\.context_length: is 4294967295, more than the 1073741824/]);
  await expectBad('layers-huge.gguf', withMetadata((md) => md.set('fairy2i.block_count', meta.u32(1e9))), [/fairy2i\.block_count: is 1000000000, more than the 1024/]);
  await expectBad('eps-inf.gguf', withMetadata((md) => md.set('fairy2i.attention.layer_norm_rms_epsilon', meta.f32(Infinity))), [/layer_norm_rms_epsilon: is Infinity, expected a finite number > 0/]);
  await expectBad('theta-nan.gguf', withMetadata((md) => md.set('fairy2i.rope.freq_base', meta.f32(NaN))), [/rope\.freq_base: is NaN/]);
});

/** The good file with float `v` written into element `i` of tensor `name`. */
function withFloat(name: string, i: number, v: number): Uint8Array {
  const h = readModelHeader(goodBytes, good);
  const t = h.tensors.get(name)!;
  const b = goodBytes.slice();
  new DataView(b.buffer).setFloat32(h.dataOffset + t.offset + 4 * i, v, true);
  return b;
}

s('NaN or Inf in a scale or norm weight is refused at load, naming the tensor', async () => {
  const cases = [['blk.1.attn_q.scales', 3, NaN, /blk\.1\.attn_q\.scales: holds NaN at element 3/], ['output.scales', 0, -Infinity, /output\.scales: holds -Infinity at element 0/],
    ['blk.0.ffn_norm.weight', 1, NaN, /blk\.0\.ffn_norm\.weight: holds NaN at element 1/]] as const;
  for (const [name, i, v, re] of cases) {
    const p = join(dir, `nonfinite-${name}.gguf`);
    writeFileSync(p, withFloat(name, i, v));
    let err: unknown = null;
    try { (await loadModel(p)).dispose(); } catch (e) { err = e; }
    assert.instance(err, Fairy2iError, `loaded ${name} = ${v}`);
    assert.match((err as Error).message, re);
    assert.ok((err as Error).message.startsWith(p), 'names the file');
  }
});

s('a chat template that does not parse is refused at load, naming the file and the field', () =>
  expectBad('tpl.gguf', withMetadata((md) => md.set('tokenizer.chat_template', meta.str('{% for m in messages %}'))), [/tokenizer\.chat_template: is not a valid Jinja template/]));

s('info on a directory is an input error (exit 1), not an internal error', () => {
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', dir], { encoding: 'utf8' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /is a directory, expected a model file/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

s('weights whose forward pass overflows: a non-finite logit is an error naming the position', async () => {
  // Finite source weights (3e37, so conversion accepts them) whose products overflow float32.
  const ck = writeTinyCheckpoint(join(dir, 'huge-ck'), { tensors: (t) => {
    for (const k of Object.keys(t)) if (k.includes('q_proj') || k.includes('gate_proj')) new Float32Array(t[k].data.buffer).fill(3e37);
  } });
  const p = join(dir, 'huge.gguf');
  await convert(ck, { output: p, stages: 0, quiet: true });
  const m = await loadModel(p);
  try {
    for (const [run, pos] of [[() => m.evaluate([1, 2, 3]), 0], [() => m.step(1, 0), 0], [() => m.prefill([1, 2], 0), 1]] as const) {
      let err: unknown = null;
      try { run(); } catch (e) { err = e; }
      assert.instance(err, Fairy2iError, 'returned non-finite logits');
      assert.match((err as Error).message, new RegExp(`huge-ck: the logit of token \\d+ at position ${pos} is (NaN|-?Infinity): the forward pass overflowed float32`));
    }
    const r = m.generate([1], { maxTokens: 2 });
    try { await r.done(); assert.unreachable('generated from NaN logits'); } catch (e) { assert.match((e as Error).message, /position 0/); }
  } finally { m.dispose(); }
});

s('ppl with nothing to predict is an error, not "null" and exit 0', () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n\n');
  for (const extra of [[], ['--json']]) {
    const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'ppl', empty, ...extra], { encoding: 'utf8' });
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no non-empty line, so there is nothing to predict/);
    assert.not.match(r.stdout, /null|NaN/);
  }
});

s.run();
