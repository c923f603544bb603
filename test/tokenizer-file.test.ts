// The tokenizer the way users reach it: convert a checkpoint that carries a vocabulary, then
// tokenize through the model file (the GGUF string reader, not tokenizer.model/tokenizer.json).
// Both golden vocabularies; LLaMA-2's holds piece 30143 = U+FEFF, which a BOM-stripping string
// reader turns into an empty piece and the file then cannot tokenize at all.

import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { loadModel } from '../src/node.ts';
import { convert } from '../src/convert/convert.ts';
import { tempDir, writeTinyCheckpoint } from './fixtures.ts';
import { sharedPath, sharedSuite } from './shared.ts';

interface Case { text: string; ids: number[]; decoded: string }

const dir = tempDir();
const golden = (name: string): Case[] => JSON.parse(readFileSync(sharedPath(`golden/tokenizer/${name}.json`), 'utf8'));

/** A tiny random checkpoint with LLaMA-2's 32000-token vocabulary and its real tokenizer files. */
async function llama2File(): Promise<string> {
  const ckpt = writeTinyCheckpoint(join(dir, 'llama2-vocab'), { config: { vocab_size: 32000, hidden_size: 16, intermediate_size: 24, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 1 } });
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(sharedPath(`models/llama2-tokenizer/${f}`), join(ckpt, f));
  const out = join(dir, 'llama2-vocab.gguf');
  await convert(ckpt, { output: out, quiet: true });
  return out;
}

async function storiesFile(): Promise<string> {
  const out = join(dir, 'stories.gguf');
  await convert(sharedPath('models/stories260K-hf'), { output: out, quiet: true });
  return out;
}

const FILES: [string, () => Promise<string>][] = [['llama2', llama2File], ['stories260K', storiesFile]];

for (const [vocab, make] of FILES) {
  const s = sharedSuite(`tokenizer through a converted model file: ${vocab}`);
  let file = '';
  s.before(async () => { file = await make(); });
  s('every golden case encodes and decodes as sentencepiece does', async () => {
    const model = await loadModel(file, { threads: 1, onNotice: () => {} });
    try {
      const cases = golden(vocab);
      assert.ok(cases.length > 100, `only ${cases.length} golden cases`);
      for (const c of cases) {
        assert.equal(model.tokenize(c.text, { addBos: false }), c.ids, `encode(${JSON.stringify(c.text)})`);
        assert.is(model.detokenize(c.ids), c.decoded, `decode of ${JSON.stringify(c.text)}`);
      }
    } finally {
      model.dispose();
    }
  });
  s('the CLI tokenizes through the file', () => {
    const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'tokenize', '-m', file, 'Hello world', '--json'], { encoding: 'utf8', timeout: 60000 });
    assert.is(r.status, 0, r.stderr);
    const ids = JSON.parse(r.stdout).ids ?? JSON.parse(r.stdout).map?.((t: any) => t.id);
    assert.ok(Array.isArray(ids) && ids.length >= 2 && ids[0] === 1, r.stdout);
  });
  s.run();
}

const bom = sharedSuite('tokenizer through a converted model file: strings round-trip byte for byte');
bom('piece 30143 of LLaMA-2 is U+FEFF in the file and after reading it back', async () => {
  const model = await loadModel(join(dir, 'llama2-vocab.gguf'), { threads: 1, onNotice: () => {} });
  try {
    assert.is(model.detokenize([30143]), '\uFEFF');
  } finally {
    model.dispose();
  }
});
bom.run();
