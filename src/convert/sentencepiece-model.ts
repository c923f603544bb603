// Reads a SentencePiece `tokenizer.model` (a serialized protobuf ModelProto, see sentencepiece's
// src/sentencepiece_model.proto) into a TokenizerVocab. Only what LLaMA's tokenizer uses is kept:
// the pieces {piece, score, type}, trainer_spec {model_type, unk_id, bos_id, eos_id} and
// normalizer_spec {name, precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces,
// escape_whitespaces}. Settings this engine cannot honour (a non-BPE model, a non-identity
// normalization rule, whitespace as suffix) fail with a FormatError naming the field, rather than
// tokenizing differently from sentencepiece.
//
// Protobuf wire format (all little-endian): each field is a varint key (field number << 3 | wire
// type) followed by a varint (type 0), 8 bytes (1), a varint length and that many bytes (2), or
// 4 bytes (5). Types 3/4 (groups) do not occur in this proto. Proto2 defaults apply to absent fields.

import { FormatError } from '../errors.js';
import { TokenType, type TokenizerVocab } from '../tokenizer.js';
import { applyTokenizerConfig, type TokenizerConfig } from './tokenizer-json.js';

export interface SentencePieceModelOptions {
  /** Name of the file in error messages. @default 'tokenizer.model' */
  file?: string;
  /** Settings from tokenizer_config.json (readTokenizerConfig): add_bos/add_eos, chat template, special token names. */
  config?: TokenizerConfig;
}

// trainer_spec.model_type values.
const MODEL_TYPES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };
const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'group start', 'group end', '32-bit'];

/** A bounds-checked cursor over protobuf bytes; every error names the file and the field path. */
class ProtoReader {
  pos: number;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly path: string,
    pos = 0,
    readonly end = bytes.length,
  ) {
    this.pos = pos;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private fail(field: string, problem: string): never {
    throw new FormatError(this.file, field, problem);
  }

  private truncated(field: string, what: string): never {
    this.fail(field, `truncated: ${what} at byte ${this.pos} runs past the end of ${this.path || 'the file'} (byte ${this.end}); the file is cut short or not a SentencePiece model`);
  }

  /**
   * A varint as { value, low32 }: `value` exact up to 2^53 (lengths, enums), `low32` the exact low
   * 32 bits as a signed int32 (int32 fields: −1 is written as a 10-byte varint).
   */
  varint(field: string): { value: number; low32: number } {
    let value = 0;
    let low32 = 0;
    let mult = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.truncated(field, 'a varint');
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * mult;
      if (i < 5) low32 |= (b & 0x7f) << (7 * i);
      mult *= 128;
      if ((b & 0x80) === 0) return { value, low32 };
    }
    this.fail(field, `malformed varint at byte ${this.pos - 10}: longer than 10 bytes; the file is not a SentencePiece model`);
  }

  /** The next field key, or null at the end of this message. */
  key(): { field: number; wire: number } | null {
    if (this.done) return null;
    const at = this.pos;
    const { value } = this.varint(this.path || 'ModelProto');
    const field = Math.floor(value / 8);
    const wire = value % 8;
    if (field === 0 || wire > 5 || wire === 3 || wire === 4) {
      this.fail(this.path || 'ModelProto', `invalid field key ${value} at byte ${at} (field ${field}, wire type ${wire}); the file is not a SentencePiece model`);
    }
    return { field, wire };
  }

  expectWire(field: string, wire: number, expected: number): void {
    if (wire !== expected) {
      this.fail(field, `has wire type ${wire} (${WIRE_NAMES[wire]}), expected ${expected} (${WIRE_NAMES[expected]}); the file is not a SentencePiece model`);
    }
  }

  /** A length-delimited field's bytes as [start, end) of `bytes`. */
  span(field: string): [number, number] {
    const { value: n } = this.varint(field);
    if (n > this.end - this.pos) this.truncated(field, `a ${n}-byte field`);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  float32(field: string): number {
    if (this.end - this.pos < 4) this.truncated(field, 'a 4-byte float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  skip(field: string, wire: number): void {
    if (wire === 0) this.varint(field);
    else if (wire === 2) this.span(field);
    else {
      const n = wire === 1 ? 8 : 4;
      if (this.end - this.pos < n) this.truncated(field, `a ${n}-byte field`);
      this.pos += n;
    }
  }

  sub(field: string): ProtoReader {
    const [start, end] = this.span(field);
    return new ProtoReader(this.bytes, this.file, field, start, end);
  }
}

// ignoreBOM: keep a leading U+FEFF, which is a piece of its own in LLaMA's vocabulary (id 30143).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readString(r: ProtoReader, field: string): string {
  const [start, end] = r.span(field);
  try {
    return utf8.decode(r.bytes.subarray(start, end));
  } catch {
    throw new FormatError(r.file, field, 'is not valid UTF-8');
  }
}

