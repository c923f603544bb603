// Tokenizer tests. Ground truth: ../shared/golden/tokenizer/{stories260K,llama2}.json, made with python
// sentencepiece 0.1.97 from the tokenizer.model files (ids without BOS). Every golden case must come
// out exactly, through each way of loading a vocabulary: tokenizer.model, tokenizer.json (+
// tokenizer_config.json) and, for stories260K, llama2.c's tok512.bin. Beyond the goldens, a naive
// O(n²) BPE written from the definition checks the heap/linked-list encoder on random text, and a
// random-id property test checks the stream decoder against decode().

import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fairy2iError, FormatError } from '../src/errors.ts';
import { parseSentencePieceModel } from '../src/convert/sentencepiece-model.ts';
import { TokenType, Tokenizer, type TokenizerVocab } from '../src/tokenizer.ts';
import { parseTokenizerJson, readTokenizerConfig } from '../src/convert/tokenizer-json.ts';
import { parseLlama2cTokenizer } from '../src/convert/tokenizer-llama2c.ts';
import { manifest, sharedDir, sharedPath, sharedSuite } from './shared.ts';

interface Case { text: string; ids: number[]; pieces: string[]; decoded: string; group: string }

const SPACE = '\u2581';
const shared = sharedDir();
const read = (rel: string) => new Uint8Array(readFileSync(sharedPath(rel)));
const readText = (rel: string) => readFileSync(sharedPath(rel), 'utf8');
const goldenCache = new Map<string, Case[]>();
const golden = (name: string): Case[] => {
  if (!goldenCache.has(name)) goldenCache.set(name, JSON.parse(readText(`golden/tokenizer/${name}.json`)));
  return goldenCache.get(name)!;
};
const hfConfig = (dir: string) => readTokenizerConfig(readText(`models/${dir}/tokenizer_config.json`), `${dir}/tokenizer_config.json`);

// The vocabularies and every way of loading them. Loaders are called lazily (only when ../shared exists).
const SOURCES: { vocab: 'stories260K' | 'llama2'; source: string; load: () => TokenizerVocab }[] = [
  { vocab: 'stories260K', source: 'tokenizer.model', load: () => parseSentencePieceModel(read('models/stories260K-hf/tokenizer.model'), { config: hfConfig('stories260K-hf') }) },
  { vocab: 'stories260K', source: 'tokenizer.json', load: () => parseTokenizerJson(readText('models/stories260K-hf/tokenizer.json'), { config: hfConfig('stories260K-hf') }) },
  { vocab: 'stories260K', source: 'tok512.bin (llama2.c)', load: () => parseLlama2cTokenizer(read('models/stories260K-llama2c/tok512.bin'), 512) },
  { vocab: 'llama2', source: 'tokenizer.model', load: () => parseSentencePieceModel(read('models/llama2-tokenizer/tokenizer.model'), { config: hfConfig('llama2-tokenizer') }) },
  { vocab: 'llama2', source: 'tokenizer.json', load: () => parseTokenizerJson(readText('models/llama2-tokenizer/tokenizer.json'), { config: hfConfig('llama2-tokenizer') }) },
];
const tokCache = new Map<string, Tokenizer>();
const tokenizer = (vocab: string, source = 'tokenizer.model'): Tokenizer => {
  const key = `${vocab} ${source}`;
  if (!tokCache.has(key)) tokCache.set(key, new Tokenizer(SOURCES.find((s) => s.vocab === vocab && s.source === source)!.load()));
  return tokCache.get(key)!;
};

const show = (s: string) => JSON.stringify(s);

// ---------------------------------------------------------------------------------------------
// Goldens: one suite per (vocabulary, source), one test per golden group.

for (const src of SOURCES) {
  const s = sharedSuite(`tokenizer: ${src.vocab} goldens via ${src.source}`);
  if (!shared) {
    s('golden cases: encode, pieces, decode', () => {});
    s.run();
    continue;
  }
  const cases = golden(src.vocab);
  s('the golden file has all its cases', () => {
    // An empty (or shortened) golden set must fail, not pass vacuously.
    assert.ok(cases.length > 0, `golden/tokenizer/${src.vocab}.json has no cases`);
    assert.is(cases.length, manifest().tokenizers[src.vocab].cases, 'case count differs from manifest.json');
  });
  const groups = [...new Set(cases.map((c) => c.group))].sort();
  for (const group of groups) {
    const inGroup = cases.filter((c) => c.group === group);
    s(`${group} (${inGroup.length} cases): encode = ids, pieces, decode = decoded`, () => {
      const tok = tokenizer(src.vocab, src.source);
      for (const c of inGroup) {
        const ids = tok.encode(c.text, { addBos: false });
        assert.equal(ids, c.ids, `encode(${show(c.text)})`);
        assert.equal(ids.map((id) => tok.piece(id)), c.pieces, `pieces of ${show(c.text)}`);
        assert.is(tok.decode(c.ids), c.decoded, `decode of ${show(c.text)}`);
        // With BOS (the model input) the BOS is invisible and the dummy space still goes.
        assert.equal(tok.encode(c.text), [tok.bosId, ...c.ids], `encode(${show(c.text)}) with the default BOS`);
        assert.is(tok.decode([tok.bosId, ...c.ids]), c.decoded, `decode of [BOS] + ids of ${show(c.text)}`);
      }
    });
  }
  if (src.source === 'tokenizer.json') {
    s('texts that Hugging Face tokenizers split at special tokens ("<s>" as text) agree with sentencepiece', () => {
      // manifest: HF tokenizers (Rust and JS) differ from sentencepiece on exactly these, because they
      // match added special tokens inside text. This engine follows sentencepiece: they are characters.
      const texts: string[] = manifest().tokenizers[src.vocab].tokenizer_json_with_hf_tokenizers_rust.differing_texts;
      assert.is(texts.length, 11);
      const tok = tokenizer(src.vocab, src.source);
      for (const text of texts) {
        const c = cases.find((x) => x.text === text);
        assert.ok(c, `golden case for ${show(text)}`);
        assert.equal(tok.encode(text, { addBos: false }), c!.ids, show(text));
        assert.not.ok(c!.ids.includes(tok.bosId) || c!.ids.includes(tok.eosId), 'no control id from text');
      }
    });
  }
  if (src.source.includes('llama2.c')) {
    s('the 4 texts with a literal U+2581 that run.c encodes differently agree here', () => {
      // llama2.c's run.c maps ' ' to U+2581 only through its vocabulary (which stores ' '), so a
      // literal U+2581 in the text is not a space to it; the manifest lists these 4 texts. This
      // encoder restores U+2581 in the pieces when reading tok512.bin, so the vocabulary is the
      // sentencepiece one and these texts encode exactly as sentencepiece does.
      const texts: string[] = manifest().tokenizers[src.vocab].llama2c_run_c_encode.differing_texts;
      assert.equal(texts, [SPACE, `${SPACE}hello`, `hello${SPACE}world`, ` ${SPACE} `]);
      const tok = tokenizer(src.vocab, src.source);
      for (const text of texts) assert.equal(tok.encode(text, { addBos: false }), cases.find((c) => c.text === text)!.ids, show(text));
    });
  }
  s.run();
}

