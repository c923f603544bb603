// Tokenizer throughput: encode ~1 MiB of English text with the LLaMA-2 (32000) and stories260K (512)
// vocabularies from ../shared/models. Checks before it times: every golden case must encode to its
// ids, and the big text must round-trip through decode. Run: npx tsx bench/tokenizer.ts
//
// The text is /usr/share/common-licenses/* (plain English legal text, ~300 KB on Debian) repeated to
// 1 MiB, and timed once more unrepeated; without those files the golden texts are used instead (less
// typical English). Prints seconds and MB/s (median of 5 runs).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../src/tokenizer.js';
import { parseSentencePieceModel } from '../src/convert/sentencepiece-model.js';

const SHARED = fileURLToPath(new URL('../../shared', import.meta.url));
const TARGET_BYTES = 1 << 20;
const RUNS = 5;

interface Golden { text: string; ids: number[] }

function fail(msg: string): never {
  console.error(`bench/tokenizer: ${msg}`);
  process.exit(1);
}

function buildText(goldens: Golden[]): { text: string; unit: string; source: string } {
  const dir = '/usr/share/common-licenses';
  let parts: string[] = [];
  let source = dir;
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (statSync(p).isFile()) parts.push(readFileSync(p, 'utf8'));
    }
  }
  if (parts.length === 0) {
    parts = goldens.map((g) => g.text);
    source = 'golden texts';
  }
  const unit = parts.join('\n\n');
  const enc = new TextEncoder();
  const unitBytes = enc.encode(unit).length;
  let text = unit.repeat(Math.ceil(TARGET_BYTES / unitBytes));
  // Trim to about 1 MiB at a line boundary.
  const cut = text.lastIndexOf('\n', Math.floor(text.length * (TARGET_BYTES / enc.encode(text).length)));
  if (cut > 0) text = text.slice(0, cut);
  return { text, unit, source };
}

function bench(name: string, modelPath: string, goldenPath: string): void {
  if (!existsSync(modelPath) || !existsSync(goldenPath)) fail(`missing ${modelPath} or ${goldenPath} (../shared not found?)`);
  let t0 = performance.now();
  const tok = new Tokenizer(parseSentencePieceModel(readFileSync(modelPath)));
  const loadMs = performance.now() - t0;

  // Check before timing: every golden case, exactly.
  const goldens = JSON.parse(readFileSync(goldenPath, 'utf8')) as Golden[];
  if (goldens.length === 0) fail(`${goldenPath} has no cases`);
  t0 = performance.now();
  for (const g of goldens) {
    const ids = tok.encode(g.text, { addBos: false });
    if (ids.length !== g.ids.length || ids.some((id, i) => id !== g.ids[i])) {
      fail(`${name}: encode(${JSON.stringify(g.text)}) = [${ids}], expected [${g.ids}]`);
    }
  }
  const firstMs = performance.now() - t0; // includes building the pair table on first use

  const { text, unit, source } = buildText(goldens);
  const bytes = new TextEncoder().encode(text).length;
  const ids = tok.encode(text, { addBos: false });
  if (tok.decode(ids) !== text) fail(`${name}: decode(encode(text)) differs from the text`);

  const dt = performance.now();
  tok.decode(ids);
  const decodeS = (performance.now() - dt) / 1000;
  console.log(`${name.padEnd(12)} vocab ${String(tok.vocabSize).padStart(5)}  load ${loadMs.toFixed(0)} ms, ${goldens.length} goldens ok (${firstMs.toFixed(0)} ms)`);
  time(tok, text, ids.length, `${(bytes / 1e6).toFixed(2)} MB (${source}, repeated)`, bytes);
  // The text once, without the repetition (repeated words are encoded once per call, so this is the
  // rate for text that repeats only as much as natural English does).
  const unitBytes = new TextEncoder().encode(unit).length;
  time(tok, unit, tok.encode(unit, { addBos: false }).length, `${(unitBytes / 1e6).toFixed(2)} MB (the same, once)`, unitBytes);
  console.log(`${''.padEnd(12)} decode ${ids.length} tokens: ${decodeS.toFixed(3)} s`);
}

function time(tok: Tokenizer, text: string, nTokens: number, what: string, bytes: number): void {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const out = tok.encode(text, { addBos: false });
    times.push((performance.now() - t) / 1000);
    if (out.length !== nTokens) fail(`run ${r} gave ${out.length} tokens, expected ${nTokens}`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(RUNS / 2)];
  const mb = bytes / 1e6;
  console.log(
    `${''.padEnd(12)} encode ${what} -> ${nTokens} tokens: median ${median.toFixed(3)} s = ${(mb / median).toFixed(2)} MB/s (best ${times[0].toFixed(3)} s of ${RUNS})`,
  );
}

bench('llama2', join(SHARED, 'models/llama2-tokenizer/tokenizer.model'), join(SHARED, 'golden/tokenizer/llama2.json'));
bench('stories260K', join(SHARED, 'models/stories260K-hf/tokenizer.model'), join(SHARED, 'golden/tokenizer/stories260K.json'));