interface Piece {
  piece: string;
  score: number;
  type: number;
}

function readPiece(r: ProtoReader, path: string): Piece {
  let piece: string | undefined;
  let score = 0;
  let type: number = TokenType.NORMAL;
  for (let k = r.key(); k; k = r.key()) {
    if (k.field === 1) {
      r.expectWire(`${path}.piece`, k.wire, 2);
      piece = readString(r, `${path}.piece`);
    } else if (k.field === 2) {
      r.expectWire(`${path}.score`, k.wire, 5);
      score = r.float32(`${path}.score`);
    } else if (k.field === 3) {
      r.expectWire(`${path}.type`, k.wire, 0);
      type = r.varint(`${path}.type`).low32;
      if (type < 1 || type > 6) {
        throw new FormatError(r.file, `${path}.type`, `is ${type}; expected 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED or 6 BYTE`);
      }
    } else r.skip(`${path}.field ${k.field}`, k.wire);
  }
  if (piece === undefined || piece.length === 0) throw new FormatError(r.file, `${path}.piece`, 'is missing or empty; every piece needs its text');
  return { piece, score, type };
}

interface TrainerSpec {
  present: boolean;
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  treatWhitespaceAsSuffix: boolean;
}

function readVarintField(r: ProtoReader, path: string, wire: number): number {
  r.expectWire(path, wire, 0);
  return r.varint(path).low32;
}

function readTrainerSpec(r: ProtoReader, spec: TrainerSpec): void {
  spec.present = true;
  for (let k = r.key(); k; k = r.key()) {
    const path = `trainer_spec.${{ 3: 'model_type', 24: 'treat_whitespace_as_suffix', 40: 'unk_id', 41: 'bos_id', 42: 'eos_id' }[k.field] ?? `field ${k.field}`}`;
    switch (k.field) {
      case 3: spec.modelType = readVarintField(r, path, k.wire); break;
      case 24: spec.treatWhitespaceAsSuffix = readVarintField(r, path, k.wire) !== 0; break;
      case 40: spec.unkId = readVarintField(r, path, k.wire); break;
      case 41: spec.bosId = readVarintField(r, path, k.wire); break;
      case 42: spec.eosId = readVarintField(r, path, k.wire); break;
      default: r.skip(path, k.wire);
    }
  }
}