// ---------------------------------------------------------------------------------------------
// The three loaders give the same vocabulary.

const loaders = sharedSuite('tokenizer: loaders agree');
loaders('tok512.bin gives exactly the tokenizer.model vocabulary (pieces, scores, types, settings)', () => {
  const a = SOURCES[0].load();
  const b = SOURCES[2].load();
  assert.equal(b.tokens, a.tokens);
  assert.equal(Array.from(b.scores), Array.from(a.scores));
  assert.equal(Array.from(b.types), Array.from(a.types));
  for (const k of ['bosId', 'eosId', 'unkId', 'addBos', 'addEos', 'addSpacePrefix', 'removeExtraWhitespaces'] as const) assert.is(b[k], a[k], k);
});
loaders('tokenizer.json gives the tokenizer.model pieces, types and settings, and the same merge order', () => {
  for (const [m, j] of [[0, 1], [3, 4]]) {
    const a = SOURCES[m].load();
    const b = SOURCES[j].load();
    assert.equal(b.tokens, a.tokens, `${SOURCES[m].vocab} tokens`);
    assert.equal(Array.from(b.types), Array.from(a.types), `${SOURCES[m].vocab} types`);
    for (const k of ['bosId', 'eosId', 'unkId', 'addBos', 'addEos', 'addSpacePrefix', 'removeExtraWhitespaces'] as const) assert.is(b[k], a[k], k);
    // Scores differ in value, not in order: among pieces that merges produce, score order is the same.
    const merged = a.tokens.map((_, id) => id).filter((id) => b.scores[id] > -1e6 && a.types[id] === TokenType.NORMAL && [...a.tokens[id]].length > 1);
    const byA = [...merged].sort((x, y) => a.scores[y] - a.scores[x] || x - y);
    const byB = [...merged].sort((x, y) => b.scores[y] - b.scores[x] || x - y);
    assert.equal(byB, byA, `${SOURCES[m].vocab}: merge priority order`);
  }
});
loaders('the three loaders encode random text identically', () => {
  for (const vocab of ['stories260K', 'llama2'] as const) {
    const srcs = SOURCES.filter((s) => s.vocab === vocab).map((s) => tokenizer(vocab, s.source));
    const rand = rng(7);
    for (let i = 0; i < 300; i++) {
      const text = randomText(rand, srcs[0]);
      const want = srcs[0].encode(text);
      for (const t of srcs.slice(1)) assert.equal(t.encode(text), want, show(text));
    }
  }
});
loaders('readTokenizerConfig reads the LLaMA configs', () => {
  const c = hfConfig('llama2-tokenizer');
  assert.equal(c, { file: 'llama2-tokenizer/tokenizer_config.json', addBos: true, addEos: false, bosToken: '<s>', eosToken: '</s>', unkToken: '<unk>' });
});
loaders.run();

// ---------------------------------------------------------------------------------------------
// The fast encoder against a naive one written from the definition.

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD = [' ', '  ', '   ', SPACE, '\n', '\t', 'é', 'ß', '中', '文', '😀', '👩‍💻', '\u0378', '\uFEFF', '<s>', '</s>', '<0x41>', '0', '42', '\uD800', '\uDC00x', '\u2028', 'a', 'e', '.', ','];

/** Text from random pieces of the vocabulary (spaces restored) and awkward characters. */
function randomText(rand: () => number, tok: Tokenizer): string {
  const n = Math.floor(rand() * 30);
  let s = '';
  for (let i = 0; i < n; i++) {
    if (rand() < 0.5) {
      const id = Math.floor(rand() * tok.vocabSize);
      if (tok.vocab.types[id] === TokenType.NORMAL) s += tok.piece(id).split(SPACE).join(' ');
    } else s += ODD[Math.floor(rand() * ODD.length)];
  }
  return s;
}

/** Sentencepiece BPE by its definition: repeatedly merge the best-scoring adjacent pair, leftmost on ties. O(n²). */
function naiveEncode(v: TokenizerVocab, text: string): number[] {
  let t = Array.from(text, (ch) => (ch.length === 1 && ch >= '\uD800' && ch <= '\uDFFF' ? '\uFFFD' : ch)).join('');
  if (v.removeExtraWhitespaces) t = t.trim().replace(/ +/g, ' ');
  if (t === '') return [];
  t = (v.addSpacePrefix ? SPACE : '') + t.replaceAll(' ', SPACE);
  const ids = new Map<string, number>();
  v.tokens.forEach((p, id) => { if (v.types[id] === TokenType.NORMAL) ids.set(p, id); });
  const syms = Array.from(t);
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const id = ids.get(syms[i] + syms[i + 1]);
      if (id !== undefined && v.scores[id] > bestScore) {
        best = i;
        bestScore = v.scores[id];
      }
    }
    if (best < 0) break;
    syms.splice(best, 2, syms[best] + syms[best + 1]);
  }
  const out: number[] = [];
  for (const s of syms) {
    const id = ids.get(s);
    if (id !== undefined) out.push(id);
    else for (const b of new TextEncoder().encode(s)) out.push(v.tokens.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  }
  return out;
}

