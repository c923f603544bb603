// The two engine builds (src/wasm.ts WasmBuild): build/fairy2i-relaxed.wasm uses relaxed SIMD only
// where it is deterministic (i8x16.relaxed_swizzle with 4-bit indices), so its results must be the
// SIMD128 build's bit for bit; 'auto' picks it where the runtime validates relaxed SIMD, and a
// runtime without it gets the fallback or, when 'relaxed' is forced, a clear error.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fairy2iError, loadModel } from '../src/node.ts';
import { pickBuild, relaxedSimdSupported } from '../src/wasm.ts';

const s = suite('wasm builds: relaxed SIMD and SIMD128');
const here = relaxedSimdSupported();
// Node 20 runs relaxed SIMD behind a V8 flag; Node >= 22 (and Deno, Bun, Chromium) by default.
// (Under `scripts/test.mjs --relaxed` this process has the flag already; its children need it too.)
const relaxedArgs = !here || process.execArgv.includes('--experimental-wasm-relaxed-simd') ? ['--experimental-wasm-relaxed-simd'] : [];

s('the relaxed build holds relaxed SIMD instructions: it validates exactly where the probe says relaxed SIMD runs', () => {
  const relaxed = readFileSync('build/fairy2i-relaxed.wasm'), simd = readFileSync('build/fairy2i.wasm');
  assert.is(WebAssembly.validate(relaxed), here);
  assert.ok(WebAssembly.validate(simd), 'the SIMD128 build validates everywhere');
  const r = spawnSync(process.execPath, [...relaxedArgs, '--input-type=module', '-e',
    "import { readFileSync } from 'node:fs'; process.stdout.write(String(WebAssembly.validate(readFileSync('build/fairy2i-relaxed.wasm'))))"], { encoding: 'utf8' });
  assert.is(r.stdout.trim(), 'true', r.stderr);
});

s("'auto' picks relaxed where it runs, else simd128; a forced 'relaxed' without it is an 'unsupported' error", async () => {
  assert.is(pickBuild(undefined), here ? 'relaxed' : 'simd128');
  assert.is(pickBuild('simd128'), 'simd128');
  const m = await loadModel('models/default.gguf', { wasm: 'simd128' });
  assert.is(m.wasmBuild, 'simd128');
  m.dispose();
  if (!here) {
    try { await loadModel('models/default.gguf', { wasm: 'relaxed' }); assert.unreachable(); } catch (e) {
      assert.ok(e instanceof Fairy2iError && e.code === 'unsupported' && /relaxed SIMD/.test(e.message), String(e));
    }
  }
  try { await loadModel('models/default.gguf', { wasm: 'sse' as any }); assert.unreachable(); } catch (e) {
    assert.ok(e instanceof Fairy2iError && e.code === 'option' && /wasm/.test(e.message), String(e));
  }
});

s('both builds give bit-identical logits at both precisions (prompt batch and decode steps)', () => {
  const r = spawnSync(process.execPath, [...relaxedArgs, '--import', 'tsx', 'test/wasm-builds-child.ts'], { encoding: 'utf8', timeout: 120000 });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const p of ['fast', 'exact']) {
    assert.is(out[`relaxed ${p}`].build, 'relaxed');
    assert.is(out[`simd128 ${p}`].build, 'simd128');
    assert.is(out[`relaxed ${p}`].digest, out[`simd128 ${p}`].digest, `${p}: the builds' logits differ`);
  }
  assert.is.not(out['simd128 fast'].digest, out['simd128 exact'].digest, 'the precisions gave the same bits: the digest sees nothing');
});

s('the CLI: info and bench say which build runs, --wasm forces one', () => {
  const info = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'info', 'models/default.gguf', '--json', '--wasm', 'simd128'], { encoding: 'utf8' });
  assert.is(info.status, 0, info.stderr);
  assert.is(JSON.parse(info.stdout).wasm, 'simd128');
  const b = spawnSync(process.execPath, [...relaxedArgs, 'bin/fairy2i-wasm.js', 'bench', '--json', '--wasm', 'relaxed', '--threads', '1', '--prompt', '16', '--decode-prompt', '8', '--generate', '4'], { encoding: 'utf8', timeout: 120000 });
  assert.is(b.status, 0, b.stderr);
  const j = JSON.parse(b.stdout);
  assert.is(j.wasm, 'relaxed');
  assert.ok(/default\.gguf$/.test(j.model), 'bench without -m runs the bundled model');
});

s.run();
