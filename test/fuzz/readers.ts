// Property-based fuzzing (fast-check) of every reader a user's file reaches: real files from
// ../shared/models and models/default.gguf, mutated by bit flips, byte writes, truncations, length
// fields set to huge values, inserted bytes, and (for JSON files) values replaced by nulls, huge
// numbers, wrong types, long strings or deep nesting. The property: the reader returns, or throws
// a Fairy2iError whose message is one line; never another exception, never longer than
// MAX_CASE_MS, never more than MAX_HEAP_GROWTH of heap and array buffers.
// Used by test/fuzz.test.ts (a short seeded run) and `npm run fuzz` (scripts/fuzz.ts, long runs).

import fc from 'fast-check';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openHfCheckpoint } from '../../src/convert/checkpoint-hf.ts';
import { openLlama2cCheckpoint } from '../../src/convert/checkpoint-llama2c.ts';
import { SafetensorsFile } from '../../src/convert/safetensors.ts';
import { parseSentencePieceModel } from '../../src/convert/sentencepiece-model.ts';
import { parseTokenizerJson, readTokenizerConfig } from '../../src/convert/tokenizer-json.ts';
import { parseLlama2cTokenizer } from '../../src/convert/tokenizer-llama2c.ts';
import { Fairy2iError } from '../../src/errors.ts';
import { checkStoredFloats, readModelHeader } from '../../src/format.ts';
import { decodeHeader } from '../../src/gguf.ts';
import { sharedDir, sharedPath } from '../shared.ts';

export const MAX_CASE_MS = 5000;
export const MAX_HEAP_GROWTH = 1 << 30;

export interface Target {
  name: string;
  /** The file mutated; `run` gets its mutated bytes. */
  source: Uint8Array;
  /** Where mutations mostly land (the header, where the length fields are). */
  hotBytes: number;
  json?: boolean;
  run(bytes: Uint8Array): void;
}

export type Finding = { target: string; error: string; mutation: string };

// ---- byte mutations ----

const HUGE = [0xffffffffffffffffn, 1n << 63n, 1n << 62n, 0xffffffffn, 0x80000000n, 0x7fffffffn, 1n << 40n, 1n << 26n, 0n];

type ByteOp =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'byte'; at: number; value: number }
  | { op: 'u64'; at: number; value: bigint }
  | { op: 'u32'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: number[] };

function byteOp(hot: number, size: number): fc.Arbitrary<ByteOp> {
  // Three of four mutations land in the header region, the rest anywhere.
  const at = fc.oneof({ weight: 3, arbitrary: fc.nat(Math.max(0, hot - 1)) }, { weight: 1, arbitrary: fc.nat(Math.max(0, size - 1)) });
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat(7) }),
    fc.record({ op: fc.constant('byte' as const), at, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 1) }),
    fc.record({ op: fc.constant('u64' as const), at, value: fc.oneof(fc.constantFrom(...HUGE), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })) }),
    fc.record({ op: fc.constant('u32' as const), at, value: fc.oneof(fc.constantFrom(0xffffffff, 0x80000000, 0x7fffffff, 0, 13), fc.nat()) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
    fc.record({ op: fc.constant('insert' as const), at, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }),
  );
}

function applyBytes(src: Uint8Array, ops: ByteOp[]): Uint8Array {
  let b = src.slice();
  for (const o of ops) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (o.op === 'flip' && o.at < b.length) b[o.at] ^= 1 << o.bit;
    else if (o.op === 'byte' && o.at < b.length) b[o.at] = o.value;
    else if (o.op === 'u64' && o.at + 8 <= b.length) v.setBigUint64(o.at, o.value, true);
    else if (o.op === 'u32' && o.at + 4 <= b.length) v.setUint32(o.at, o.value >>> 0, true);
    else if (o.op === 'truncate') b = b.slice(0, Math.min(o.at, b.length));
    else if (o.op === 'insert') { const at = Math.min(o.at, b.length); const n = new Uint8Array(b.length + o.bytes.length); n.set(b.subarray(0, at)); n.set(o.bytes, at); n.set(b.subarray(at), at + o.bytes.length); b = n; }
  }
  return b;
}