const reference = sharedSuite('tokenizer: heap encoder = naive BPE');
for (const vocab of ['stories260K', 'llama2'] as const) {
  reference(`${vocab}: 400 random texts`, () => {
    const tok = tokenizer(vocab);
    const rand = rng(vocab.length);
    for (let i = 0; i < 400; i++) {
      const text = randomText(rand, tok);
      assert.equal(tok.encode(text, { addBos: false }), naiveEncode(tok.vocab, text), show(text));
    }
  });
  reference(`${vocab}: word-by-word BPE = whole-text BPE`, () => {
    // An "unused" piece makes the tokenizer run BPE over the whole text instead of word by word;
    // the piece can never form here, so the ids must be identical.
    const v = tokenizer(vocab).vocab;
    const whole = new Tokenizer({
      ...v,
      tokens: [...v.tokens, '\u0001unused'],
      scores: Float32Array.from([...v.scores, -1e9]),
      types: Int32Array.from([...v.types, TokenType.UNUSED]),
    });
    const rand = rng(99);
    const texts = golden(vocab).map((c) => c.text);
    for (let i = 0; i < 200; i++) texts.push(randomText(rand, tokenizer(vocab)));
    texts.push(texts.join(' '));
    for (const text of texts) assert.equal(whole.encode(text), tokenizer(vocab).encode(text), show(text));
  });
}
reference.run();

// ---------------------------------------------------------------------------------------------
// Streaming decoder.

function streamAll(tok: Tokenizer, ids: number[]): { text: string; pushes: string[] } {
  const d = tok.createStreamDecoder();
  const pushes = ids.map((id) => d.push(id));
  return { text: pushes.join('') + d.flush(), pushes };
}

const stream = sharedSuite('tokenizer: stream decoder');
for (const vocab of ['stories260K', 'llama2'] as const) {
  stream(`${vocab}: every golden case, id by id, with and without BOS = decode; no premature U+FFFD`, () => {
    const tok = tokenizer(vocab);
    const cases = golden(vocab);
    assert.ok(cases.length > 0);
    for (const c of cases) {
      for (const ids of [c.ids, [tok.bosId, ...c.ids]]) {
        const full = tok.decode(ids);
        const { text, pushes } = streamAll(tok, ids);
        assert.is(text, full, `stream of ${show(c.text)}`);
        if (!full.includes('\uFFFD')) {
          for (const p of pushes) assert.not.ok(p.includes('\uFFFD'), `push() gave U+FFFD for ${show(c.text)}`);
        }
      }
    }
  });
  stream(`${vocab}: random id sequences (bytes, control, invalid UTF-8) = decode`, () => {
    const tok = tokenizer(vocab);
    const rand = rng(3);
    const byteId = (b: number) => 3 + b;
    for (let i = 0; i < 2000; i++) {
      const ids: number[] = [];
      const n = Math.floor(rand() * 12);
      for (let k = 0; k < n; k++) {
        const r = rand();
        if (r < 0.5) ids.push(byteId(Math.floor(rand() * 256)));
        else if (r < 0.6) ids.push(byteId(0xc0 + Math.floor(rand() * 0x38))); // lead bytes
        else if (r < 0.75) ids.push(byteId(0x80 + Math.floor(rand() * 0x40))); // trail bytes
        else if (r < 0.85) ids.push(Math.floor(rand() * 3)); // unk, BOS, EOS
        else ids.push(Math.floor(rand() * tok.vocabSize));
      }
      assert.is(streamAll(tok, ids).text, tok.decode(ids), `ids [${ids}]`);
    }
  });
}
stream('a 4-byte character arrives only when complete', () => {
  const tok = tokenizer('stories260K');
  const ids = tok.encode('𐍈', { addBos: false }); // ▁ + 4 byte pieces
  assert.equal(ids.map((id) => tok.piece(id)), [SPACE, '<0xF0>', '<0x90>', '<0x8D>', '<0x88>']);
  const d = tok.createStreamDecoder();
  assert.equal(ids.map((id) => d.push(id)), ['', '', '', '', '𐍈']);
  assert.is(d.flush(), '');
});
stream('an incomplete sequence is flushed as one U+FFFD per byte, like decode', () => {
  const tok = tokenizer('stories260K');
  const ids = [tok.bosId, 3 + 0xe2, 3 + 0x82];
  const d = tok.createStreamDecoder();
  assert.equal(ids.map((id) => d.push(id)), ['', '', '']);
  assert.is(d.flush(), '\uFFFD\uFFFD');
  assert.is(tok.decode(ids), '\uFFFD\uFFFD');
});
stream('the leading space goes once, at the start', () => {
  const tok = tokenizer('llama2');
  const ids = tok.encode('Hello world'); // [BOS, ▁Hello, ▁world]
  const d = tok.createStreamDecoder();
  assert.equal(ids.map((id) => d.push(id)), ['', 'Hello', ' world']);
  const again = tok.encode(' Hi', { addBos: false }); // [▁, ▁Hi] or [▁▁Hi]: the text's own space stays
  assert.is(streamAll(tok, again).text, ' Hi');
});
stream.run();

// ---------------------------------------------------------------------------------------------
// Behaviour beyond the goldens, on small hand-made vocabularies.

/** A vocabulary from [piece, score, type?] rows; ids in order. */
function tinyVocab(rows: [string, number, number?][], over: Partial<TokenizerVocab> = {}): TokenizerVocab {
  return {
    tokens: rows.map((r) => r[0]),
    scores: Float32Array.from(rows, (r) => r[1]),
    types: Int32Array.from(rows, (r) => r[2] ?? TokenType.NORMAL),
    bosId: 1,
    eosId: 2,
    unkId: 0,
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    removeExtraWhitespaces: false,
    ...over,
  };
}
const SPECIALS: [string, number, number][] = [['<unk>', 0, TokenType.UNKNOWN], ['<s>', 0, TokenType.CONTROL], ['</s>', 0, TokenType.CONTROL]];

