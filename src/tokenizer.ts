// LLaMA's tokenizer: SentencePiece BPE with byte fallback, as the `tokenizer.*` keys of docs/format.md
// describe it. The goal is exact agreement with python sentencepiece (the goldens in
// ../shared/golden/tokenizer were made with sentencepiece 0.1.97), not with Hugging Face tokenizers:
// text such as "<s>" is plain characters here, as in sentencepiece, because control pieces are never
// matched inside text.
//
// Encoding follows sentencepiece's src/bpe_model.cc Model::Encode: split the normalized text into
// characters (user-defined pieces are matched first and frozen), then repeatedly merge the adjacent
// pair whose concatenation is a piece with the highest score, leftmost first on ties. Any pair whose
// concatenation is a piece may merge; there is no separate merge list. As in llama.cpp's
// llm_tokenizer_spm, symbols live in a doubly linked list and candidate pairs in a binary max-heap;
// a popped candidate is skipped when one of its symbols has changed since it was pushed (symbols only
// grow, so "the two lengths still add up to the candidate's length" detects that exactly).
// Final symbols that are not pieces fall back to their UTF-8 bytes as `<0xAB>` pieces, or to one
// unknown token per run when the vocabulary has no byte pieces. Pieces of type "unused" take part in
// merges but are split back into the pair that formed them, as sentencepiece's resegment does.
// For speed the text is cut where no piece can span (for LLaMA: before each '▁' that follows another
// character, i.e. into words; see splitPairs for why that cannot change the ids) and repeated words
// are encoded once per call: ~1 MB of English encodes in well under 0.1 s (bench/tokenizer.ts).
//
// Decoding follows sentencepiece's src/sentencepiece_processor.cc Decode: control pieces are
// invisible, the unknown piece reads " ⁇ ", U+2581 reads as a space, runs of byte pieces are decoded
// as UTF-8 with each structurally invalid byte becoming one U+FFFD (string_util::DecodeUTF8, which
// differs from TextDecoder's maximal-subpart rule), and the dummy-prefix space is stripped from the
// first non-byte piece while nothing has been output yet and no stripped space was seen (as the goldens
// show: the pieces ["▁", "▁"] decode to " ", not ""). With `skipSpecial: false` control
// pieces are written as their text ("<s>"), which counts as output for that rule.
//
// No platform APIs beyond ES2022: this module runs unchanged in Node, Deno, Bun and browsers.

import { Fairy2iError, FormatError } from './errors.js';

/** The vocabulary, field for field the `tokenizer.ggml.*` / `tokenizer.chat_template` keys of docs/format.md. */
export interface TokenizerVocab {
  /** `tokenizer.ggml.tokens`: pieces, '▁' (U+2581) for spaces, '<0xAB>' byte pieces. */
  tokens: string[];
  /** `tokenizer.ggml.scores`: merge priority (higher merges first). */
  scores: Float32Array;
  /** `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte. */
  types: Int32Array;
  /** `tokenizer.ggml.bos_token_id` (−1: the vocabulary has none). */
  bosId: number;
  /** `tokenizer.ggml.eos_token_id` (−1: the vocabulary has none). */
  eosId: number;
  /** `tokenizer.ggml.unknown_token_id` (−1: the vocabulary has none). */
  unkId: number;
  /** `tokenizer.ggml.add_bos_token`: encode() prepends BOS by default. */
  addBos: boolean;
  /** `tokenizer.ggml.add_eos_token`: encode() appends EOS by default. */
  addEos: boolean;
  /** `tokenizer.ggml.add_space_prefix`: sentencepiece add_dummy_prefix. */
  addSpacePrefix: boolean;
  /** `tokenizer.ggml.remove_extra_whitespaces`: sentencepiece normalizer setting. */
  removeExtraWhitespaces: boolean;
  /** `tokenizer.chat_template`: Jinja chat template, only when the source has one. */
  chatTemplate?: string;
}

/** GGUF / sentencepiece token types (the numbering is the same in both). */
export const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

