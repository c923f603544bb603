// The generic GGUF v3 container: metadata values, tensor records, header encode/decode.
// Layout (little-endian) as in ggml's docs/gguf.md; docs/format.md says what Fairy2i puts in it.
// Works on plain Uint8Arrays so the same code runs in Node, Deno, Bun and browsers.

import { FormatError } from './errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF"
export const GGUF_VERSION = 3;

export const enum ValueType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
}

/** ggml tensor types this project writes or recognizes by name. */
export const TensorType = { F32: 0, F16: 1, I8: 24, BF16: 30 } as const;
const TENSOR_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K',
  11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0',
};
export function tensorTypeName(t: number): string {
  return TENSOR_TYPE_NAMES[t] ?? `type ${t}`;
}
/** Bytes per element for the plain (non-block) types; undefined for block-quantized ones. */
export function tensorTypeSize(t: number): number | undefined {
  return ({ 0: 4, 1: 2, 24: 1, 25: 2, 26: 4, 27: 8, 28: 8, 30: 2 } as Record<number, number>)[t];
}

export type MetaValue =
  | { type: ValueType.STRING; value: string }
  | { type: ValueType.BOOL; value: boolean }
  | { type: ValueType.U8 | ValueType.I8 | ValueType.U16 | ValueType.I16 | ValueType.U32 | ValueType.I32 | ValueType.F32 | ValueType.F64; value: number }
  | { type: ValueType.U64 | ValueType.I64; value: bigint }
  | { type: ValueType.ARRAY; elementType: ValueType; value: ArrayLike<number> | string[] | boolean[] | bigint[] };

export type Metadata = Map<string, MetaValue>;

export interface TensorInfo {
  name: string;
  /** ggml order: dims[0] varies fastest (row length). */
  dims: number[];
  type: number;
  /** Byte offset relative to the start of the data section. */
  offset: number;
}

export interface GGUFHeader {
  version: number;
  metadata: Metadata;
  tensors: TensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section in the file. */
  dataOffset: number;
}

/** Thrown internally when the bytes given end before the header does; the caller reads more. */
export class NeedMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`GGUF header needs at least ${needed} bytes`);
  }
}

// Counts and lengths are checked against this before anything is allocated, so a hostile header
// cannot ask for gigabytes.
const MAX_COUNT = 1 << 24;
const MAX_STRING = 1 << 26;