const behaviour = suite('tokenizer: behaviour');
behaviour('BOS/EOS follow the vocabulary defaults and the options', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2]]));
  assert.equal(tok.encode('a'), [1, 3, 4]);
  assert.equal(tok.encode('a', { addBos: false, addEos: true }), [3, 4, 2]);
  assert.equal(tok.encode(''), [1]);
  assert.equal(tok.encode('', { addBos: false }), []);
  const eos = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2]], { addBos: false, addEos: true }));
  assert.equal(eos.encode('a'), [3, 4, 2]);
});
behaviour('highest score merges first, leftmost on ties', () => {
  // "▁abc": ab (−1) beats bc (−2); with equal scores the left pair wins.
  const rows: [string, number, number?][] = [...SPECIALS, [SPACE, -9], ['a', -9], ['b', -9], ['c', -9], ['ab', -1], ['bc', -2]];
  assert.equal(new Tokenizer(tinyVocab(rows)).encode('abc', { addBos: false }), [3, 7, 6]);
  rows[8] = ['bc', 0];
  assert.equal(new Tokenizer(tinyVocab(rows)).encode('abc', { addBos: false }), [3, 4, 8]);
  rows[8] = ['bc', -1];
  assert.equal(new Tokenizer(tinyVocab(rows)).encode('abc', { addBos: false }), [3, 7, 6]);
});
behaviour('without byte pieces, each run of unknown characters is one unknown id (decoded " ⁇ ")', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2]]));
  assert.equal(tok.encode('a☃☃ ☃a', { addBos: false }), [3, 4, 0, 3, 0, 4]);
  assert.is(tok.decode([3, 4, 0, 4]), 'a \u2047 a');
});
behaviour('user-defined pieces are matched whole before BPE; control pieces never come from text', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['b', -3], ['ab', -1], ['<x>', 0, TokenType.USER_DEFINED], ['<', -5], ['x', -5], ['>', -5], ['<y>', 0, TokenType.CONTROL], ['y', -5]]));
  // ids: ▁ 3, a 4, b 5, ab 6, <x> 7, < 8, x 9, > 10, <y> 11, y 12
  assert.equal(tok.encode('a<x>b', { addBos: false }), [3, 4, 7, 5]);
  assert.equal(tok.encode('<y>', { addBos: false }), [3, 8, 12, 10]);
  assert.is(tok.decode([7, 11, 4]), '<x>a', 'control invisible, user-defined shown');
  assert.is(tok.decode([1, 4, 2], { skipSpecial: false }), '<s>a</s>');
});
behaviour('unused pieces merge but are split back into the pair that formed them', () => {
  // "▁abc": a+b → ab (unused), ab+c → abc (normal). "▁ab" ends as ab (unused) → a, b.
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -9], ['a', -9], ['b', -9], ['c', -9], ['ab', -1, TokenType.UNUSED], ['abc', -2], ['q', -9, TokenType.UNUSED]]));
  assert.equal(tok.encode('abc', { addBos: false }), [3, 8]);
  assert.equal(tok.encode('ab', { addBos: false }), [3, 4, 5]);
  assert.equal(tok.encode('qq', { addBos: false }), [3, 0], 'an unused single character is unknown, not its id');
});
behaviour('add_dummy_prefix false and remove_extra_whitespaces true', () => {
  const rows: [string, number, number?][] = [...SPECIALS, [SPACE, -1], ['a', -2], ['b', -2]];
  const plain = new Tokenizer(tinyVocab(rows, { addSpacePrefix: false }));
  assert.equal(plain.encode('a b', { addBos: false }), [4, 3, 5]);
  assert.is(plain.decode([3, 4]), ' a', 'no dummy prefix to strip');
  const clean = new Tokenizer(tinyVocab(rows, { removeExtraWhitespaces: true }));
  assert.equal(clean.encode('   a    b  ', { addBos: false }), clean.encode('a b', { addBos: false }));
  assert.equal(clean.encode('   ', { addBos: false }), []);
  assert.is(clean.decode([3, 3, 4]), 'a', 'all leading spaces go');
});
const shapes = sharedSuite('tokenizer: text shapes');
shapes('lone surrogates encode as U+FFFD; invalid byte runs decode with one U+FFFD per byte', () => {
  const tok = tokenizer('llama2');
  assert.equal(tok.encode('a\uD800b'), tok.encode('a\uFFFDb'));
  // E2 82 then 'A': sentencepiece gives two U+FFFD (TextDecoder would give one).
  assert.is(tok.decode([3 + 0xe2, 3 + 0x82, tok.vocab.tokens.indexOf('A')]), '\uFFFD\uFFFDA');
  assert.is(tok.decode([3 + 0xc0, 3 + 0x80]), '\uFFFD\uFFFD', 'overlong');
  assert.is(tok.decode([3 + 0xed, 3 + 0xa0, 3 + 0x80]), '\uFFFD\uFFFD\uFFFD', 'surrogate');
  assert.is(tok.decode([3 + 0xef, 3 + 0xbf, 3 + 0xbd]), '\uFFFD', 'a real U+FFFD');
});
shapes('ids out of range are rejected with the range', () => {
  const tok = tokenizer('stories260K');
  assert.throws(() => tok.decode([512]), /token id 512 is out of range: expected an integer in \[0, 512\)/);
  assert.throws(() => tok.piece(-1), /out of range/);
  assert.throws(() => tok.createStreamDecoder().push(1.5), /out of range/);
});
shapes('piece() and the special ids', () => {
  const tok = tokenizer('llama2');
  assert.is(tok.vocabSize, 32000);
  assert.equal([tok.bosId, tok.eosId, tok.unkId], [1, 2, 0]);
  assert.equal([tok.piece(0), tok.piece(1), tok.piece(2), tok.piece(3)], ['<unk>', '<s>', '</s>', '<0x00>']);
});
behaviour.run();
shapes.run();

