// Child of wasm-builds.test.ts, run where relaxed SIMD is on: the bundled model's logits from both
// engine builds at both precisions (a prompt evaluated in one batch, then decode steps), as SHA-256
// digests of their bytes, and the build each model reports.
import { createHash } from 'node:crypto';
import { loadModel } from '../src/node.ts';

const out: Record<string, { build: string; digest: string }> = {};
for (const wasm of ['relaxed', 'simd128'] as const) {
  for (const precision of ['fast', 'exact'] as const) {
    const model = await loadModel('models/default.gguf', { wasm, precision, threads: 1 });
    const h = createHash('sha256');
    const ids = model.tokenize('In the beginning God created the heaven and the earth. And the earth was without form, and void.');
    const all = model.evaluate(ids);
    h.update(new Uint8Array(all.buffer));
    let tok = ids[ids.length - 1];
    for (let pos = ids.length; pos < ids.length + 8; pos++) {
      const l = model.step(tok, pos)!;
      h.update(new Uint8Array(l.buffer));
      tok = l.indexOf(Math.max(...l));
    }
    out[`${wasm} ${precision}`] = { build: model.wasmBuild, digest: h.digest('hex') };
    model.dispose();
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