export interface EncodeOptions {
  /** Prepend BOS. @default vocab.addBos */
  addBos?: boolean;
  /** Append EOS. @default vocab.addEos */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Control pieces (BOS, EOS, ...) produce nothing, as in sentencepiece; false writes their piece text. @default true */
  skipSpecial?: boolean;
}

export interface StreamDecoder {
  /** Feeds one id; returns the text that became final (possibly ''). */
  push(id: number): string;
  /** Ends the stream: returns held-back bytes, each invalid one as U+FFFD. */
  flush(): string;
}

const SPACE = '\u2581'; // sentencepiece's kSpaceSymbol
const UNK_SURFACE = ' \u2047 '; // sentencepiece's default trainer_spec.unk_surface
const REPLACEMENT = '\uFFFD';
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const VOCAB_NAME = 'tokenizer vocabulary';
// Lone surrogates cannot be UTF-8 encoded; sentencepiece sees U+FFFD for them (TextEncoder does the same).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const utf8Encoder = new TextEncoder();

export class Tokenizer {
  readonly vocab: TokenizerVocab;
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;

  /** Pieces that text can produce (normal, user defined, unused), as sentencepiece's `pieces_`. */
  private readonly pieceIds = new Map<string, number>();
  /** Byte value of each id, −1 when the id is not a byte piece. */
  private readonly byteOf: Int16Array;
  /** Id of the byte piece for each byte value, −1 when missing. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** True when all 256 byte pieces exist (byte fallback instead of unknown). */
  private readonly byteFallback: boolean;
  /** User-defined pieces by first UTF-16 unit, longest first (matched before BPE, never merged). */
  private readonly userDefined = new Map<number, string[]>();
  /** Each piece with U+2581 read as a space. */
  private readonly surfaces: string[];
  /** (left id · vocabSize + right id) → merged id for every split of every piece; built on first encode. */
  private pairs: Map<number, number> | null = null;
  /** Piece id of each BMP character: −2 not looked up yet, −1 not a piece. */
  private charIds: Int32Array | null = null;

  constructor(vocab: TokenizerVocab) {
    const n = vocab.tokens.length;
    if (n === 0) throw new FormatError(VOCAB_NAME, 'tokens', 'is empty; expected at least one piece');
    if (vocab.scores.length !== n) {
      throw new FormatError(VOCAB_NAME, 'scores', `has ${vocab.scores.length} entries, expected ${n} (one per token)`);
    }
    if (vocab.types.length !== n) {
      throw new FormatError(VOCAB_NAME, 'token_type', `has ${vocab.types.length} entries, expected ${n} (one per token)`);
    }
    for (const [field, id] of [['bos_token_id', vocab.bosId], ['eos_token_id', vocab.eosId], ['unknown_token_id', vocab.unkId]] as const) {
      if (!Number.isInteger(id) || id < -1 || id >= n) {
        throw new FormatError(VOCAB_NAME, field, `is ${id}, expected -1 (none) or an id in [0, ${n})`);
      }
    }
    this.vocab = vocab;
    this.vocabSize = n;
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.unkId = vocab.unkId;
    this.byteOf = new Int16Array(n).fill(-1);
    this.surfaces = new Array<string>(n);
    for (let id = 0; id < n; id++) {
      const piece = vocab.tokens[id];
      const type = vocab.types[id];
      if (typeof piece !== 'string') throw new FormatError(VOCAB_NAME, `tokens[${id}]`, 'is not a string');
      this.surfaces[id] = piece.split(SPACE).join(' ');
      switch (type) {
        case TokenType.NORMAL:
        case TokenType.USER_DEFINED:
        case TokenType.UNUSED:
          if (piece.length === 0) throw new FormatError(VOCAB_NAME, `tokens[${id}]`, 'is empty; a piece text can produce must not be empty');
          if (this.pieceIds.has(piece)) {
            throw new FormatError(VOCAB_NAME, `tokens[${id}]`, `duplicates tokens[${this.pieceIds.get(piece)}] (${JSON.stringify(piece)})`);
          }
          this.pieceIds.set(piece, id);
          if (type === TokenType.USER_DEFINED) {
            const first = piece.charCodeAt(0);
            const list = this.userDefined.get(first) ?? [];
            list.push(piece);
            list.sort((a, b) => b.length - a.length);
            this.userDefined.set(first, list);
          }
          break;
        case TokenType.BYTE: {
          const m = BYTE_PIECE.exec(piece);
          if (!m) throw new FormatError(VOCAB_NAME, `tokens[${id}]`, `is ${JSON.stringify(piece)} of type byte (6); expected the form <0xAB>`);
          const b = parseInt(m[1], 16);
          this.byteOf[id] = b;
          if (this.byteIds[b] < 0) this.byteIds[b] = id;
          break;
        }
        case TokenType.UNKNOWN:
        case TokenType.CONTROL:
          break;
        default:
          throw new FormatError(VOCAB_NAME, `token_type[${id}]`, `is ${type}; expected 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused or 6 byte`);
      }
    }
    this.byteFallback = this.byteIds.every((id) => id >= 0);
  }