// ---------------------------------------------------------------------------------------------
// Bad input: FormatError naming the file and the field.

/** Minimal protobuf writer for hand-made ModelProtos. */
const pb = {
  varint(v: number): number[] {
    const out: number[] = [];
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      out.push(b);
    } while (x);
    return out;
  },
  key: (field: number, wire: number) => pb.varint(field * 8 + wire),
  int: (field: number, v: number) => [...pb.key(field, 0), ...pb.varint(v)],
  bytes: (field: number, b: number[] | Uint8Array) => [...pb.key(field, 2), ...pb.varint(b.length), ...b],
  str: (field: number, s: string) => pb.bytes(field, new TextEncoder().encode(s)),
  f32(field: number, v: number): number[] {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return [...pb.key(field, 5), ...b];
  },
};
function modelProto(opts: { modelType?: number; bosId?: number; normalizer?: number[]; pieces?: [string, number, number][] } = {}): Uint8Array {
  const pieces = opts.pieces ?? [...SPECIALS, [SPACE, -1, 1], ['a', -2, 1], ['▁a', -0.5, 1]];
  const out: number[] = [];
  for (const [p, s, t] of pieces) out.push(...pb.bytes(1, [...pb.str(1, p), ...pb.f32(2, s), ...pb.int(3, t)]));
  out.push(...pb.bytes(2, [...pb.int(3, opts.modelType ?? 2), ...(opts.bosId !== undefined ? pb.int(41, opts.bosId) : []), ...pb.int(35, 1)]));
  out.push(...pb.bytes(3, opts.normalizer ?? [...pb.str(1, 'identity'), ...pb.int(3, 1), ...pb.int(4, 0)]));
  return new Uint8Array(out);
}

function throwsFormat(fn: () => unknown, file: string, field: string | RegExp, problem: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, FormatError, `expected a FormatError, got ${e}`);
    const f = e as FormatError;
    assert.is(f.code, 'format');
    assert.is(f.file, file);
    if (typeof field === 'string') assert.is(f.field, field);
    else assert.match(f.field, field);
    assert.ok(f.message.startsWith(`${file}: ${f.field}: `), `message names file and field: ${f.message}`);
    assert.match(f.message, problem);
    return;
  }
  assert.unreachable(`expected a FormatError for ${file} ${field}`);
}

const bad = suite('tokenizer: bad input');
bad('a hand-made BPE ModelProto parses, with −1 as a 10-byte varint', () => {
  const v = parseSentencePieceModel(modelProto({ bosId: -1 }), { file: 'm.model' });
  assert.equal(v.tokens, ['<unk>', '<s>', '</s>', SPACE, 'a', '▁a']);
  assert.equal(Array.from(v.types), [2, 3, 3, 1, 1, 1]);
  assert.equal([v.bosId, v.eosId, v.unkId, v.addSpacePrefix, v.removeExtraWhitespaces], [-1, 2, 0, true, false]);
  assert.equal(new Tokenizer(v).encode('a a'), [5, 5], 'no BOS when there is none');
});
bad('model_type UNIGRAM is refused', () => {
  throwsFormat(() => parseSentencePieceModel(modelProto({ modelType: 1 }), { file: 'uni/tokenizer.model' }), 'uni/tokenizer.model', 'trainer_spec.model_type', /is 1 \(UNIGRAM\), expected 2 \(BPE\)/);
});
bad('a normalization rule other than identity is refused', () => {
  const nfkc = [...pb.str(1, 'nmt_nfkc'), ...pb.bytes(2, [1, 2, 3, 4])];
  throwsFormat(() => parseSentencePieceModel(modelProto({ normalizer: nfkc }), { file: 'x.model' }), 'x.model', 'normalizer_spec.name', /"nmt_nfkc".*only the "identity"/);
});
bad('not a protobuf / empty', () => {
  throwsFormat(() => parseSentencePieceModel(new TextEncoder().encode('{"model": {}}'), { file: 'j.model' }), 'j.model', /./, /not a SentencePiece model/);
  throwsFormat(() => parseSentencePieceModel(new Uint8Array(0), { file: 'e.model' }), 'e.model', 'pieces', /is empty/);
});
bad('tokenizer.json: invalid JSON, wrong model type, missing vocab, bad merges, unsupported normalizer', () => {
  const base = () => ({
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, { type: 'Replace', pattern: { String: ' ' }, content: SPACE }] },
    model: { type: 'BPE', byte_fallback: true, unk_token: '<unk>', vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, [SPACE]: 3, a: 4, '▁a': 5 }, merges: ['▁ a'] },
  });
  const ok = parseTokenizerJson(base(), { file: 't.json' });
  assert.equal(Array.from(ok.scores).slice(3), [-4, -5, -0]);
  throwsFormat(() => parseTokenizerJson('{"model": ', { file: 'dir/tokenizer.json' }), 'dir/tokenizer.json', '(document)', /not valid JSON/);
  throwsFormat(() => parseTokenizerJson({ ...base(), model: { ...base().model, type: 'Unigram' } }, { file: 't.json' }), 't.json', 'model.type', /"Unigram".*expected "BPE"/);
  throwsFormat(() => parseTokenizerJson({ ...base(), model: { ...base().model, vocab: undefined } }, { file: 't.json' }), 't.json', 'model.vocab', /expected an object/);
  throwsFormat(() => parseTokenizerJson({ ...base(), model: { ...base().model, merges: ['a b'] } }, { file: 't.json' }), 't.json', 'model.merges[0]', /"b", which is not in model.vocab/);
  throwsFormat(() => parseTokenizerJson({ ...base(), model: { ...base().model, merges: ['▁a'] } }, { file: 't.json' }), 't.json', 'model.merges[0]', /two pieces separated by one space/);
  throwsFormat(() => parseTokenizerJson({ ...base(), normalizer: { type: 'NFKC' } }, { file: 't.json' }), 't.json', 'normalizer.type', /only LLaMA's Prepend/);
  throwsFormat(() => parseTokenizerJson({ ...base(), normalizer: null }, { file: 't.json' }), 't.json', 'normalizer', /does not turn " " into "▁"/);
  throwsFormat(() => parseTokenizerJson({ ...base(), model: { ...base().model, vocab: { '<unk>': 0, a: 2 }, merges: [] } }, { file: 't.json' }), 't.json', 'model.vocab["a"]', /has id 2, expected an integer in \[0, 2\)/);
});
bad('tokenizer_config.json: wrong types are named', () => {
  throwsFormat(() => readTokenizerConfig('{"add_bos_token": "yes"}', 'c/tokenizer_config.json'), 'c/tokenizer_config.json', 'add_bos_token', /the string "yes", expected true or false/);
  throwsFormat(() => readTokenizerConfig('[1]', 'c.json'), 'c.json', '(document)', /not a JSON object/);
});
bad('vocabulary arrays that do not match are refused', () => {
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { scores: new Float32Array(2) })), 'tokenizer vocabulary', 'scores', /has 2 entries, expected 3/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['<0xZZ>', 0, TokenType.BYTE]])), 'tokenizer vocabulary', 'tokens[3]', /expected the form <0xAB>/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { bosId: 7 })), 'tokenizer vocabulary', 'bos_token_id', /is 7/);
});
bad('every malformed vocabulary field is refused with its name (constructor checks)', () => {
  const V = 'tokenizer vocabulary';
  throwsFormat(() => new Tokenizer(tinyVocab([], { bosId: -1, eosId: -1, unkId: -1 })), V, 'tokens', /is empty; expected at least one piece/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { types: new Int32Array(4) })), V, 'token_type', /has 4 entries, expected 3 \(one per token\)/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { bosId: 1.5 })), V, 'bos_token_id', /is 1\.5, expected -1 \(none\) or an id in \[0, 3\)/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { eosId: -2 })), V, 'eos_token_id', /is -2/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS], { unkId: 3 })), V, 'unknown_token_id', /is 3/);
  const notString = tinyVocab([...SPECIALS, ['a', 0]]);
  (notString.tokens as unknown[])[3] = 7;
  throwsFormat(() => new Tokenizer(notString), V, 'tokens[3]', /is not a string/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['', 0]])), V, 'tokens[3]', /is empty; a piece text can produce must not be empty/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['a', 0], ['a', 0, TokenType.USER_DEFINED]])), V, 'tokens[4]', /duplicates tokens\[3\] \("a"\)/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['a', 0, 7]])), V, 'token_type[3]', /is 7; expected 1 normal, 2 unknown/);
  // the byte form is anchored at both ends
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['<0x41>x', 0, TokenType.BYTE]])), V, 'tokens[3]', /expected the form <0xAB>/);
  throwsFormat(() => new Tokenizer(tinyVocab([...SPECIALS, ['x<0x41>', 0, TokenType.BYTE]])), V, 'tokens[3]', /expected the form <0xAB>/);
  // the bounds themselves are accepted: -1 (none) and n - 1
  assert.is(new Tokenizer(tinyVocab([...SPECIALS], { bosId: -1, eosId: 2 })).encode('', { addEos: true }).join(), '2');
});
bad.run();

