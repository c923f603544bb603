// The bundled default model, used the way a new user does: no -m, no ../shared.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const CLI = 'bin/fairy2i-wasm.js';
const cli = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 300000 });
const s = suite('bundled default model');

s('ships in the package: models/default.gguf is a Fairy2i W2 file with lm_head quantized', () => {
  assert.ok(existsSync('models/default.gguf'), 'models/default.gguf is missing (bench/table.ts --install makes it)');
  const info = JSON.parse(cli(['info', 'models/default.gguf', '--json']).stdout);
  assert.is(info.stages, 2);
  assert.ok(info.lmHeadQuantized);
  assert.ok(info.tokenizer.usable);
  assert.ok(info.fileSize < 5e6, `${info.fileSize} bytes: a few MB at most`);
});

s('chat without -m answers on stdin (out of the box, offline)', () => {
  const r = cli(['chat', '--temperature', '0', '-n', '24'], 'In the beginning\n');
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().split(/\s+/).length >= 5, r.stdout);
});

s('run without -m streams a completion', () => {
  const r = cli(['run', '-p', 'And God said', '-n', '16', '--temperature', '0', '--json']);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  // A verse may end (EOS) before 16 tokens: then the reason is 'stop'.
  assert.ok(out.tokens.length > 3 && out.tokens.length <= 16, `${out.tokens.length} tokens`);
  assert.is(out.stopReason, out.tokens.length === 16 ? 'length' : 'stop');
  assert.ok(out.text.length > 10);
});

s("ppl reproduces the table's QAT W2 number (--precision exact), and the default is within 0.5 %", () => {
  const table = JSON.parse(readFileSync('bench/results/table.json', 'utf8'));
  const row = table.rows.find((r: any) => r.bundled);
  assert.ok(row, 'table.json has the bundled row');
  const r = cli(['ppl', '--precision', 'exact', '--json']);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(Math.abs(out.ppl - row.ppl) <= 1e-6 * row.ppl, `ppl ${out.ppl} vs table ${row.ppl}`);
  assert.is(out.count, row.count);
  const f = cli(['ppl', '--json']);
  assert.is(f.status, 0, f.stderr);
  const fast = JSON.parse(f.stdout);
  assert.ok(Math.abs(fast.ppl / row.ppl - 1) <= 0.005, `default (fast) ppl ${fast.ppl} vs table ${row.ppl}`);
  assert.is(fast.count, row.count);
});

s.run();
