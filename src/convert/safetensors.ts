// Reads Hugging Face safetensors files one tensor at a time (never the whole file), widening
// F16/BF16 to float32. Layout: u64 LE header length, JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}} relative to the data section, then the data.

import { closeSync, fstatSync, readSync } from 'node:fs';
import { openInputFile } from './read-input.js';
import { FormatError, preview } from '../errors.js';
import { halfToFloat } from '../half.js';

export interface SafeTensor {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

const DTYPE_SIZE = { F32: 4, F16: 2, BF16: 2 } as const;
const MAX_HEADER = 100 * 1024 * 1024;

/**
 * The header length from a file's first 8 bytes, checked against the file size (`path` names the
 * file, or the URL, in errors).
 */
export function safetensorsHeaderLength(first8: Uint8Array, size: number, path: string): number {
  if (size < 8 || first8.length < 8) {
    throw new FormatError(path, 'header length', `file is ${size} bytes, too short for a safetensors header`);
  }
  const len = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(size - 8)) {
    throw new FormatError(path, 'header length', `says ${len} bytes but the file has only ${size - 8} after it`);
  }
  if (len > BigInt(MAX_HEADER)) throw new FormatError(path, 'header length', `${len} bytes is larger than ${MAX_HEADER}`);
  return Number(len);
}

/** Parses the JSON header (the `len` bytes after the length) of a safetensors file of `size` bytes. */
export function parseSafetensorsHeader(json: Uint8Array, size: number, path: string): Map<string, SafeTensor> {
  const tensors = new Map<string, SafeTensor>();
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    throw new FormatError(path, 'header', `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError(path, 'header', 'is not a JSON object');
  }
  const dataStart = 8 + json.length;
  const dataSize = size - dataStart;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new FormatError(path, name, `is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : preview(v, 40)}, expected {"dtype", "shape", "data_offsets"}`);
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_SIZE)) {
      throw new FormatError(path, name, `dtype ${preview(t.dtype)} is not supported (expected F32, F16 or BF16)`);
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new FormatError(path, name, `shape ${preview(shape)} is not a list of sizes`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new FormatError(path, name, `data_offsets ${preview(off)} are not [begin, end]`);
    }
    if (off[1] > dataSize) {
      throw new FormatError(path, name, `data_offsets ${JSON.stringify(off)} run past the end of the data (${dataSize} bytes)`);
    }
    const dtype = t.dtype as SafeTensor['dtype'];
    const numel = shape.reduce((a: number, b: number) => a * b, 1);
    if (off[1] - off[0] !== numel * DTYPE_SIZE[dtype]) {
      throw new FormatError(path, name, `has ${off[1] - off[0]} bytes of data, shape ${JSON.stringify(shape)} ${dtype} needs ${numel * DTYPE_SIZE[dtype]}`);
    }
    tensors.set(name, { name, dtype, shape, begin: dataStart + off[0], end: dataStart + off[1] });
  }
  return tensors;
}

/**
 * A tensor as float32, checking every value is finite; `read(dst, pos)` fills dst with the file's
 * bytes at absolute position pos.
 */
export function readTensorF32(t: SafeTensor, read: (dst: Uint8Array, pos: number) => void, path: string): Float32Array {
  const bytes = t.end - t.begin;
  const numel = bytes / DTYPE_SIZE[t.dtype];
  const out = new Float32Array(numel);
  // Half sources are checked for Inf/NaN (exponent bits all ones) while widening, which saves a
  // second pass over the float32 copy (about a third of the read time of a BF16 7B checkpoint);
  // only F32 data, or a half tensor that has such a value, goes through the element loop below,
  // which finds the first one for the error.
  let scan = t.dtype === 'F32';
  if (t.dtype === 'F32') {
    read(new Uint8Array(out.buffer), t.begin);
  } else {
    // Widen in chunks so a 7B embedding never needs a second full-size staging buffer.
    const chunkElems = 1 << 20;
    const buf = new Uint8Array(chunkElems * 2);
    const u32 = new Uint32Array(out.buffer);
    let bad = 0;
    for (let e = 0; e < numel; e += chunkElems) {
      const cnt = Math.min(chunkElems, numel - e);
      read(buf.subarray(0, cnt * 2), t.begin + e * 2);
      const h = new Uint16Array(buf.buffer, 0, cnt);
      if (t.dtype === 'BF16') {
        for (let i = 0; i < cnt; i++) { const v = h[i]; u32[e + i] = v << 16; bad |= +((v & 0x7f80) === 0x7f80); }
      } else {
        for (let i = 0; i < cnt; i++) { const v = h[i]; out[e + i] = halfToFloat(v); bad |= +((v & 0x7c00) === 0x7c00); }
      }
    }
    scan = bad !== 0;
  }
  for (let i = 0; scan && i < numel; i++) {
    if (!Number.isFinite(out[i])) {
      const row = t.shape.length === 2 ? ` (row ${Math.floor(i / t.shape[1])}, column ${i % t.shape[1]})` : '';
      throw new FormatError(path, t.name, `contains ${out[i]} at element ${i}${row}; every weight must be finite`);
    }
  }
  return out;
}

/** A local safetensors file. */
export class SafetensorsFile {
  readonly tensors: Map<string, SafeTensor>;
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openInputFile(path, 'safetensors file');
    try {
      const size = fstatSync(this.fd).size;
      const first8 = new Uint8Array(8);
      const got = size >= 8 ? readSync(this.fd, first8, 0, 8, 0) : 0;
      const n = safetensorsHeaderLength(first8.subarray(0, got), size, path);
      const json = new Uint8Array(n);
      readFully(this.fd, json, 8, path, 'header');
      this.tensors = parseSafetensorsHeader(json, size, path);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** Reads a tensor as float32, checking every value is finite. */
  readF32(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(this.path, name, 'tensor missing');
    return readTensorF32(t, (dst, pos) => readFully(this.fd, dst, pos, this.path, name), this.path);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readFully(fd: number, dst: Uint8Array, pos: number, path: string, name: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = readSync(fd, dst, done, Math.min(dst.length - done, 1 << 30), pos + done);
    if (n === 0) throw new FormatError(path, name, `file ended while reading the tensor data at byte ${pos + done}`);
    done += n;
  }
}