// Byte pieces, decoded as sentencepiece's DecodeUTF8: the boundaries of each sequence length.
const bytesSuite = suite('tokenizer: byte pieces at the UTF-8 boundaries');
const BYTE_ROWS: [string, number, number][] = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, TokenType.BYTE]);
const byteTok = new Tokenizer(tinyVocab([...SPECIALS, ...BYTE_ROWS, [SPACE, -1], ['a', -2]]));
const B = (...bytes: number[]) => bytes.map((b) => 3 + b);
const F = '\uFFFD';
bytesSuite('the smallest and largest code point of each length decode; overlong, bad-trail and too-large forms are U+FFFD per byte', () => {
  const cases: [number[], string][] = [
    [[0xc2, 0x80], '\u0080'], [[0xdf, 0xbf], '\u07ff'], [[0xc1, 0xbf], F + F],
    [[0xe0, 0xa0, 0x80], '\u0800'], [[0xe0, 0x9f, 0xbf], F + F + F], [[0xef, 0xbf, 0xbf], '\uffff'],
    [[0xf0, 0x90, 0x80, 0x80], '\u{10000}'], [[0xf0, 0x8f, 0xbf, 0xbf], F + F + F + F],
    [[0xf4, 0x8f, 0xbf, 0xbf], '\u{10ffff}'], [[0xf4, 0x90, 0x80, 0x80], F + F + F + F],
    // a non-trail byte where a trail byte belongs: the lead alone is invalid, the byte is read anew
    [[0xc2, 0x41], F + 'A'], [[0xe0, 0xa0, 0x41], F + F + 'A'], [[0xf0, 0x90, 0x80, 0x41], F + F + F + 'A'],
    [[0xed, 0xa0, 0x80], F + F + F], [[0x00], '\u0000'],
    // F8..FF lead nothing, even before three trail bytes that would make a valid 4-byte form
    [[0xf8, 0x90, 0x80, 0x80], F + F + F + F], [[0xff, 0x80], F + F],
  ];
  for (const [bytes, want] of cases) {
    assert.is(byteTok.decode(B(...bytes)), want, `bytes ${bytes.map((b) => b.toString(16))}`);
    const st = byteTok.createStreamDecoder();
    assert.is(B(...bytes).map((id) => st.push(id)).join('') + st.flush(), want, `streamed bytes ${bytes.map((b) => b.toString(16))}`);
  }
});
bytesSuite('the stream decoder gives up on a cut-off sequence as soon as a non-trail byte arrives', () => {
  const st = byteTok.createStreamDecoder();
  // E0 needs two trail bytes; 41 is none, so E0 is final (U+FFFD) before the third byte comes
  assert.is(st.push(B(0xe0)[0]), '');
  assert.is(st.push(B(0x41)[0]), F + 'A');
  assert.is(st.push(B(0xf0)[0]) + st.push(B(0x90)[0]), '');
  assert.is(st.push(B(0x42)[0]), F + F + 'B');
  assert.is(st.flush(), '');
});
bytesSuite('an empty byte run writes nothing and the dummy-prefix space is still stripped after it', () => {
  // a byte run that decodes to text counts as output: the space of the next piece stays
  assert.is(byteTok.decode([...B(0x41), 3 + 256]), 'A ');
  assert.is(byteTok.decode([1, 3 + 256, 3 + 257]), 'a');
});
bytesSuite.run();

