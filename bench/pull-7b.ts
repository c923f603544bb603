// `pull` of a LLaMA-2-7B-shaped BF16 checkpoint from a loopback Hub (test/hub-emulator.ts): wall
// time, peak RSS and disk used by the streamed conversion, beside `convert` of the same checkpoint
// on disk.
//
//   npx tsx bench/pull-7b.ts [--layers 4] [--dir DIR] [--arithmetic bf16|f32]
//
// 1. bench/convert-7b.ts --keep --no-breakdown writes the synthetic checkpoint (real 7B widths,
//    untied lm_head, sharded, BF16) and times the local convert (f32 arithmetic, its checks).
// 2. The emulator serves the checkpoint as repo bench/llama2-7b-synthetic (302 to a CDN origin,
//    Range requests), and `node bin/fairy2i-wasm.js pull bench/llama2-7b-synthetic --quiet` runs
//    under /usr/bin/time with HF_ENDPOINT and a fresh FAIRY2I_CACHE.
// 3. Prints time, peak RSS, the cache's disk use (du) against the checkpoint size, and the bytes
//    the CDN served. Fewer layers keep every tensor shape (peak memory is set by lm_head and the
//    FFN matrices, not the depth); time scales with the layer count.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HubEmulator } from '../test/hub-emulator.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] ? argv[i + 1] : def; };
const layers = opt('--layers', '4');
const arithmetic = opt('--arithmetic', 'bf16');
const base = opt('--dir', tmpdir());

const gen = spawnSync(process.execPath, ['--import', 'tsx', 'bench/convert-7b.ts', '--dir', base, '--layers', layers, '--keep', '--no-breakdown'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(gen.stdout);
const kept = /kept (\S+)/.exec(gen.stdout)?.[1];
if (!kept) throw new Error('bench/pull-7b: convert-7b did not keep its checkpoint');
const ckDir = join(kept, 'checkpoint');
const cache = mkdtempSync(join(base, 'fairy2i-pull-cache-'));
try {
  const hub = await new HubEmulator([{ id: 'bench/llama2-7b-synthetic', dir: ckDir }]).start();
  const ckBytes = readdirSync(ckDir).reduce((a, f) => a + Number(spawnSync('stat', ['-c', '%s', join(ckDir, f)], { encoding: 'utf8' }).stdout), 0);
  const timeOut = join(cache, '..', `pull-time-${process.pid}.txt`);
  const args = ['-f', '%e %M %U %S', '-o', timeOut, process.execPath, 'bin/fairy2i-wasm.js', 'pull', 'bench/llama2-7b-synthetic', '--arithmetic', arithmetic, '--quiet'];
  console.log(`\npull (child process): HF_ENDPOINT=${hub.endpoint} FAIRY2I_CACHE=${cache} node bin/fairy2i-wasm.js pull bench/llama2-7b-synthetic --arithmetic ${arithmetic} --quiet`);
  // Disk high-water mark of the cache while it runs (the output is written in place, so the peak
  // is the output size; a full download would need the checkpoint's size as well).
  let duPeak = 0;
  const poll = setInterval(() => {
    const kb = Number(spawnSync('du', ['-sk', cache], { encoding: 'utf8' }).stdout.split('\t')[0]);
    if (kb > duPeak) duPeak = kb;
  }, 1000);
  const code: number = await new Promise((res) => {
    const c = spawn('/usr/bin/time', args, { cwd: ROOT, env: { ...process.env, HF_ENDPOINT: hub.endpoint, FAIRY2I_CACHE: cache, HF_TOKEN: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.on('data', (d) => process.stdout.write(d));
    c.on('close', (x) => res(x ?? 1));
  });
  clearInterval(poll);
  await hub.stop();
  if (code !== 0) throw new Error(`pull exited with ${code}`);
  const [secs, rssKb, user, sys] = readFileSync(timeOut, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(timeOut);
  const duEnd = Number(spawnSync('du', ['-sk', cache], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const served = [...hub.cdnBytes.values()].reduce((a, b) => a + b, 0);
  console.log(`\nsummary (${layers} layers, ${arithmetic} arithmetic): pull ${secs.toFixed(0)} s (CPU ${(user + sys).toFixed(0)} s, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}), peak RSS ${(rssKb / 1024).toFixed(0)} MiB, ` +
    `cache disk ${(duEnd / 2 ** 20).toFixed(2)} GiB at the end (peak seen ${(duPeak / 2 ** 20).toFixed(2)} GiB) for a ${(ckBytes / 2 ** 30).toFixed(2)} GiB checkpoint, ` +
    `CDN served ${(served / 2 ** 30).toFixed(2)} GiB`);
} finally {
  rmSync(cache, { recursive: true, force: true });
  if (existsSync(kept)) rmSync(kept, { recursive: true, force: true });
}