  /** The piece of `id` as stored in the vocabulary ('▁' for spaces, '<0xAB>' for bytes). */
  piece(id: number): string {
    this.checkId(id);
    return this.vocab.tokens[id];
  }

  /** Text → ids. BOS/EOS per `opts`, defaulting to the vocabulary's addBos/addEos. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addBos ?? this.vocab.addBos) {
      if (this.bosId >= 0) out.push(this.bosId);
    }
    const normalized = this.normalize(text);
    if (normalized.length > 0) this.bpe(normalized, out);
    if (opts.addEos ?? this.vocab.addEos) {
      if (this.eosId >= 0) out.push(this.eosId);
    }
    return out;
  }

  /** Ids → text, as sentencepiece's DecodeIds. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skipSpecial = opts.skipSpecial ?? true;
    const parts: string[] = [];
    let textEmpty = true;
    let isBosWs = true; // still expecting the dummy-prefix space
    let bosWsSeen = false; // the previous non-byte piece had its leading space stripped
    let byteStart = -1; // start of the current run of byte pieces in `ids`
    const flushBytes = (end: number) => {
      const bytes: number[] = [];
      for (let i = byteStart; i < end; i++) bytes.push(this.byteOf[ids[i]]);
      const s = decodeUtf8Spm(bytes, true);
      if (s.length > 0) {
        parts.push(s);
        textEmpty = false;
      }
      byteStart = -1;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      if (this.byteOf[id] >= 0) {
        if (byteStart < 0) byteStart = i;
        continue;
      }
      if (byteStart >= 0) flushBytes(i);
      if (bosWsSeen || !textEmpty) isBosWs = false;
      const s = this.pieceSurface(id, isBosWs, skipSpecial);
      bosWsSeen = this.lastStripped;
      if (s.length > 0) {
        parts.push(s);
        textEmpty = false;
      }
    }
    if (byteStart >= 0) flushBytes(ids.length);
    return parts.join('');
  }

  /**
   * A decoder for ids arriving one at a time. The concatenation of every push() and the final flush()
   * equals decode() of all ids. push() returns only text that later ids cannot change: bytes of an
   * incomplete UTF-8 sequence are held back (so a partial character never shows as U+FFFD), and the
   * dummy-prefix space is stripped once, at the start of the stream.
   */
  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    const skipSpecial = opts.skipSpecial ?? true;
    const pending: number[] = [];
    let textEmpty = true;
    let isBosWs = true;
    let bosWsSeen = false;
    const drain = (final: boolean): string => {
      const s = decodeUtf8Spm(pending, final);
      if (s.length > 0) textEmpty = false;
      return s;
    };
    return {
      push: (id: number): string => {
        this.checkId(id);
        const b = this.byteOf[id];
        if (b >= 0) {
          pending.push(b);
          return drain(false);
        }
        const head = pending.length > 0 ? drain(true) : '';
        if (bosWsSeen || !textEmpty) isBosWs = false;
        const s = this.pieceSurface(id, isBosWs, skipSpecial);
        bosWsSeen = this.lastStripped;
        if (s.length > 0) textEmpty = false;
        return head + s;
      },
      flush: (): string => drain(true),
    };
  }

  // ---- decoding helpers ----

  /** Set by pieceSurface: whether it stripped a leading dummy-prefix space (sentencepiece's has_bos_ws). */
  private lastStripped = false;

  /** The text of one non-byte piece (sentencepiece's DecodeSentencePiece). */
  private pieceSurface(id: number, isBosWs: boolean, skipSpecial: boolean): string {
    this.lastStripped = false;
    const type = this.vocab.types[id];
    if (type === TokenType.CONTROL) return skipSpecial ? '' : this.vocab.tokens[id];
    if (type === TokenType.UNKNOWN) return UNK_SURFACE;
    const surface = this.surfaces[id];
    const { addSpacePrefix, removeExtraWhitespaces } = this.vocab;
    if (isBosWs && (addSpacePrefix || removeExtraWhitespaces) && this.vocab.tokens[id].startsWith(SPACE)) {
      // With remove_extra_whitespaces every leading space goes, so the flag stays unset.
      this.lastStripped = !removeExtraWhitespaces;
      return surface.slice(1);
    }
    return surface;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Fairy2iError('input', `token id ${id} is out of range: expected an integer in [0, ${this.vocabSize})`);
    }
  }

  // ---- encoding ----

  /** sentencepiece's normalizer with the identity rule: spaces → U+2581, dummy prefix, optional whitespace cleanup. */
  private normalize(text: string): string {
    let t = text.replace(LONE_SURROGATE, REPLACEMENT);
    if (this.vocab.removeExtraWhitespaces) t = t.replace(/^ +| +$/g, '').replace(/ {2,}/g, ' ');
    if (t.length === 0) return ''; // no dummy prefix for empty (or all-space, when cleaned) text
    t = t.split(' ').join(SPACE);
    return this.vocab.addSpacePrefix ? SPACE + t : t;
  }

  private buildPairs(): Map<number, number> {
    // Every split of every piece into two pieces is a merge rule (sentencepiece checks only that the
    // concatenation is a piece). Splits never cut a surrogate pair, since symbols never do.
    const pairs = new Map<number, number>();
    const V = this.vocabSize;
    for (const [piece, id] of this.pieceIds) {
      for (let k = 1; k < piece.length; k++) {
        const c = piece.charCodeAt(k);
        if (c >= 0xdc00 && c <= 0xdfff) continue;
        const l = this.pieceIds.get(piece.slice(0, k));
        if (l === undefined) continue;
        const r = this.pieceIds.get(piece.slice(k));
        if (r === undefined) continue;
        pairs.set(l * V + r, id);
      }
    }
    return pairs;
  }

  /**
   * Adjacent UTF-16 unit pairs (first · 65536 + second) that occur inside some piece text can
   * produce, or null when BPE must run over the whole text. Between two characters whose pair occurs
   * in no piece, no symbol can ever form, so the merges on either side never interact and each side's
   * merge order (by score, then position) is the same alone as in the whole text: splitting there
   * gives identical ids. For LLaMA this splits before every '▁' that follows another character (no
   * piece has '▁' after another character), i.e. into words. Vocabularies with "unused" pieces run
   * whole, because sentencepiece's resegmentation of those depends on the candidate order across the
   * whole text.
   */
  private splitPairs(): Set<number> | null {
    if (this.splitPairsCache === undefined) {
      let set: Set<number> | null = new Set<number>();
      for (const [piece, id] of this.pieceIds) {
        if (this.vocab.types[id] === TokenType.UNUSED) {
          set = null;
          break;
        }
        for (let k = 1; k < piece.length; k++) set.add(piece.charCodeAt(k - 1) * 65536 + piece.charCodeAt(k));
      }
      this.splitPairsCache = set;
    }
    return this.splitPairsCache;
  }
  private splitPairsCache: Set<number> | null | undefined;

  private charId(norm: string, i: number, len: number): number {
    if (len === 1) {
      const cache = (this.charIds ??= new Int32Array(65536).fill(-2));
      const c = norm.charCodeAt(i);
      let id = cache[c];
      if (id === -2) id = cache[c] = this.pieceIds.get(norm[i]) ?? -1;
      return id;
    }
    return this.pieceIds.get(norm.slice(i, i + len)) ?? -1;
  }

  /** BPE over the whole normalized text, appending ids to `out`. */
  private bpe(norm: string, out: number[]): void {
    const textStart = out.length;
    const inPiece = this.splitPairs();
    if (inPiece === null) {
      this.bpeSpan(norm, 0, norm.length, out);
    } else {
      // Repeated words are encoded once per call (the cache lives only for this call, so its memory
      // is bounded by the text).
      const cache = norm.length > 256 ? new Map<string, number[]>() : null;
      const n = norm.length;
      let from = 0;
      let c0 = norm.charCodeAt(0);
      for (let to = 1; to <= n; to++) {
        const c1 = to < n ? norm.charCodeAt(to) : -1;
        const split = to === n || ((c1 < 0xdc00 || c1 > 0xdfff) && !inPiece.has(c0 * 65536 + c1));
        c0 = c1;
        if (!split) continue;
        if (cache) {
          const word = norm.slice(from, to);
          let ids = cache.get(word);
          if (ids === undefined) {
            ids = [];
            this.bpeSpan(norm, from, to, ids);
            cache.set(word, ids);
          }
          for (let k = 0; k < ids.length; k++) out.push(ids[k]);
        } else {
          this.bpeSpan(norm, from, to, out);
        }
        from = to;
      }
    }
    if (!this.byteFallback) {
      // sentencepiece merges each run of unknown pieces into one (bpeSpan emits one per symbol).
      let w = textStart;
      for (let r = textStart; r < out.length; r++) {
        if (out[r] === this.unkId && w > textStart && out[w - 1] === this.unkId) continue;
        out[w++] = out[r];
      }
      out.length = w;
    }
  }

  // Scratch arrays for bpeSpan, grown on demand and reused (encode is synchronous and not re-entrant).
  private symCap = 0;
  private sStart = new Int32Array(0);
  private sLen = new Int32Array(0);
  private sPrev = new Int32Array(0);
  private sNext = new Int32Array(0);
  private sSym = new Int32Array(0);
  private sFrozen = new Uint8Array(0);
  private eCap = 0;
  private eLeft = new Int32Array(0);
  private eRight = new Int32Array(0);
  private eLen = new Int32Array(0);
  private eId = new Int32Array(0);
  private eScore = new Float32Array(0);
  private heap = new Int32Array(0);

  /** Sentencepiece BPE on norm[from, to), appending ids to `out` (one unknown id per unknown symbol). */
  private bpeSpan(norm: string, from: number, to: number, out: number[]): void {
    this.pairs ??= this.buildPairs();
    const types = this.vocab.types;
    const n = to - from;
    if (n <= 0) return;

    // Symbols: a doubly linked list over spans of `norm` (UTF-16 offsets), with the piece id of each
    // span (−1 when the span is not a piece) and a freeze flag for user-defined pieces.
    if (this.symCap < n) {
      const cap = Math.max(n, 2 * this.symCap, 64);
      this.symCap = cap;
      this.sStart = new Int32Array(cap);
      this.sLen = new Int32Array(cap);
      this.sPrev = new Int32Array(cap);
      this.sNext = new Int32Array(cap);
      this.sSym = new Int32Array(cap);
      this.sFrozen = new Uint8Array(cap);
    }
    const start = this.sStart;
    const len = this.sLen;
    const prev = this.sPrev;
    const next = this.sNext;
    const sym = this.sSym;
    const frozen = this.sFrozen;
    let count = 0;
    const hasUserDefined = this.userDefined.size > 0;
    for (let i = from; i < to; ) {
      let l = 0;
      if (hasUserDefined) {
        const list = this.userDefined.get(norm.charCodeAt(i));
        if (list) for (const p of list) if (p.length <= to - i && norm.startsWith(p, i)) { l = p.length; break; }
      }
      if (l > 0) {
        frozen[count] = 1;
        sym[count] = this.pieceIds.get(norm.slice(i, i + l))!;
      } else {
        const c = norm.charCodeAt(i);
        l = c >= 0xd800 && c <= 0xdbff && i + 1 < to ? 2 : 1; // lone surrogates were replaced in normalize()
        frozen[count] = 0;
        sym[count] = this.charId(norm, i, l);
      }
      start[count] = i;
      len[count] = l;
      prev[count] = count - 1;
      next[count] = count + 1;
      count++;
      i += l;
    }
    next[count - 1] = -1;

    // Candidate pairs: entries (left symbol, right symbol, merged length, merged id) in a binary heap
    // ordered by score (higher first), then left position (lower first). Each merge adds at most two.
    const need = 3 * count + 4;
    if (this.eCap < need) {
      const cap = Math.max(need, 2 * this.eCap, 256);
      this.eCap = cap;
      this.eLeft = new Int32Array(cap);
      this.eRight = new Int32Array(cap);
      this.eLen = new Int32Array(cap);
      this.eId = new Int32Array(cap);
      this.eScore = new Float32Array(cap);
      this.heap = new Int32Array(cap);
    }
    this.entries = 0;
    this.heapSize = 0;
    this.revMerge = null;
    for (let i = 1; i < count; i++) this.tryPair(norm, i - 1, i);

    const { eLeft, eRight, eLen, eId } = this;
    while (this.heapSize > 0) {
      const top = this.popTop();
      const left = eLeft[top];
      const right = eRight[top];
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== eLen[top]) continue; // stale
      len[left] += len[right];
      sym[left] = eId[top];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      this.tryPair(norm, prev[left], left);
      this.tryPair(norm, left, next[left]);
    }

    for (let s = 0; s >= 0; s = next[s]) {
      const id = sym[s];
      if (id >= 0 && types[id] !== TokenType.UNUSED) out.push(id);
      else this.resegment(norm.slice(start[s], start[s] + len[s]), id, out);
    }
  }

  // Heap state of the bpeSpan call in progress (methods, not closures: a closure per call costs
  // more than the merging for short words, e.g. under esbuild's keepNames).
  private entries = 0;
  private heapSize = 0;
  /** Resegmentation info for merges into "unused" pieces, recorded like sentencepiece's rev_merge. */
  private revMerge: Map<string, [string, string]> | null = null;

  /** Entry a goes before entry b: higher score, then leftmost. */
  private before(a: number, b: number): boolean {
    const sa = this.eScore[a];
    const sb = this.eScore[b];
    return sa > sb || (sa === sb && this.eLeft[a] < this.eLeft[b]);
  }

  /** Pushes the pair (left, right) of adjacent symbols when their concatenation is a piece. */
  private tryPair(norm: string, left: number, right: number): void {
    if (left < 0 || right < 0) return;
    const frozen = this.sFrozen;
    if (frozen[left] || frozen[right]) return;
    const sym = this.sSym;
    const start = this.sStart;
    const len = this.sLen;
    const sl = sym[left];
    const sr = sym[right];
    let merged: number | undefined;
    if (sl >= 0 && sr >= 0) merged = this.pairs!.get(sl * this.vocabSize + sr);
    else merged = this.pieceIds.get(norm.slice(start[left], start[right] + len[right])); // a non-piece character
    if (merged === undefined) return;
    const e = this.entries++;
    this.eLeft[e] = left;
    this.eRight[e] = right;
    this.eLen[e] = len[left] + len[right];
    this.eId[e] = merged;
    this.eScore[e] = this.vocab.scores[merged];
    if (this.vocab.types[merged] === TokenType.UNUSED) {
      (this.revMerge ??= new Map()).set(this.vocab.tokens[merged], [
        norm.slice(start[left], start[left] + len[left]),
        norm.slice(start[right], start[right] + len[right]),
      ]);
    }
    const heap = this.heap;
    let i = this.heapSize++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = e;
  }

  /** Removes and returns the first entry of the heap. */
  private popTop(): number {
    const heap = this.heap;
    const top = heap[0];
    const size = --this.heapSize;
    const last = heap[size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && this.before(heap[c + 1], heap[c])) c++;
      if (!this.before(heap[c], last)) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
    return top;
  }

  /**
   * Outputs a final symbol: unused pieces split back (sentencepiece's resegment), non-pieces as bytes
   * or unknown. An unused piece that no merge formed (a single character) is treated as a non-piece,
   * where sentencepiece would output its id: unused ids never come from text here.
   */
  private resegment(piece: string, id: number, out: number[]): void {
    const unused = id >= 0 && this.vocab.types[id] === TokenType.UNUSED;
    const split = unused ? this.revMerge?.get(piece) : undefined;
    if (split) {
      for (const part of split) this.resegment(part, this.pieceIds.get(part) ?? -1, out);
    } else if (id >= 0 && !unused) out.push(id);
    else if (this.byteFallback) {
      for (const b of utf8Encoder.encode(piece)) out.push(this.byteIds[b]);
    } else if (this.unkId >= 0) out.push(this.unkId);
    else {
      throw new Fairy2iError('unsupported', `cannot encode ${JSON.stringify(piece)}: the vocabulary has neither byte pieces nor an unknown piece`);
    }
  }
}

