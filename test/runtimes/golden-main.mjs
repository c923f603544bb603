// The golden check as a command, for Node, Deno (`deno run -A`) and Bun alike: imports the built
// library (dist/node.js, which finds build/fairy2i.wasm next to itself), loads the model by path
// (through node:fs, which all three provide) and prints goldenCheck's report as one JSON line.
//   <runtime> test/runtimes/golden-main.mjs MODEL_FILE GOLDEN_DIR [THREADS]
// With THREADS the model runs on that many threads, every layer split (even this tiny model's).
// Exit status 0 when every check passed, 1 when one failed, 2 on bad usage or a crash.
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { loadModel, _threadTuning, _Rng } from '../../dist/node.js';
import { goldenCheck } from './golden-check.mjs';

const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`;
const [model, goldenDir, threads] = process.argv.slice(2);
if (!model || !goldenDir) {
  process.stderr.write('usage: <runtime> test/runtimes/golden-main.mjs MODEL_FILE GOLDEN_DIR\n');
  process.exit(2);
}
try {
  if (threads) _threadTuning.minChunkWork = 0;
  const loadOptions = threads ? { threads: Number(threads) } : {};
  const report = await goldenCheck({ loadModel, Rng: _Rng, model, runtime, loadOptions, readGolden: (rel) => readFile(`${goldenDir}/${rel}`) });
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  process.stdout.write(JSON.stringify({ runtime, ok: false, errors: [`crashed: ${e?.stack ?? e}`] }) + '\n');
  process.exitCode = 2;
}
