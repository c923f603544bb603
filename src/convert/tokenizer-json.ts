// Reads a Hugging Face `tokenizer.json` of LLaMA's kind (model.type "BPE" with byte_fallback, made
// from a SentencePiece model) plus the optional `tokenizer_config.json`, into the same
// TokenizerVocab that `tokenizer.model` gives, so one Tokenizer (sentencepiece semantics) serves both.
//
// tokenizer.json has no scores, only a ranked merge list. Sentencepiece BPE merges the adjacent pair
// whose concatenation has the highest piece score; Hugging Face merges the pair with the lowest merge
// rank. Converters (transformers' LlamaConverter) list, for every piece, all its splits into two
// pieces, ordered by the piece's sentencepiece score, so giving each piece the score −(rank of its
// first merge) reproduces sentencepiece's priority order exactly. Pieces no merge produces (single
// characters, bytes, special tokens) get lower scores, −(merge count + id), which never matter for
// merging. Two deliberate differences from Hugging Face's own tokenizer remain, both towards
// sentencepiece (the ground truth of ../shared/golden): special tokens written as text ("<s>") are
// plain characters, not split out; and a pair whose concatenation is a piece can merge even if the
// merge list forgot that split (it never does for converted sentencepiece models).

import { compileChatTemplate } from '../chat-template.js';
import { describeJson, FormatError, preview } from '../errors.js';
import { TokenType, type TokenizerVocab } from '../tokenizer.js';

/** What tokenizer_config.json contributes (every field optional, as in the file). */
export interface TokenizerConfig {
  /** The file name used in error messages. */
  file: string;
  /** add_bos_token */
  addBos?: boolean;
  /** add_eos_token */
  addEos?: boolean;
  /** chat_template (the "default" one when the file lists named templates) */
  chatTemplate?: string;
  /** bos_token text, e.g. "<s>" */
  bosToken?: string;
  /** eos_token text, e.g. "</s>" */
  eosToken?: string;
  /** unk_token text, e.g. "<unk>" */
  unkToken?: string;
}

export interface TokenizerJsonOptions {
  /** Name of the file in error messages. @default 'tokenizer.json' */
  file?: string;
  /** Settings from tokenizer_config.json (readTokenizerConfig), which take precedence. */
  config?: TokenizerConfig;
}

const SPACE = '\u2581';
const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

type Json = Record<string, unknown>;