// ---- JSON mutations ----

type JsonOp = { path: number[]; replace: unknown } | { path: number[]; remove: true } | { path: number[]; deep: number };

const ODD_VALUES: unknown[] = [null, 1e12, 1e308, -1, 0, 0.5, 2 ** 53 + 1, '', 'x'.repeat(5000), [], {}, true, 'gelu', [null], { content: null }, -0];

function jsonOp(): fc.Arbitrary<JsonOp> {
  const path = fc.array(fc.nat(1 << 16), { minLength: 1, maxLength: 5 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ path, replace: fc.oneof(fc.constantFrom(...ODD_VALUES), fc.jsonValue({ maxDepth: 3 })) }) },
    { weight: 1, arbitrary: fc.record({ path, remove: fc.constant(true as const) }) },
    { weight: 1, arbitrary: fc.record({ path, deep: fc.constantFrom(100, 10000, 200000) }) },
  );
}

/** Walks `path` (each step picks a child by index modulo the child count) and edits the value there. */
function applyJson(root: unknown, ops: JsonOp[]): string {
  const doc = structuredClone(root) as Record<string, unknown>;
  let deep = '';
  for (const o of ops) {
    let parent: any = null, key: string | number = '', node: any = doc;
    for (const step of o.path) {
      if (node === null || typeof node !== 'object') break;
      const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      parent = node; key = keys[step % keys.length]; node = node[key];
    }
    if (parent === null) continue;
    if ('replace' in o) parent[key] = structuredClone(o.replace);
    else if ('remove' in o) { if (Array.isArray(parent)) parent.splice(key as number, 1); else delete parent[key]; }
    else { parent[key] = '\u0000DEEP\u0000'; deep = '['.repeat(o.deep) + ']'.repeat(o.deep); }
  }
  const text = JSON.stringify(doc);
  return deep ? text.replace('"\\u0000DEEP\\u0000"', deep) : text;
}

// ---- targets ----

const text = new TextDecoder();

export function targets(tmp: string): Target[] {
  mkdirSync(tmp, { recursive: true });
  const out: Target[] = [];
  const file = (p: string) => new Uint8Array(readFileSync(p));
  const gguf = file('models/default.gguf');
  out.push({
    name: 'GGUF model file (src/gguf.ts, src/format.ts)', source: gguf, hotBytes: decodeHeader(gguf, 'default.gguf').dataOffset,
    run: (b) => { const h = readModelHeader(b, 'f.gguf'); checkStoredFloats(h, b, 'f.gguf'); },
  });
  if (!sharedDir()) return out;
  const m = (rel: string) => sharedPath(`models/${rel}`);
  const st = file(m('stories260K-hf/model.safetensors'));
  const stPath = join(tmp, 'model.safetensors');
  out.push({
    name: 'safetensors header (src/convert/safetensors.ts)', source: st, hotBytes: 8 + Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true)),
    run: (b) => {
      writeFileSync(stPath, b);
      const f = new SafetensorsFile(stPath);
      try { for (const n of [...f.tensors.keys()].slice(0, 3)) f.readF32(n); } finally { f.close(); }
    },
  });
  const tj = file(m('stories260K-hf/tokenizer.json'));
  out.push({ name: 'tokenizer.json (src/convert/tokenizer-json.ts)', source: tj, hotBytes: tj.length, json: true, run: (b) => { parseTokenizerJson(text.decode(b)); } });
  const tc = file(m('llama2-tokenizer/tokenizer_config.json'));
  out.push({ name: 'tokenizer_config.json (src/convert/tokenizer-json.ts)', source: tc, hotBytes: tc.length, json: true, run: (b) => { readTokenizerConfig(text.decode(b)); } });
  const sp = file(m('stories260K-hf/tokenizer.model'));
  out.push({ name: 'SentencePiece tokenizer.model (src/convert/sentencepiece-model.ts)', source: sp, hotBytes: sp.length, run: (b) => { parseSentencePieceModel(b); } });
  const tok = file(m('stories260K-llama2c/tok512.bin'));
  out.push({ name: 'llama2.c tokenizer (src/convert/tokenizer-llama2c.ts)', source: tok, hotBytes: tok.length, run: (b) => { parseLlama2cTokenizer(b, 512); } });
  const bin = file(m('stories260K-llama2c/stories260K.bin'));
  const l2c = join(tmp, 'l2c');
  mkdirSync(l2c, { recursive: true });
  writeFileSync(join(l2c, 'tok512.bin'), tok);
  out.push({
    name: 'llama2.c checkpoint (src/convert/checkpoint-llama2c.ts)', source: bin, hotBytes: 28,
    run: (b) => {
      writeFileSync(join(l2c, 'model.bin'), b);
      const c = openLlama2cCheckpoint(join(l2c, 'model.bin'));
      try { c.read({ kind: 'embedding' }); c.read({ kind: 'linear', layer: 0, linear: 'attn_q' }); } finally { c.close(); }
    },
  });
  const cfg = file(m('stories260K-hf/config.json'));
  // The whole directory reader, as convert opens it (the weights are a link to the real file).
  const hf = join(tmp, 'hf');
  mkdirSync(hf, { recursive: true });
  if (!existsSync(join(hf, 'model.safetensors'))) symlinkSync(m('stories260K-hf/model.safetensors'), join(hf, 'model.safetensors'));
  out.push({
    name: 'config.json (src/convert/checkpoint-hf.ts)', source: cfg, hotBytes: cfg.length, json: true,
    run: (b) => { writeFileSync(join(hf, 'config.json'), b); openHfCheckpoint(hf).close(); },
  });
  return out;
}

