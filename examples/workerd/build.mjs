// Lays out a directory that `workerd serve DIR/config.capnp` runs: worker.js (worker.mjs bundled
// with the library by esbuild; the wasm and model imports stay module imports), fairy2i.wasm (the
// same build/fairy2i.wasm Node and browsers load), the model file and config.capnp.
//   node examples/workerd/build.mjs MODEL.gguf OUT_DIR      (after `npm run build`)
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (rel) => fileURLToPath(new URL(rel, import.meta.url));

export async function buildWorker(modelFile, outDir) {
  const wasm = here('../../build/fairy2i.wasm');
  for (const [f, what] of [[wasm, 'the engine (npm run build:wasm)'], [here('../../dist/browser.js'), 'the browser bundle (npm run build:host)'], [modelFile, 'the model file']]) {
    if (!existsSync(f)) throw new Error(`${f}: missing ${what}`);
  }
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [here('worker.mjs')], outfile: join(outDir, 'worker.js'), bundle: true, format: 'esm', target: 'es2022',
    platform: 'browser', conditions: ['workerd', 'worker', 'browser'], external: ['./fairy2i.wasm', './model.gguf'], logLevel: 'warning',
  });
  copyFileSync(wasm, join(outDir, 'fairy2i.wasm'));
  copyFileSync(modelFile, join(outDir, 'model.gguf'));
  copyFileSync(here('config.capnp'), join(outDir, 'config.capnp'));
  return join(outDir, 'config.capnp');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [model, out] = process.argv.slice(2);
  if (!model || !out) {
    console.error('usage: node examples/workerd/build.mjs MODEL.gguf OUT_DIR');
    process.exit(2);
  }
  console.log(await buildWorker(model, out));
}