function parseJson(json: string | object, file: string): Json {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new FormatError(file, '(document)', `is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError(file, '(document)', 'is not a JSON object');
  }
  return value as Json;
}


function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A token given as "<s>" or as an AddedToken object {"content": "<s>", ...}; null/absent → undefined. */
function tokenText(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  throw new FormatError(file, field, `is ${describeJson(v)}, expected a string or {"content": string}`);
}

function optBool(obj: Json, key: string, file: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FormatError(file, key, `is ${describeJson(v)}, expected true or false`);
  return v;
}

/** A template that parses (checked at convert, so a broken one never reaches a model file). */
function compiled(source: string, file: string, field: string): string {
  compileChatTemplate(source, file, field);
  return source;
}

/** Parses tokenizer_config.json (text or parsed JSON). Unknown keys are ignored: the file has many. */
export function readTokenizerConfig(json: string | object, file = 'tokenizer_config.json'): TokenizerConfig {
  const obj = parseJson(json, file);
  const config: TokenizerConfig = { file };
  const addBos = optBool(obj, 'add_bos_token', file);
  if (addBos !== undefined) config.addBos = addBos;
  const addEos = optBool(obj, 'add_eos_token', file);
  if (addEos !== undefined) config.addEos = addEos;
  const tpl = obj.chat_template;
  if (typeof tpl === 'string') config.chatTemplate = compiled(tpl, file, 'chat_template');
  else if (Array.isArray(tpl)) {
    // transformers' named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
    for (const [i, t] of tpl.entries()) {
      if (!isObject(t) || typeof t.name !== 'string' || typeof t.template !== 'string') {
        throw new FormatError(file, `chat_template[${i}]`, `is ${describeJson(t)}, expected {"name": string, "template": string}`);
      }
      if (t.name === 'default') config.chatTemplate = compiled(t.template, file, `chat_template[${i}].template`);
    }
  } else if (tpl !== undefined && tpl !== null) {
    throw new FormatError(file, 'chat_template', `is ${describeJson(tpl)}, expected a string or a list of {name, template}`);
  }
  const bos = tokenText(obj.bos_token, file, 'bos_token');
  if (bos !== undefined) config.bosToken = bos;
  const eos = tokenText(obj.eos_token, file, 'eos_token');
  if (eos !== undefined) config.eosToken = eos;
  const unk = tokenText(obj.unk_token, file, 'unk_token');
  if (unk !== undefined) config.unkToken = unk;
  return config;
}

/**
 * Returns `vocab` with tokenizer_config.json's settings applied: add_bos/add_eos and the chat
 * template when given, and the BOS/EOS/UNK ids of the named tokens (as transformers does).
 */
export function applyTokenizerConfig(vocab: TokenizerVocab, config: TokenizerConfig): TokenizerVocab {
  const out: TokenizerVocab = { ...vocab };
  if (config.addBos !== undefined) out.addBos = config.addBos;
  if (config.addEos !== undefined) out.addEos = config.addEos;
  if (config.chatTemplate !== undefined) out.chatTemplate = config.chatTemplate;
  const lookup = (text: string | undefined, field: string): number | undefined => {
    if (text === undefined) return undefined;
    const id = vocab.tokens.indexOf(text);
    if (id < 0) throw new FormatError(config.file, field, `is ${JSON.stringify(text)}, which is not a token of the vocabulary`);
    return id;
  };
  out.bosId = lookup(config.bosToken, 'bos_token') ?? out.bosId;
  out.eosId = lookup(config.eosToken, 'eos_token') ?? out.eosId;
  out.unkId = lookup(config.unkToken, 'unk_token') ?? out.unkId;
  return out;
}

/** Reads normalizer + pre_tokenizer; returns add_space_prefix, or throws for what sentencepiece BPE cannot mean. */
function readSpaceHandling(root: Json, file: string): boolean {
  let prepend = false;
  let replaced = false;
  const norm = root.normalizer;
  if (norm !== undefined && norm !== null) {
    if (!isObject(norm)) throw new FormatError(file, 'normalizer', `is ${describeJson(norm)}, expected an object or null`);
    const list: [unknown, string][] =
      norm.type === 'Sequence'
        ? Array.isArray(norm.normalizers)
          ? norm.normalizers.map((x, i) => [x, `normalizer.normalizers[${i}]`])
          : (() => { throw new FormatError(file, 'normalizer.normalizers', 'is missing; expected a list'); })()
        : [[norm, 'normalizer']];
    for (const [n, field] of list) {
      if (!isObject(n)) throw new FormatError(file, field, `is ${describeJson(n)}, expected an object`);
      if (n.type === 'Prepend' && n.prepend === SPACE) prepend = true;
      else if (n.type === 'Replace' && isObject(n.pattern) && n.pattern.String === ' ' && n.content === SPACE) replaced = true;
      else {
        throw new FormatError(file, `${field}.type`, `is ${describeJson(n.type)} (${preview(n)}); only LLaMA's Prepend("▁") and Replace(" " → "▁") are supported`);
      }
    }
  }
  const pre = root.pre_tokenizer;
  if (pre !== undefined && pre !== null) {
    if (!isObject(pre) || pre.type !== 'Metaspace') {
      throw new FormatError(file, 'pre_tokenizer.type', `is ${describeJson(isObject(pre) ? pre.type : pre)}; only null or Metaspace (LLaMA) is supported`);
    }
    if (pre.replacement !== SPACE) throw new FormatError(file, 'pre_tokenizer.replacement', `is ${describeJson(pre.replacement)}, expected "▁"`);
    if (pre.split === true) {
      throw new FormatError(file, 'pre_tokenizer.split', 'is true; sentencepiece BPE does not split at spaces before merging, so only false is supported');
    }
    replaced = true;
    const scheme = pre.prepend_scheme ?? (pre.add_prefix_space === false ? 'never' : 'always');
    if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') {
      throw new FormatError(file, 'pre_tokenizer.prepend_scheme', `is ${describeJson(scheme)}, expected "always", "first" or "never"`);
    }
    if (scheme !== 'never') prepend = true;
  }
  if (!replaced) {
    throw new FormatError(file, 'normalizer', 'does not turn " " into "▁"; expected LLaMA\'s Sequence[Prepend("▁"), Replace(" ", "▁")] or a Metaspace pre_tokenizer');
  }
  return prepend;
}