/** Runs one case; returns a description of what broke the property, or null. */
export function check(t: Target, bytes: Uint8Array): string | null {
  const mem0 = heap();
  const t0 = Date.now();
  try {
    t.run(bytes);
  } catch (e) {
    if (!(e instanceof Fairy2iError)) return `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`.slice(0, 300);
    if (e.message.includes('\n')) return `a multi-line message: ${JSON.stringify(e.message.slice(0, 200))}`;
  }
  const ms = Date.now() - t0;
  if (ms > MAX_CASE_MS) return `took ${ms} ms`;
  const grew = heap() - mem0;
  if (grew > MAX_HEAP_GROWTH) return `grew the heap by ${(grew / 2 ** 20).toFixed(0)} MiB`;
  return null;
}

function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The mutated-file arbitrary of a target. */
export function mutations(t: Target): fc.Arbitrary<{ bytes: Uint8Array; describe: string }> {
  if (t.json) {
    const root = JSON.parse(text.decode(t.source));
    return fc.array(jsonOp(), { minLength: 1, maxLength: 4 }).map((ops) => ({ bytes: new TextEncoder().encode(applyJson(root, ops)), describe: JSON.stringify(ops).slice(0, 300) }));
  }
  return fc.array(byteOp(t.hotBytes, t.source.length), { minLength: 1, maxLength: 6 })
    .map((ops) => ({ bytes: applyBytes(t.source, ops), describe: JSON.stringify(ops, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)).slice(0, 300) }));
}

/** Fuzzes every target with `runs` cases each from `seed`; returns the cases run and what was found. */
export function fuzz(tmp: string, runs: number, seed: number, log?: (line: string) => void): { cases: number; findings: Finding[] } {
  let cases = 0;
  const findings: Finding[] = [];
  for (const t of targets(tmp)) {
    const before = cases;
    const r = fc.check(fc.property(mutations(t), ({ bytes }) => {
      cases++;
      const broke = check(t, bytes);
      if (broke) throw new Error(broke);
    }), { seed, numRuns: runs, endOnFailure: false });
    if (r.failed) {
      const ex = r.counterexample?.[0];
      findings.push({ target: t.name, error: (r.errorInstance as Error | undefined)?.message ?? String(r.errorInstance), mutation: ex?.describe ?? '?' });
    }
    log?.(`${t.name}: ${cases - before} cases${r.failed ? `, FOUND: ${findings.at(-1)!.error} (after ${r.numShrinks} shrinks: ${findings.at(-1)!.mutation})` : ', nothing found'}`);
  }
  return { cases, findings };
}