// Vocabularies that the goldens do not have: ids 0 for special pieces, pieces sharing a first
// character, byte pieces missing or twice, characters that are no piece inside a piece.
const edge = suite('tokenizer: edge vocabularies');
const idsOf = (tok: Tokenizer, text: string, opts: { addBos?: boolean; addEos?: boolean } = { addBos: false }) => tok.encode(text, opts);
edge('user-defined pieces sharing a first character: the longest that matches wins, and it never merges', () => {
  for (const order of [['<x', '<xy>'], ['<xy>', '<x']]) {
    const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['<', -5], ['x', -5], ['y', -5], ['>', -5], ['xy', -1], ['>a', 5], ['a', -5],
      [order[0], 0, TokenType.USER_DEFINED], [order[1], 0, TokenType.USER_DEFINED], ['<x>a', 9], ['b', -5], ['<a', -3], ['ab', -1]]));
    // ids: ▁ 3, < 4, x 5, y 6, > 7, xy 8, >a 9, a 10, order[0] 11, order[1] 12, <x>a 13, b 14, <a 15, ab 16
    const id = (p: string) => tok.vocab.tokens.indexOf(p);
    assert.equal(idsOf(tok, '<xy>'), [3, id('<xy>')], `${order}: <xy>`);
    assert.equal(idsOf(tok, '<xy'), [3, id('<x'), 6], `${order}: <xy`);
    assert.equal(idsOf(tok, '<'), [3, 4], `${order}: <`);
    // '<ab' starts no user-defined piece (though '<x' is as long): characters, then BPE
    assert.equal(idsOf(tok, '<ab'), [3, 4, 16], `${order}: <ab`);
    // '<x>a' is a piece, but the user-defined '<x' is matched first and stays whole
    assert.equal(idsOf(tok, '<x>a'), [3, id('<x'), 9], `${order}: <x>a`);
  }
});
edge('BOS and EOS with id 0 are added; a vocabulary without EOS adds none', () => {
  const rows: [string, number, number?][] = [['<s>', 0, TokenType.CONTROL], ['</s>', 0, TokenType.CONTROL], ['<unk>', 0, TokenType.UNKNOWN], [SPACE, -1], ['a', -2]];
  assert.equal(new Tokenizer(tinyVocab(rows, { bosId: 0, eosId: 1, unkId: 2 })).encode('a', { addEos: true }), [0, 3, 4, 1]);
  assert.equal(new Tokenizer(tinyVocab(rows, { bosId: 1, eosId: 0, unkId: 2 })).encode('a', { addEos: true }), [1, 3, 4, 0]);
  const none = new Tokenizer(tinyVocab(rows, { bosId: -1, eosId: -1, unkId: 2 }));
  assert.equal(none.encode('a', { addBos: true, addEos: true }), [3, 4]);
  assert.equal(none.encode('', { addBos: true, addEos: true }), []);
});
edge('byte pieces: only all 256 give byte fallback; a duplicate byte piece decodes but the first id encodes', () => {
  // all 256 at ids 0..255 (<0x00> is id 0), then <0x00> and <0x41> again
  const rows: [string, number, number?][] = [...BYTE_ROWS, ['<unk>', 0, TokenType.UNKNOWN], ['<s>', 0, TokenType.CONTROL], ['</s>', 0, TokenType.CONTROL], [SPACE, -1],
    ['<0x00>', 0, TokenType.BYTE], ['<0x41>', 0, TokenType.BYTE]];
  const tok = new Tokenizer(tinyVocab(rows, { unkId: 256, bosId: 257, eosId: 258 }));
  assert.equal(idsOf(tok, '\u0000A'), [259, 0, 0x41]);
  assert.is(tok.decode([260, 261, 0, 0x41]), '\u0000A\u0000A');
  // a few byte pieces are not byte fallback: characters that are no piece are the unknown id
  const some = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['<0x41>', 0, TokenType.BYTE], ['<0xE2>', 0, TokenType.BYTE]]));
  assert.equal(idsOf(some, 'aA☃'), [3, 4, 0]);
  assert.is(some.decode([5, 4]), 'Aa', 'the byte pieces still decode');
});
edge('a character that is no piece merges into a piece that holds it; split back when that piece is unused', () => {
  // 'é' and '😀' are no pieces alone; 'éa' and 'a😀' are
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['éa', -1], ['a😀', -1], ['b', -2]]));
  assert.equal(idsOf(tok, 'éa'), [3, 5]);
  assert.equal(idsOf(tok, 'a😀'), [3, 6]);
  assert.equal(idsOf(tok, 'bé'), [3, 7, 0]);
  // an unused 'éa' goes back to 'é' (unknown) and 'a'
  const unused = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['éa', -1, TokenType.UNUSED]]));
  assert.equal(idsOf(unused, 'éa'), [3, 0, 4]);
});
edge('pieces with id 0: a normal piece and an unused one', () => {
  const normal0 = new Tokenizer(tinyVocab([['a', -2], ['b', -2], ['ab', -1, TokenType.UNUSED], ['<s>', 0, TokenType.CONTROL]], { bosId: 3, eosId: -1, unkId: -1, addSpacePrefix: false }));
  assert.equal(idsOf(normal0, 'ab'), [0, 1], 'the unused ab is split back into a (id 0) and b');
  const unused0 = new Tokenizer(tinyVocab([['ab', -1, TokenType.UNUSED], ['a', -2], ['b', -2], ['<unk>', 0, TokenType.UNKNOWN]], { bosId: -1, eosId: -1, unkId: 3, addSpacePrefix: false }));
  assert.equal(idsOf(unused0, 'ab'), [1, 2], 'the unused ab (id 0) is split back');
});
edge('without byte pieces and an unknown piece, text that is no piece is refused', () => {
  const tok = new Tokenizer(tinyVocab([['<s>', 0, TokenType.CONTROL], [SPACE, -1], ['a', -2]], { bosId: 0, eosId: -1, unkId: -1 }));
  assert.equal(tok.encode('a a'), [0, 1, 2, 1, 2]);
  try {
    tok.encode('a☃');
  } catch (e) {
    assert.instance(e, Fairy2iError);
    assert.is((e as Fairy2iError).code, 'unsupported');
    assert.is((e as Fairy2iError).message, 'cannot encode "☃": the vocabulary has neither byte pieces nor an unknown piece');
    return;
  }
  assert.unreachable('encode of a character that is no piece should throw');
});
edge('an id out of range is an input error', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2]]));
  for (const f of [() => tok.decode([5]), () => tok.piece(-1), () => tok.createStreamDecoder().push(0.5)]) {
    try {
      f();
    } catch (e) {
      assert.instance(e, Fairy2iError);
      assert.is((e as Fairy2iError).code, 'input');
      continue;
    }
    assert.unreachable('expected an error');
  }
});
edge('flush() with nothing held back changes nothing: the stream goes on as decode of all ids', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['▁a', -1]]));
  const st = tok.createStreamDecoder();
  assert.is(st.flush(), '');
  assert.is(st.push(1), '');
  assert.is(st.flush(), '');
  assert.is(st.push(5), 'a', 'the dummy-prefix space is still stripped');
  assert.is(st.push(5), ' a');
  assert.is(tok.decode([1, 5, 5]), 'a a');
});
edge('a character whose low surrogate is U+DFFF falls back to its four bytes, not two U+FFFD', () => {
  // 🏿 is D83C DFFF: the text must not be cut between the two units
  assert.equal(idsOf(byteTok, '🏿'), [259, ...B(0xf0, 0x9f, 0x8f, 0xbf)]);
  assert.equal(idsOf(byteTok, 'a🏿'), [259, 260, ...B(0xf0, 0x9f, 0x8f, 0xbf)]);
  assert.is(byteTok.decode(idsOf(byteTok, 'a🏿')), 'a🏿');
});
edge('an unknown run right after BOS is written even when BOS is the unknown piece', () => {
  // runs of unknown ids are merged into one; the BOS before the text is not part of such a run
  const tok = new Tokenizer(tinyVocab([['<unk>', 0, TokenType.UNKNOWN], [SPACE, -1], ['a', -2]], { bosId: 0, eosId: -1, unkId: 0, addSpacePrefix: false }));
  assert.equal(tok.encode('☃☃a'), [0, 0, 2]);
  assert.equal(tok.encode('☃☃a', { addBos: false }), [0, 2]);
});
edge('remove_extra_whitespaces keeps one space between words', () => {
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['b', -2]], { removeExtraWhitespaces: true }));
  assert.equal(idsOf(tok, '  a   b '), [3, 4, 3, 5]);
  assert.equal(idsOf(tok, 'a b'), [3, 4, 3, 5]);
});
edge('the last word is encoded also when a piece holds U+FFFF after the character one below the last', () => {
  // the split test at the text's end reads c1 = −1, i.e. the pair (last − 1, U+FFFF): 'a\uffff' for a text ending in 'b'
  const tok = new Tokenizer(tinyVocab([...SPECIALS, [SPACE, -1], ['a', -2], ['b', -2], ['a\uffff', -3]]));
  assert.equal(tok.encode('b', { addBos: false }), [3, 5]);
  assert.equal(tok.encode('a b', { addBos: false }), [3, 4, 3, 5]);
});
edge('with byte fallback, repeats of a normal piece stay apart even when unknown_token_id names it (unknown means the type)', () => {
  const rows: [string, number, number?][] = [['<s>', 0, TokenType.CONTROL], ['</s>', 0, TokenType.CONTROL], [SPACE, -1], ['a', -2], ...BYTE_ROWS];
  const tok = new Tokenizer(tinyVocab(rows, { bosId: 0, eosId: 1, unkId: 3 }));
  assert.equal(tok.encode('aa', { addBos: false }), [2, 3, 3]);
});
edge.run();