/** Parses a Hugging Face tokenizer.json (text or parsed JSON) of LLaMA's SentencePiece-BPE kind. */
export function parseTokenizerJson(json: string | object, opts: TokenizerJsonOptions = {}): TokenizerVocab {
  const file = opts.file ?? 'tokenizer.json';
  const root = parseJson(json, file);
  const model = root.model;
  if (!isObject(model)) throw new FormatError(file, 'model', `is ${describeJson(model)}, expected an object`);
  if (model.type !== 'BPE') {
    throw new FormatError(file, 'model.type', `is ${describeJson(model.type)}, expected "BPE": only LLaMA's SentencePiece BPE tokenizer is supported`);
  }
  if (model.ignore_merges === true) throw new FormatError(file, 'model.ignore_merges', 'is true; sentencepiece BPE always merges, so only false is supported');
  if (typeof model.dropout === 'number' && model.dropout > 0) {
    throw new FormatError(file, 'model.dropout', `is ${model.dropout}; BPE dropout makes encoding random, only null or 0 is supported`);
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    if (model[key] !== undefined && model[key] !== null && model[key] !== '') {
      throw new FormatError(file, `model.${key}`, `is ${describeJson(model[key])}; sentencepiece BPE has none, only null is supported`);
    }
  }
  const byteFallback = model.byte_fallback === true;
  const addSpacePrefix = readSpaceHandling(root, file);

  // Vocabulary: model.vocab plus added_tokens (which may extend it).
  if (!isObject(model.vocab)) throw new FormatError(file, 'model.vocab', `is ${describeJson(model.vocab)}, expected an object {piece: id}`);
  const entries = Object.entries(model.vocab);
  const addedRaw = root.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw new FormatError(file, 'added_tokens', `is ${describeJson(addedRaw)}, expected a list`);
  const total = entries.length + addedRaw.length;
  const tokens: (string | undefined)[] = [];
  const setToken = (id: unknown, piece: string, field: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= total) {
      const shown = typeof id === 'number' ? String(id) : describeJson(id);
      throw new FormatError(file, field, `has id ${shown}, expected an integer in [0, ${total}) for ${JSON.stringify(piece)} (ids run from 0 without gaps)`);
    }
    const old = tokens[id];
    if (old !== undefined && old !== piece) throw new FormatError(file, field, `gives id ${id} to ${JSON.stringify(piece)}, but it is already ${JSON.stringify(old)}`);
    tokens[id] = piece;
  };
  for (const [piece, id] of entries) setToken(id, piece, `model.vocab[${JSON.stringify(piece)}]`);
  const special = new Set<number>();
  const userDefined = new Set<number>();
  for (const [i, t] of addedRaw.entries()) {
    const field = `added_tokens[${i}]`;
    if (!isObject(t) || typeof t.content !== 'string') throw new FormatError(file, field, `is ${describeJson(t)}, expected {"id": number, "content": string, ...}`);
    setToken(t.id, t.content, `${field}.id`);
    (t.special === true ? special : userDefined).add(t.id as number);
  }
  const n = tokens.length;
  for (let id = 0; id < n; id++) {
    if (tokens[id] === undefined) throw new FormatError(file, 'model.vocab', `has no piece with id ${id} (ids must run from 0 to ${n - 1} without gaps)`);
  }
  const pieces = tokens as string[];
  const idOf = new Map<string, number>();
  for (let id = 0; id < n; id++) if (!idOf.has(pieces[id])) idOf.set(pieces[id], id);

  // Scores from the merge ranks (see the header comment).
  const merges = model.merges;
  if (!Array.isArray(merges)) throw new FormatError(file, 'model.merges', `is ${describeJson(merges)}, expected a list`);
  const scores = new Float32Array(n);
  const merged = new Uint8Array(n);
  for (let rank = 0; rank < merges.length; rank++) {
    const m = merges[rank];
    let a: unknown, b: unknown;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ');
      if (sp <= 0 || sp === m.length - 1 || m.indexOf(' ', sp + 1) >= 0) {
        throw new FormatError(file, `model.merges[${rank}]`, `is ${describeJson(m)}, expected "left right" (two pieces separated by one space)`);
      }
      a = m.slice(0, sp);
      b = m.slice(sp + 1);
    } else if (Array.isArray(m) && m.length === 2) [a, b] = m;
    if (typeof a !== 'string' || typeof b !== 'string') {
      throw new FormatError(file, `model.merges[${rank}]`, `is ${describeJson(m)}, expected "left right" or ["left", "right"]`);
    }
    for (const part of [a, b]) {
      if (!idOf.has(part)) throw new FormatError(file, `model.merges[${rank}]`, `uses ${JSON.stringify(part)}, which is not in model.vocab`);
    }
    const id = idOf.get(a + b);
    if (id === undefined) throw new FormatError(file, `model.merges[${rank}]`, `makes ${JSON.stringify(a + b)}, which is not in model.vocab`);
    if (!merged[id]) {
      merged[id] = 1;
      scores[id] = -rank;
    }
  }
  for (let id = 0; id < n; id++) if (!merged[id]) scores[id] = -(merges.length + id);

  // Types and special ids.
  const unkText = tokenText(model.unk_token, file, 'model.unk_token');
  const unkId = unkText === undefined ? -1 : idOf.get(unkText) ?? -1;
  if (unkText !== undefined && unkId < 0) throw new FormatError(file, 'model.unk_token', `is ${JSON.stringify(unkText)}, which is not in model.vocab`);
  const types = new Int32Array(n);
  for (let id = 0; id < n; id++) {
    if (id === unkId) types[id] = TokenType.UNKNOWN;
    else if (special.has(id)) types[id] = TokenType.CONTROL;
    else if (userDefined.has(id)) types[id] = TokenType.USER_DEFINED;
    else if (byteFallback && BYTE_PIECE.test(pieces[id])) types[id] = TokenType.BYTE;
    else types[id] = TokenType.NORMAL;
  }

  // BOS/EOS: the post-processor's template says whether and which; "<s>"/"</s>" otherwise.
  let addBos = false;
  let addEos = false;
  let bosId = idOf.get('<s>') ?? -1;
  let eosId = idOf.get('</s>') ?? -1;
  const post = root.post_processor;
  if (post !== undefined && post !== null) {
    if (!isObject(post) || post.type !== 'TemplateProcessing' || !Array.isArray(post.single)) {
      throw new FormatError(file, 'post_processor.type', `is ${describeJson(isObject(post) ? post.type : post)}; only null or TemplateProcessing (LLaMA's BOS template) is supported`);
    }
    const single = post.single as unknown[];
    const seq = single.findIndex((x) => isObject(x) && 'Sequence' in x);
    const specialAt = (i: number): string | undefined => {
      const x = single[i];
      return isObject(x) && isObject(x.SpecialToken) && typeof x.SpecialToken.id === 'string' ? x.SpecialToken.id : undefined;
    };
    if (seq < 0 || single.length > seq + 2 || seq > 1) {
      throw new FormatError(file, 'post_processor.single', `is ${preview(single, 120)}; expected [BOS?] $A [EOS?]`);
    }
    const bosText = seq === 1 ? specialAt(0) : undefined;
    const eosText = single.length === seq + 2 ? specialAt(seq + 1) : undefined;
    if (seq === 1 && bosText === undefined) throw new FormatError(file, 'post_processor.single[0]', 'is not a SpecialToken');
    if (single.length === seq + 2 && eosText === undefined) throw new FormatError(file, `post_processor.single[${seq + 1}]`, 'is not a SpecialToken');
    if (bosText !== undefined) {
      addBos = true;
      const id = idOf.get(bosText);
      if (id === undefined) throw new FormatError(file, 'post_processor.single[0]', `names ${JSON.stringify(bosText)}, which is not in the vocabulary`);
      bosId = id;
    }
    if (eosText !== undefined) {
      addEos = true;
      const id = idOf.get(eosText);
      if (id === undefined) throw new FormatError(file, `post_processor.single[${seq + 1}]`, `names ${JSON.stringify(eosText)}, which is not in the vocabulary`);
      eosId = id;
    }
  }

  const vocab: TokenizerVocab = {
    tokens: pieces,
    scores,
    types,
    bosId,
    eosId,
    unkId,
    addBos,
    addEos,
    addSpacePrefix,
    // Hugging Face has no such normalizer step for LLaMA; sentencepiece's LLaMA setting is false.
    removeExtraWhitespaces: false,
  };
  return opts.config ? applyTokenizerConfig(vocab, opts.config) : vocab;
}