/**
 * Decodes bytes from byte pieces as sentencepiece does (string_util::DecodeUTF8 / IsValidDecodeUTF8):
 * greedily one character at a time; a byte that does not start a valid sequence (bad lead, bad trail,
 * overlong form, surrogate, above U+10FFFF, or cut off by the end of the run) becomes one U+FFFD and
 * decoding resumes at the next byte. With `final` false, it stops before a sequence that later bytes
 * could still complete, leaving those bytes in `bytes`; the consumed bytes are removed.
 */
function decodeUtf8Spm(bytes: number[], final: boolean): string {
  let s = '';
  let o = 0;
  const n = bytes.length;
  while (o < n) {
    const b0 = bytes[o];
    let need: number;
    if (b0 < 0x80) need = 1;
    else if ((b0 & 0xe0) === 0xc0) need = 2;
    else if ((b0 & 0xf0) === 0xe0) need = 3;
    else if ((b0 & 0xf8) === 0xf0) need = 4;
    else need = 0; // continuation byte or 0xF8..0xFF as lead: invalid
    if (need === 1) {
      s += String.fromCharCode(b0);
      o += 1;
      continue;
    }
    if (need > n - o) {
      // Cut off. If a byte present is already not a trail byte, no later byte can make this valid.
      let broken = false;
      for (let k = o + 1; k < n; k++) if ((bytes[k] & 0xc0) !== 0x80) broken = true;
      if (!final && !broken) break;
      s += REPLACEMENT;
      o += 1;
      continue;
    }
    let cp = -1;
    if (need === 2) {
      const b1 = bytes[o + 1];
      if ((b1 & 0xc0) === 0x80) cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      if (cp < 0x80) cp = -1;
    } else if (need === 3) {
      const b1 = bytes[o + 1];
      const b2 = bytes[o + 2];
      if ((b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80) cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = -1;
    } else if (need === 4) {
      const b1 = bytes[o + 1];
      const b2 = bytes[o + 2];
      const b3 = bytes[o + 3];
      if ((b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80 && (b3 & 0xc0) === 0x80) {
        cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      }
      if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
    }
    if (cp < 0) {
      s += REPLACEMENT;
      o += 1;
    } else {
      s += String.fromCodePoint(cp);
      o += need;
    }
  }
  bytes.splice(0, o);
  return s;
}