const badShared = sharedSuite('tokenizer: bad input (real files)');
badShared('truncated tokenizer.model', () => {
  const full = read('models/llama2-tokenizer/tokenizer.model');
  throwsFormat(() => parseSentencePieceModel(full.subarray(0, full.length >> 1), { file: 'cut/tokenizer.model' }), 'cut/tokenizer.model', /^pieces\[\d+\]/, /truncated: .* runs past the end/);
  // Cut right after the last piece: the pieces parse, the trainer_spec is missing.
  const small = read('models/stories260K-hf/tokenizer.model');
  let end = 0;
  while (small[end] === 0x0a) end += 2 + small[end + 1]; // pieces: key 0x0a, 1-byte length (all < 128 here)
  throwsFormat(() => parseSentencePieceModel(small.subarray(0, end), { file: 's.model' }), 's.model', 'trainer_spec', /is missing .* cut short/);
});
badShared('tok512.bin with the wrong vocab size, or cut short', () => {
  const tok = read('models/stories260K-llama2c/tok512.bin');
  throwsFormat(() => parseLlama2cTokenizer(tok, 500, { file: 'tok512.bin' }), 'tok512.bin', 'tokens', /bytes remain after 500 tokens: the checkpoint's vocab_size \(500\) does not match/);
  throwsFormat(() => parseLlama2cTokenizer(tok, 600, { file: 'tok512.bin' }), 'tok512.bin', /^tokens/, /vocab_size/);
  throwsFormat(() => parseLlama2cTokenizer(tok.subarray(0, tok.length - 3), 512, { file: 'tok512.bin' }), 'tok512.bin', 'tokens[511]', /truncated/);
});
badShared.run();