interface NormalizerSpec {
  name: string;
  charsmapBytes: number;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

function readNormalizerSpec(r: ProtoReader, spec: NormalizerSpec, prefix: string): void {
  for (let k = r.key(); k; k = r.key()) {
    const path = `${prefix}.${{ 1: 'name', 2: 'precompiled_charsmap', 3: 'add_dummy_prefix', 4: 'remove_extra_whitespaces', 5: 'escape_whitespaces' }[k.field] ?? `field ${k.field}`}`;
    switch (k.field) {
      case 1: r.expectWire(path, k.wire, 2); spec.name = readString(r, path); break;
      case 2: { r.expectWire(path, k.wire, 2); const [s, e] = r.span(path); spec.charsmapBytes = e - s; break; }
      case 3: spec.addDummyPrefix = readVarintField(r, path, k.wire) !== 0; break;
      case 4: spec.removeExtraWhitespaces = readVarintField(r, path, k.wire) !== 0; break;
      case 5: spec.escapeWhitespaces = readVarintField(r, path, k.wire) !== 0; break;
      default: r.skip(path, k.wire);
    }
  }
}

function defaultNormalizer(): NormalizerSpec {
  // proto2 defaults of NormalizerSpec
  return { name: '', charsmapBytes: 0, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
}

/** Parses a SentencePiece BPE `tokenizer.model` into the vocabulary the Tokenizer and the model file use. */
export function parseSentencePieceModel(bytes: Uint8Array, opts: SentencePieceModelOptions = {}): TokenizerVocab {
  const file = opts.file ?? 'tokenizer.model';
  const r = new ProtoReader(bytes, file, '');
  const pieces: Piece[] = [];
  // proto2 defaults of TrainerSpec (model_type UNIGRAM, unk 0, bos 1, eos 2)
  const trainer: TrainerSpec = { present: false, modelType: 1, unkId: 0, bosId: 1, eosId: 2, treatWhitespaceAsSuffix: false };
  const normalizer = defaultNormalizer();
  const denormalizer = defaultNormalizer();
  for (let k = r.key(); k; k = r.key()) {
    switch (k.field) {
      case 1: {
        const path = `pieces[${pieces.length}]`;
        r.expectWire(path, k.wire, 2);
        pieces.push(readPiece(r.sub(path), path));
        break;
      }
      case 2:
        r.expectWire('trainer_spec', k.wire, 2);
        readTrainerSpec(r.sub('trainer_spec'), trainer);
        break;
      case 3:
        r.expectWire('normalizer_spec', k.wire, 2);
        readNormalizerSpec(r.sub('normalizer_spec'), normalizer, 'normalizer_spec');
        break;
      case 5:
        r.expectWire('denormalizer_spec', k.wire, 2);
        readNormalizerSpec(r.sub('denormalizer_spec'), denormalizer, 'denormalizer_spec');
        break;
      default:
        r.skip(`ModelProto field ${k.field}`, k.wire);
    }
  }

  if (pieces.length === 0) throw new FormatError(file, 'pieces', 'is empty; expected the vocabulary (is this a SentencePiece model?)');
  if (!trainer.present) {
    throw new FormatError(file, 'trainer_spec', 'is missing (it follows the pieces): the file is cut short or not a SentencePiece model');
  }
  if (trainer.modelType !== 2) {
    const name = MODEL_TYPES[trainer.modelType] ?? 'unknown';
    throw new FormatError(file, 'trainer_spec.model_type', `is ${trainer.modelType} (${name}), expected 2 (BPE): only LLaMA's SentencePiece BPE tokenizer is supported`);
  }
  if (trainer.treatWhitespaceAsSuffix) {
    throw new FormatError(file, 'trainer_spec.treat_whitespace_as_suffix', 'is true; only the default (false, LLaMA\'s setting) is supported');
  }
  if (normalizer.charsmapBytes > 0) {
    throw new FormatError(file, 'normalizer_spec.name', `is ${JSON.stringify(normalizer.name)} with a ${normalizer.charsmapBytes}-byte precompiled_charsmap; only the "identity" normalizer (LLaMA's) is supported`);
  }
  if (!normalizer.escapeWhitespaces) {
    throw new FormatError(file, 'normalizer_spec.escape_whitespaces', 'is false; only true (spaces as U+2581, LLaMA\'s setting) is supported');
  }
  if (denormalizer.charsmapBytes > 0) {
    throw new FormatError(file, 'denormalizer_spec.precompiled_charsmap', `has ${denormalizer.charsmapBytes} bytes; denormalization is not supported (LLaMA has none)`);
  }
  const n = pieces.length;
  for (const [field, id] of [['trainer_spec.unk_id', trainer.unkId], ['trainer_spec.bos_id', trainer.bosId], ['trainer_spec.eos_id', trainer.eosId]] as const) {
    if (id < -1 || id >= n) throw new FormatError(file, field, `is ${id}, expected -1 (none) or an id in [0, ${n})`);
  }
  if (trainer.unkId >= 0 && pieces[trainer.unkId].type !== TokenType.UNKNOWN) {
    throw new FormatError(file, 'trainer_spec.unk_id', `is ${trainer.unkId}, but pieces[${trainer.unkId}] (${JSON.stringify(pieces[trainer.unkId].piece)}) has type ${pieces[trainer.unkId].type}, expected 2 (UNKNOWN)`);
  }
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = pieces[i].piece;
    const first = seen.get(p);
    if (first !== undefined) throw new FormatError(file, `pieces[${i}].piece`, `${JSON.stringify(p)} is already pieces[${first}]; pieces must be unique`);
    seen.set(p, i);
  }

  const vocab: TokenizerVocab = {
    tokens: pieces.map((p) => p.piece),
    scores: Float32Array.from(pieces, (p) => p.score),
    types: Int32Array.from(pieces, (p) => p.type),
    bosId: trainer.bosId,
    eosId: trainer.eosId,
    unkId: trainer.unkId,
    // A .model has no add_bos/add_eos; these are LLaMA's (LlamaTokenizer's) defaults.
    addBos: true,
    addEos: false,
    addSpacePrefix: normalizer.addDummyPrefix,
    removeExtraWhitespaces: normalizer.removeExtraWhitespaces,
  };
  return opts.config ? applyTokenizerConfig(vocab, opts.config) : vocab;
}
