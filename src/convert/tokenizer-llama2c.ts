// Reads a llama2.c tokenizer file (`tokenizer.bin`, `tok512.bin`; written by llama2.c's
// tokenizer.py export) into a TokenizerVocab. Layout, little-endian, no magic and no token count
// (the count is the checkpoint's vocab_size, hence the parameter):
//
//   int32 max_token_length
//   vocab_size × { float32 score, int32 byte_length, byte_length bytes of UTF-8 }
//
// tokenizer.py writes each sentencepiece piece with U+2581 replaced by ' ' and BOS/EOS as
// "\n<s>\n" / "\n</s>\n"; both are undone here so the pieces are sentencepiece's again. The types
// are not stored: llama2.c models are LLaMA-2 style, so id 0 is <unk>, 1 and 2 are control (BOS,
// EOS), 3..258 are the byte pieces <0x00>..<0xFF> (checked), and the rest are normal. The
// normalizer settings are LLaMA's (add_dummy_prefix true, remove_extra_whitespaces false), which is
// also what llama2.c's run.c encode() does.

import { FormatError, OptionError } from '../errors.js';
import { TokenType, type TokenizerVocab } from '../tokenizer.js';

export interface Llama2cTokenizerOptions {
  /** Name of the file in error messages. @default 'tokenizer.bin' */
  file?: string;
}

const BYTE_FIRST = 3; // id of <0x00>
// ignoreBOM: keep a leading U+FEFF, which is a piece of its own in LLaMA's vocabulary (id 30143).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses a llama2.c tokenizer file holding `vocabSize` tokens (the checkpoint header's vocab_size). */
export function parseLlama2cTokenizer(bytes: Uint8Array, vocabSize: number, opts: Llama2cTokenizerOptions = {}): TokenizerVocab {
  const file = opts.file ?? 'tokenizer.bin';
  if (!Number.isInteger(vocabSize) || vocabSize < BYTE_FIRST + 256) {
    throw new OptionError('vocabSize', `is ${vocabSize}; a llama2.c vocabulary has at least ${BYTE_FIRST + 256} tokens (<unk>, <s>, </s> and 256 bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Each token takes at least 8 bytes: reject an impossible count before allocating for it.
  if (bytes.length < 4 + 8 * vocabSize) {
    throw new FormatError(file, 'tokens', `the file has ${bytes.length} bytes, too few for ${vocabSize} tokens (at least ${4 + 8 * vocabSize}); it is cut short or the checkpoint's vocab_size does not belong to it`);
  }
  const maxLen = view.getInt32(0, true);
  if (maxLen <= 0) throw new FormatError(file, 'max_token_length', `is ${maxLen}, expected a positive byte count`);
  const tokens = new Array<string>(vocabSize);
  const scores = new Float32Array(vocabSize);
  const types = new Int32Array(vocabSize);
  let pos = 4;
  for (let id = 0; id < vocabSize; id++) {
    if (bytes.length - pos < 8) {
      throw new FormatError(file, `tokens[${id}]`, `truncated at byte ${pos} of ${bytes.length}: expected a float32 score and an int32 length; the file is cut short or holds fewer than vocab_size ${vocabSize} tokens`);
    }
    scores[id] = view.getFloat32(pos, true);
    const len = view.getInt32(pos + 4, true);
    pos += 8;
    if (len < 0 || len > maxLen) throw new FormatError(file, `tokens[${id}].length`, `is ${len}, expected 0..max_token_length (${maxLen})`);
    if (len > bytes.length - pos) throw new FormatError(file, `tokens[${id}]`, `truncated: ${len} bytes at byte ${pos} run past the end of the file (${bytes.length} bytes)`);
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(pos, pos + len));
    } catch {
      throw new FormatError(file, `tokens[${id}]`, 'is not valid UTF-8');
    }
    pos += len;
    if (id === 1 || id === 2) text = text.replace(/^\n/, '').replace(/\n$/, '');
    tokens[id] = text.split(' ').join('\u2581');
    if (id === 0) types[id] = TokenType.UNKNOWN;
    else if (id < BYTE_FIRST) types[id] = TokenType.CONTROL;
    else if (id < BYTE_FIRST + 256) {
      const expected = `<0x${(id - BYTE_FIRST).toString(16).toUpperCase().padStart(2, '0')}>`;
      if (text !== expected) throw new FormatError(file, `tokens[${id}]`, `is ${JSON.stringify(text)}, expected the byte piece ${expected}`);
      types[id] = TokenType.BYTE;
    } else types[id] = TokenType.NORMAL;
  }
  if (pos !== bytes.length) {
    throw new FormatError(file, 'tokens', `${bytes.length - pos} bytes remain after ${vocabSize} tokens: the checkpoint's vocab_size (${vocabSize}) does not match this tokenizer`);
  }
  return {
    tokens,
    scores,
    types,
    bosId: 1,
    eosId: 2,
    unkId: 0,
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    removeExtraWhitespaces: false,
  };
}