class Reader {
  private view: DataView;
  pos = 0;
  // ignoreBOM: a leading U+FEFF is part of the string (LLaMA-2's piece 30143 is exactly that), and
  // fatal: a string that is not UTF-8 is a broken file, not text to repair with U+FFFD. Either way
  // every string read here is the one that was written, byte for byte.
  private decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  constructor(private bytes: Uint8Array, private file: string, private total: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, field: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (this.bytes.length < this.total) throw new NeedMoreBytes(Math.min(end, this.total));
    throw new FormatError(this.file, field, `file ends at byte ${this.total} inside the header (needed ${end})`);
  }
  u8(f: string) { this.need(1, f); return this.view.getUint8(this.pos++); }
  i8(f: string) { this.need(1, f); return this.view.getInt8(this.pos++); }
  u16(f: string) { this.need(2, f); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(f: string) { this.need(2, f); const v = this.view.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(f: string) { this.need(4, f); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(f: string) { this.need(4, f); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(f: string) { this.need(4, f); const v = this.view.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(f: string) { this.need(8, f); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  u64(f: string) { this.need(8, f); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v; }
  i64(f: string) { this.need(8, f); const v = this.view.getBigInt64(this.pos, true); this.pos += 8; return v; }
  /** A u64 that must be a count or length small enough to use as a JS number. */
  count(f: string, max: number): number {
    const v = this.u64(f);
    if (v > BigInt(max)) throw new FormatError(this.file, f, `value ${v} is larger than the allowed ${max}`);
    return Number(v);
  }
  string(f: string): string {
    const n = this.count(f, MAX_STRING);
    this.need(n, f);
    let s: string;
    try {
      s = this.decoder.decode(this.bytes.subarray(this.pos, this.pos + n));
    } catch {
      throw new FormatError(this.file, f, `the ${n}-byte string at byte ${this.pos} is not valid UTF-8`);
    }
    this.pos += n;
    return s;
  }
}

function readScalar(r: Reader, type: ValueType, f: string): number | bigint | boolean | string {
  switch (type) {
    case ValueType.U8: return r.u8(f);
    case ValueType.I8: return r.i8(f);
    case ValueType.U16: return r.u16(f);
    case ValueType.I16: return r.i16(f);
    case ValueType.U32: return r.u32(f);
    case ValueType.I32: return r.i32(f);
    case ValueType.F32: return r.f32(f);
    case ValueType.F64: return r.f64(f);
    case ValueType.U64: return r.u64(f);
    case ValueType.I64: return r.i64(f);
    case ValueType.BOOL: return r.u8(f) !== 0;
    case ValueType.STRING: return r.string(f);
    default: throw new Error('unreachable');
  }
}

function readValue(r: Reader, type: number, file: string, key: string): MetaValue {
  if (type === ValueType.ARRAY) {
    const elementType = r.u32(key);
    const n = r.count(key, MAX_COUNT);
    if (elementType === ValueType.ARRAY || elementType > ValueType.F64) {
      throw new FormatError(file, key, `array element type ${elementType} is not supported`);
    }
    let value: MetaValue['value'];
    switch (elementType as ValueType) {
      case ValueType.STRING: { const a: string[] = new Array(n); for (let i = 0; i < n; i++) a[i] = r.string(key); value = a; break; }
      case ValueType.BOOL: { const a: boolean[] = new Array(n); for (let i = 0; i < n; i++) a[i] = r.u8(key) !== 0; value = a; break; }
      case ValueType.F32: { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = r.f32(key); value = a; break; }
      case ValueType.I32: { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = r.i32(key); value = a; break; }
      case ValueType.U32: { const a = new Uint32Array(n); for (let i = 0; i < n; i++) a[i] = r.u32(key); value = a; break; }
      case ValueType.U64: case ValueType.I64: { const a: bigint[] = new Array(n); for (let i = 0; i < n; i++) a[i] = readScalar(r, elementType, key) as bigint; value = a; break; }
      default: { const a: number[] = new Array(n); for (let i = 0; i < n; i++) a[i] = readScalar(r, elementType, key) as number; value = a; }
    }
    return { type: ValueType.ARRAY, elementType, value } as MetaValue;
  }
  if (type > ValueType.F64) throw new FormatError(file, key, `unknown metadata value type ${type}`);
  return { type, value: readScalar(r, type, key) } as MetaValue;
}

/**
 * Parses a GGUF header from the first bytes of a file. `totalSize` is the whole file's size: when
 * `bytes` is a prefix and the header runs past it, NeedMoreBytes tells the caller how much to read.
 */
export function decodeHeader(bytes: Uint8Array, file: string, totalSize = bytes.length): GGUFHeader {
  const r = new Reader(bytes, file, totalSize);
  const magic = r.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const chars = Array.from(bytes.subarray(0, 4), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '?')).join('');
    throw new FormatError(file, 'magic', `found '${chars}', expected 'GGUF' (this is not a GGUF model file)`);
  }
  const version = r.u32('version');
  if (version !== GGUF_VERSION) {
    throw new FormatError(file, 'version', `GGUF version ${version}, this software reads version ${GGUF_VERSION}`);
  }
  const nTensors = r.count('tensor_count', MAX_COUNT);
  const nKv = r.count('kv_count', MAX_COUNT);
  const metadata: Metadata = new Map();
  for (let i = 0; i < nKv; i++) {
    const key = r.string(`metadata key #${i}`);
    const type = r.u32(key);
    metadata.set(key, readValue(r, type, file, key));
  }
  const alignV = metadata.get('general.alignment');
  const alignment = alignV && alignV.type === ValueType.U32 ? alignV.value : 32;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new FormatError(file, 'general.alignment', `${alignment} is not a power of two`);
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = r.string(`tensor #${i} name`);
    const nDims = r.u32(name);
    if (nDims < 1 || nDims > 4) throw new FormatError(file, name, `has ${nDims} dimensions, expected 1 to 4`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(r.count(name, Number.MAX_SAFE_INTEGER));
    const type = r.u32(name);
    const offset = r.count(name, Number.MAX_SAFE_INTEGER);
    if (offset % alignment !== 0) {
      throw new FormatError(file, name, `data offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    tensors.push({ name, dims, type, offset });
  }
  const dataOffset = alignUp(r.pos, alignment);
  return { version, metadata, tensors, alignment, dataOffset };
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Bytes of a tensor of a plain type; throws for block types this project does not read. */
export function tensorByteSize(t: TensorInfo, file: string): number {
  const es = tensorTypeSize(t.type);
  if (es === undefined) {
    throw new FormatError(file, t.name, `tensor type ${tensorTypeName(t.type)} is not one this engine reads`);
  }
  return t.dims.reduce((a, b) => a * b, 1) * es;
}

// ---- writing ----

class Writer {
  private chunks: Uint8Array[] = [];
  private enc = new TextEncoder();
  size = 0;
  private push(b: Uint8Array) { this.chunks.push(b); this.size += b.length; }
  private num(n: number, fn: (v: DataView) => void) { const b = new Uint8Array(n); fn(new DataView(b.buffer)); this.push(b); }
  u8(v: number) { this.num(1, (d) => d.setUint8(0, v)); }
  i8(v: number) { this.num(1, (d) => d.setInt8(0, v)); }
  u16(v: number) { this.num(2, (d) => d.setUint16(0, v, true)); }
  i16(v: number) { this.num(2, (d) => d.setInt16(0, v, true)); }
  // DataView wraps out-of-range values silently (1e12 would be stored as 3567587328): refuse instead.
  u32(v: number) { if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new RangeError(`internal: ${v} does not fit a GGUF u32`); this.num(4, (d) => d.setUint32(0, v, true)); }
  i32(v: number) { this.num(4, (d) => d.setInt32(0, v, true)); }
  f32(v: number) { this.num(4, (d) => d.setFloat32(0, v, true)); }
  f64(v: number) { this.num(8, (d) => d.setFloat64(0, v, true)); }
  u64(v: number | bigint) { this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  i64(v: bigint) { this.num(8, (d) => d.setBigInt64(0, v, true)); }
  string(s: string) { const b = this.enc.encode(s); this.u64(b.length); this.push(b); }
  /** Typed arrays of 4-byte elements in bulk (the tokenizer's scores and types are 32k long). */
  raw32(a: Float32Array | Int32Array | Uint32Array) {
    const b = new Uint8Array(a.length * 4);
    const d = new DataView(b.buffer);
    if (a instanceof Float32Array) for (let i = 0; i < a.length; i++) d.setFloat32(i * 4, a[i], true);
    else if (a instanceof Int32Array) for (let i = 0; i < a.length; i++) d.setInt32(i * 4, a[i], true);
    else for (let i = 0; i < a.length; i++) d.setUint32(i * 4, a[i], true);
    this.push(b);
  }
  pad(to: number) { const n = alignUp(this.size, to) - this.size; if (n) this.push(new Uint8Array(n)); }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}

function writeScalar(w: Writer, type: ValueType, v: unknown): void {
  switch (type) {
    case ValueType.U8: return w.u8(v as number);
    case ValueType.I8: return w.i8(v as number);
    case ValueType.U16: return w.u16(v as number);
    case ValueType.I16: return w.i16(v as number);
    case ValueType.U32: return w.u32(v as number);
    case ValueType.I32: return w.i32(v as number);
    case ValueType.F32: return w.f32(v as number);
    case ValueType.F64: return w.f64(v as number);
    case ValueType.U64: return w.u64(v as bigint);
    case ValueType.I64: return w.i64(v as bigint);
    case ValueType.BOOL: return w.u8(v ? 1 : 0);
    case ValueType.STRING: return w.string(v as string);
    default: throw new Error(`cannot write metadata value type ${type}`);
  }
}

/**
 * Encodes the header (metadata, tensor records, padding to the alignment). Tensor offsets are
 * assigned here, in the order given, each aligned; returns the header bytes, the tensors with their
 * offsets and the total data size.
 */
export function encodeHeader(metadata: Metadata, tensors: { name: string; dims: number[]; type: number; size: number }[], alignment: number): { header: Uint8Array; tensors: TensorInfo[]; dataSize: number } {
  if (alignment !== 32 && !metadata.has('general.alignment')) {
    // Readers assume 32 without this key; the data section would be misplaced.
    metadata = new Map(metadata).set('general.alignment', { type: ValueType.U32, value: alignment });
  }
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, v] of metadata) {
    w.string(key);
    w.u32(v.type);
    if (v.type === ValueType.ARRAY) {
      w.u32(v.elementType);
      w.u64(v.value.length);
      if (v.value instanceof Float32Array || v.value instanceof Int32Array || v.value instanceof Uint32Array) w.raw32(v.value);
      else for (let i = 0; i < v.value.length; i++) writeScalar(w, v.elementType, (v.value as ArrayLike<unknown>)[i]);
    } else {
      writeScalar(w, v.type, v.value);
    }
  }
  let offset = 0;
  const infos: TensorInfo[] = [];
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    infos.push({ name: t.name, dims: t.dims, type: t.type, offset });
    offset = alignUp(offset + t.size, alignment);
  }
  w.pad(alignment);
  return { header: w.bytes(), tensors: infos, dataSize: offset };
}

// ---- typed metadata access ----

export function metaNumber(md: Metadata, key: string, file: string, required = true): number {
  const v = md.get(key);
  if (v === undefined) {
    if (!required) return NaN;
    throw new FormatError(file, key, 'missing from the metadata');
  }
  if (v.type === ValueType.U64 || v.type === ValueType.I64) return Number(v.value);
  if (typeof v.value !== 'number') throw new FormatError(file, key, 'expected a number');
  return v.value;
}
export function metaString(md: Metadata, key: string, file: string, required = true): string | undefined {
  const v = md.get(key);
  if (v === undefined) {
    if (!required) return undefined;
    throw new FormatError(file, key, 'missing from the metadata');
  }
  if (v.type !== ValueType.STRING) throw new FormatError(file, key, 'expected a string');
  return v.value;
}
export function metaBool(md: Metadata, key: string, file: string, fallback?: boolean): boolean {
  const v = md.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(file, key, 'missing from the metadata');
  }
  if (v.type !== ValueType.BOOL) throw new FormatError(file, key, 'expected a bool');
  return v.value;
}
export function metaArray(md: Metadata, key: string, file: string, elementType: ValueType, required = true): ArrayLike<unknown> | undefined {
  const v = md.get(key);
  if (v === undefined) {
    if (!required) return undefined;
    throw new FormatError(file, key, 'missing from the metadata');
  }
  if (v.type !== ValueType.ARRAY || v.elementType !== elementType) {
    throw new FormatError(file, key, `expected an array of value type ${elementType}`);
  }
  return v.value;
}

export const meta = {
  str: (value: string): MetaValue => ({ type: ValueType.STRING, value }),
  u32: (value: number): MetaValue => ({ type: ValueType.U32, value }),
  f32: (value: number): MetaValue => ({ type: ValueType.F32, value }),
  bool: (value: boolean): MetaValue => ({ type: ValueType.BOOL, value }),
  strings: (value: string[]): MetaValue => ({ type: ValueType.ARRAY, elementType: ValueType.STRING, value }),
  f32s: (value: Float32Array): MetaValue => ({ type: ValueType.ARRAY, elementType: ValueType.F32, value }),
  i32s: (value: Int32Array): MetaValue => ({ type: ValueType.ARRAY, elementType: ValueType.I32, value }),
};
