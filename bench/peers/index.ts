// `npm run bench:peers`: ours (W2, random codes) against wllama (llama.cpp compiled to WebAssembly
// SIMD) on llama.cpp's 2-bit-class types TQ2_0, TQ1_0 and Q2_K (random blocks, bench/peers/
// gguf-llama.ts), on the same real LLaMA shapes, in the same headless Chromium page, cross-origin
// isolated so that both can use threads, with 1 thread and with all cores; and native llama.cpp
// (node-llama-cpp, installed on demand into a cache folder: bench/peers/native.ts) on the same TQ2_0
// and Q2_K files in this Node process, in the same run. Prints decode and prefill tokens/s, ours ÷
// theirs (against wllama's best type) and ours ÷ native, and writes bench/results/peers.json.
// Slow, and not part of `npm test` or CI.
//
// Options:
//   --shapes tinyllama-1.1b,llama2-7b   shapes (default both)
//   --engines ours,wllama,native        engines (default all three); also ours-node: ours in this Node
//                                       process, as native runs (type 'W2 … node'; Node 20 runs the
//                                       relaxed build only with node --experimental-wasm-relaxed-simd;
//                                       always this work tree's src/ and build/, whatever --ours says)
//   --types TQ2_0,TQ1_0,Q2_K            llama.cpp types (default all three)
//   --threads 1,2                       thread counts (default 1 and navigator.hardwareConcurrency, or
//                                       the cores when no engine runs in the page)
//   --ours-builds relaxed,simd128       our wasm builds, one row each (type 'W2 relaxed', ...); default one
//                                       row, type 'W2', of the build loadModel picks (relaxed in Chromium)
//   --prompt N --decode-prompt N --generate N
//                                       prefill prompt, prompt before decode, tokens decoded
//                                       (default 512, 128, 32; llama2-7b 128, 128, 16 unless given)
//   --quick                             64, 32, 8 for every shape
//   --ours REF|worktree                 our engine built from git REF (default HEAD: exported to the
//                                       temp dir and built there), or dist/ and build/ as they lie
//   --wllama DIR                        another unpacked @wllama/wllama (default node_modules')
//   --out FILE                          default bench/results/peers.json; rows of an earlier run for
//                                       the engines, types and thread counts not measured now are kept
//   --keep                              keep the temp dir (model files) afterwards
// Only the page engines (ours, wllama) need Chromium. Every step has a timeout; the browser is
// always closed and the temp dir removed.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { SHAPES, writeSyntheticModel, type ShapeName } from '../../src/node/synthetic.ts';
// @ts-ignore: plain JavaScript modules shared with the runtime tests
import { ISOLATION_HEADERS, launchChromium, serveFiles, withTimeout } from '../../scripts/chromium.mjs';
// @ts-ignore
import { findRuntime } from '../../scripts/runtimes.mjs';
import { QUANTS, writeLlamaGguf, type QuantName } from './gguf-llama.ts';
import { NODE_LLAMA_CPP, nativeModule, runNative } from './native.ts';
import { runOursNode } from './node-ours.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const KNOWN = new Set(['shapes', 'engines', 'types', 'threads', 'ours-builds', 'prompt', 'decode-prompt', 'generate', 'quick', 'ours', 'wllama', 'out', 'keep']);
for (const a of argv) if (a.startsWith('--') && !KNOWN.has(a.slice(2))) throw new Error(`unknown option ${a} (known: ${[...KNOWN].map((k) => `--${k}`).join(' ')})`);

const shapes = (opt('shapes') ?? 'tinyllama-1.1b,llama2-7b').split(',') as ShapeName[];
for (const s of shapes) if (!(s in SHAPES)) throw new Error(`--shapes: unknown shape ${s} (known: ${Object.keys(SHAPES).join(', ')})`);
const types = (opt('types') ?? 'TQ2_0,TQ1_0,Q2_K').split(',') as QuantName[];
for (const t of types) if (!(t in QUANTS)) throw new Error(`--types: unknown type ${t} (known: ${Object.keys(QUANTS).join(', ')})`);
const engineNames = (opt('engines') ?? 'ours,wllama,native').split(',');
for (const e of engineNames) if (e !== 'ours' && e !== 'ours-node' && e !== 'wllama' && e !== 'native') throw new Error(`--engines: unknown engine ${e} (known: ours, ours-node, wllama, native)`);
/** The types native llama.cpp runs (its CPU kernels for TQ2_0 and Q2_K are what the issue compares with). */
const NATIVE_TYPES = new Set(['TQ2_0', 'Q2_K']);
const oursBuilds: (string | undefined)[] = opt('ours-builds')?.split(',') ?? [undefined];
for (const b of oursBuilds) if (b !== undefined && b !== 'relaxed' && b !== 'simd128') throw new Error(`--ours-builds: unknown build ${b} (known: relaxed, simd128)`);
const quick = flag('quick');
const num = (name: string) => (opt(name) === undefined ? undefined : Number(opt(name)));
function lengths(shape: ShapeName) {
  const d = quick ? [64, 32, 8] : shape === 'llama2-7b' ? [128, 128, 16] : [512, 128, 32];
  return { prefill: num('prompt') ?? d[0], decodePrompt: num('decode-prompt') ?? d[1], generate: num('generate') ?? d[2] };
}
const oursRef = opt('ours') ?? 'HEAD';
const wllamaDir = resolve(opt('wllama') ?? join(ROOT, 'node_modules/@wllama/wllama'));
const outFile = resolve(opt('out') ?? join(ROOT, 'bench/results/peers.json'));

const log = (s: string) => process.stderr.write(s + '\n');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16);
const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();

/** Our engine: dist/browser.js and build/fairy2i.wasm under the returned root, with what they were built from. */
function prepareOurs(tmp: string): { root: string; source: string } {
  if (oursRef === 'worktree') {
    for (const f of ['dist/browser.js', 'build/fairy2i.wasm']) if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: npm run build`);
    const dirty = git('status', '--porcelain', '--', 'src', 'assembly', 'asconfig.json') !== '';
    return { root: ROOT, source: `work tree at ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes to src/ or assembly/' : ''}` };
  }
  const commit = git('rev-parse', oursRef);
  const root = join(tmp, 'ours');
  mkdirSync(root);
  log(`building ours from ${oursRef} (${commit.slice(0, 10)}) in ${root} ...`);
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C ${JSON.stringify(root)}`], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  for (const [cmd, args] of [[join(ROOT, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'release']],
    ...(existsSync(join(root, 'assembly/dispatch.ts')) && JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8')).targets.relaxed ? [[join(ROOT, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'relaxed']] as const] : []),
    [process.execPath, ['scripts/build-host.mjs']]] as const) {
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`building ours at ${oursRef}: ${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  }
  return { root, source: `git ${oursRef} = ${commit.slice(0, 10)}` };
}

/** Which model file a row's engine reads: our builds share one, wllama and native share theirs. */
const fileKey = (type: string) => type.split(' ')[0];

interface Row {
  shape: ShapeName; engine: 'ours' | 'wllama' | 'native'; type: string; threadsAsked: number; threads?: number; fileMb: number; date: string;
  prefill?: { n: number; tokS: number; wallMs: number }; decode?: { promptN: number; n: number; tokS: number; wallMs: number; sample?: unknown };
  loadMs?: number; check?: { ok: boolean; [k: string]: unknown }; error?: string; note?: string;
  /** 1, 5 and 15 minute load averages before and after (the machine is shared). */
  loadavg: number[]; loadavgEnd?: number[];
}

async function main() {
  // Chromium runs the page engines only: ours-node and native alone need no browser.
  const inPage = engineNames.includes('ours') || engineNames.includes('wllama');
  let chrome: { path: string; version: string } | null = null;
  if (inPage) {
    const found = findRuntime('chromium');
    if ('error' in found) throw new Error(found.error);
    chrome = found;
  }
  const wpkg = JSON.parse(readFileSync(join(wllamaDir, 'package.json'), 'utf8'));
  const wasmFile = join(wllamaDir, 'esm/wasm/wllama.wasm');
  const libllama = /"version":"(b\d+-[0-9a-f]+)"/.exec(readFileSync(wasmFile, 'latin1'))?.[1] ?? /LIBLLAMA_VERSION = "([^"]+)"/.exec(readFileSync(join(wllamaDir, 'esm/index.js'), 'utf8'))?.[1] ?? 'unknown';
  const tmp = mkdtempSync(join(tmpdir(), 'fairy2i-peers-'));
  let browser: any = null;
  let server: { origin: string; close: () => Promise<void> } | null = null;
  let rows: Row[] = [];
  let pageInfo: any = null;
  let ours: { root: string; source: string } | null = null;
  let native: any = null;
  const cleanup = async () => {
    await browser?.close().catch(() => {});
    browser = null;
    await server?.close();
    server = null;
    if (!flag('keep')) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  };
  const onSignal = () => { log('interrupted: closing the browser and removing the temp dir'); cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Only the page engine 'ours' is exported and built from --ours; ours-node runs this work tree.
    ours = engineNames.includes('ours') ? prepareOurs(tmp) : null;
    const oursRoot = ours?.root;
    const models = join(tmp, 'models');
    mkdirSync(models);
    if (inPage) server = await serveFiles((p: string): string | null => {
      const under = (prefix: string, dir: string) => (p.startsWith(prefix) ? join(dir, normalize(p.slice(prefix.length))) : null);
      return under('/bench/peers/', join(ROOT, 'bench/peers')) ?? (oursRoot ? under('/ours/', oursRoot) : null) ?? under('/wllama/', wllamaDir) ?? under('/models/', models);
    }, { headers: ISOLATION_HEADERS });
    if (inPage) browser = await launchChromium(chrome!.path, { args: ['--js-flags=--expose-gc'] });
    const pageLog: string[] = [];
    let page: any = null;
    const openPage = async () => {
      await page?.close().catch(() => {});
      page = await browser.newPage();
      page.on('console', (m: any) => {
        if (m.type() === 'error') pageLog.push(m.text());
        if (process.env.PEERS_DEBUG) log(`  [page ${m.type()}] ${m.text()}`);
      });
      page.on('pageerror', (e: Error) => pageLog.push(String(e)));
      await page.goto(`${server!.origin}/bench/peers/page.html`, { timeout: 30_000 });
      await withTimeout(page.waitForFunction(() => (globalThis as any).peers, null, { timeout: 30_000 }), 35_000, 'the bench page');
      if (process.env.PEERS_DEBUG) await page.evaluate(() => { (globalThis as any).peersDebug = true; });
    };
    if (inPage) {
      await openPage();
      pageInfo = await page.evaluate(() => (globalThis as any).peers.info());
      log(`${chrome!.version}; crossOriginIsolated ${pageInfo.crossOriginIsolated}, hardwareConcurrency ${pageInfo.hardwareConcurrency}, JSPI ${pageInfo.jspi}, memory64 ${pageInfo.memory64}`);
      if (!pageInfo.crossOriginIsolated || !pageInfo.sharedArrayBuffer) throw new Error(`the page is not cross-origin isolated: ${JSON.stringify(pageInfo)}`);
      // Without JSPI or memory64 wllama fetches a "compat" build from a CDN, which this machine cannot reach.
      if (!pageInfo.jspi || !pageInfo.memory64) throw new Error(`wllama needs JSPI and memory64 in this Chromium: ${JSON.stringify(pageInfo)}`);
    }
    const cores = inPage ? pageInfo.hardwareConcurrency : availableParallelism();
    const threadCounts = (opt('threads') ?? [...new Set([1, cores])].join(',')).split(',').map(Number);
    log(`ours: ${ours?.source ?? 'ours-node only (this work tree)'}; wllama ${wpkg.version} (llama.cpp ${libllama}); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    for (const shape of shapes) {
      const L = lengths(shape);
      const s = SHAPES[shape];
      const paramsB = (s.vocabSize * s.dim * 2 + s.nLayers * (2 * s.dim * s.dim + 2 * s.dim * (s.dim / s.nHeads) * s.nKvHeads + 3 * s.dim * s.ffnDim)) / 1e9;
      const perToken = 3000 * paramsB; // ms: a generous bound, ~10× the slowest rate seen
      const ctx = Math.max(L.prefill, L.decodePrompt + L.generate) + 16;
      log(`\n== ${shape} (${paramsB.toFixed(2)} B parameters): prefill ${L.prefill} tokens; decode ${L.generate} after ${L.decodePrompt}; context ${ctx}`);
      const engines: { engine: 'ours' | 'wllama' | 'native'; type: string; wasm?: string; node?: boolean; write: (f: string) => void }[] = [
        ...(engineNames.includes('ours') ? oursBuilds : []).map((wasm) => ({ engine: 'ours' as const, type: wasm ? `W2 ${wasm}` : 'W2', wasm, write: (f: string) => writeSyntheticModel(f, shape, 2) })),
        ...(engineNames.includes('ours-node') ? oursBuilds : []).map((wasm) => ({ engine: 'ours' as const, type: `${wasm ? `W2 ${wasm}` : 'W2'} node`, wasm, node: true, write: (f: string) => writeSyntheticModel(f, shape, 2) })),
        ...(engineNames.includes('wllama') ? types : []).map((t) => ({ engine: 'wllama' as const, type: t, write: (f: string) => writeLlamaGguf(f, shape, t) })),
        ...(engineNames.includes('native') ? types.filter((t) => NATIVE_TYPES.has(t)) : []).map((t) => ({ engine: 'native' as const, type: t, write: (f: string) => writeLlamaGguf(f, shape, t) })),
      ];
      // All files first, then each thread count runs every engine in turn: figures compared with
      // each other are measured close together in time (the machine may be shared).
      const files = new Map<string, { name: string; file: string; fileMb: number }>();
      for (const e of engines) {
        const key = fileKey(e.type);
        const name = `${shape}-${key}.gguf`;
        const file = join(models, name);
        if (files.has(key)) continue; // wllama's and native's file of a type are one file, and our builds' one
        const t0 = performance.now();
        e.write(file);
        const fileMb = statSync(file).size / 1e6;
        files.set(key, { name, file, fileMb });
        log(`${e.engine} ${e.type}: wrote ${name} (${fileMb.toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      for (const threads of threadCounts) {
        log(`-- ${threads} thread(s)`);
        for (const e of engines) {
          const { name, fileMb } = files.get(fileKey(e.type))!;
          const row: Row = { shape, engine: e.engine, type: e.type, threadsAsked: threads, fileMb, date: new Date().toISOString(), loadavg: loadavg() };
          // A build of ours without threads runs single-threaded whatever is asked: measured once.
          const same = rows.find((r) => r.shape === shape && r.engine === e.engine && r.type === e.type && !r.error && r.threads === 1 && r.note?.includes('no threads option'));
          if (same && threads > 1) {
            rows.push({ ...same, threadsAsked: threads, note: `${same.note} (the ${same.threadsAsked}-thread run's figures)` });
            log(`  ours ${e.type}: ${threads} thread(s) asked: this build of ours is single-threaded; its ${same.threadsAsked}-thread figures stand`);
            continue;
          }
          rows.push(row);
          const step = <T>(what: string, ms: number, fn: () => Promise<T>) => withTimeout(fn(), ms, `${shape} ${e.engine} ${e.type} ${threads}t ${what}`);
          if (e.node || e.engine === 'native') { // in this process: ours through src/node.ts, or node-llama-cpp
            try {
              const file = files.get(fileKey(e.type))!.file;
              if (!e.node) native ??= await nativeModule(log);
              const r = await step('run', 600_000 + (L.prefill + L.decodePrompt + L.generate) * perToken, async () => {
                if (e.node) { const o = await runOursNode(file, threads, ctx, L, e.wasm as 'relaxed' | 'simd128' | undefined); return { ...o, note: `Node ${process.version}, ${o.wasmBuild} build` }; }
                const n = await runNative(native, file, threads, ctx, L);
                return { ...n, note: `node-llama-cpp ${NODE_LLAMA_CPP}, ${n.backend}` };
              });
              Object.assign(row, { threads: r.threads, loadMs: r.loadMs, prefill: r.prefill, decode: r.decode, check: { ok: true }, note: r.note });
              log(`  ${e.engine} ${e.type}: ${threads} thread(s): prefill ${r.prefill.tokS.toFixed(2)} tok/s, decode ${r.decode.tokS.toFixed(2)} tok/s`);
            } catch (err) {
              row.error = (err as Error).message.split('\n')[0];
              log(`    FAILED: ${row.error}`);
            }
            row.loadavgEnd = loadavg();
            continue;
          }
          try {
            const ld: any = await step('load', 300_000 + 20 * perToken, () => page.evaluate((a: any) => (globalThis as any).peers.load(a), { engine: e.engine, url: `/models/${name}`, threads, ctx, wasm: e.wasm }));
            if (e.wasm && ld.wasmBuild !== e.wasm) throw new Error(`asked for the ${e.wasm} build of ours, ran ${ld.wasmBuild ?? 'one without the wasm option'}`);
            row.loadMs = ld.loadMs;
            row.threads = ld.threads;
            if (e.engine === 'ours' && !ld.threadsOption) row.note = 'this build of ours has no threads option: single-threaded';
            else if (ld.threads !== threads) row.note = `asked ${threads} threads, used ${ld.threads}`;
            log(`  ${e.engine} ${e.type}: ${threads} thread(s) asked, ${ld.threads} used: loaded in ${(ld.loadMs / 1000).toFixed(1)} s (+ warm-up ${(ld.warmMs / 1000).toFixed(1)} s)`);
            row.prefill = await step('prefill', 60_000 + L.prefill * perToken, () => page.evaluate((n: number) => (globalThis as any).peers.prefill(n), L.prefill));
            log(`    prefill ${row.prefill!.tokS.toFixed(2)} tok/s`);
            row.decode = await step('decode', 60_000 + (L.decodePrompt + L.generate) * perToken, () => page.evaluate(([p, g]: number[]) => (globalThis as any).peers.decode(p, g), [L.decodePrompt, L.generate]));
            log(`    decode  ${row.decode!.tokS.toFixed(2)} tok/s`);
            row.check = await step('check', 60_000 + 10 * perToken, () => page.evaluate(() => (globalThis as any).peers.check()));
            if (!row.check!.ok) log(`    CHECK FAILED: ${JSON.stringify(row.check).slice(0, 600)}`);
            await step('unload', 60_000, () => page.evaluate(() => (globalThis as any).peers.unload()));
          } catch (err) {
            row.error = `${(err as Error).message.split('\n')[0]}${pageLog.length ? ` (page: ${pageLog.slice(-3).join(' | ').slice(0, 500)})` : ''}`;
            log(`    FAILED: ${row.error}`);
            await openPage(); // a fresh page: whatever the failed step left running ends with the old one
          }
          row.loadavgEnd = loadavg();
          pageLog.length = 0;
        }
      }
      for (const { file } of files.values()) rmSync(file, { force: true });
    }
  } finally {
    await cleanup();
  }

  // --- Table and ratios, over this run's rows and an earlier run's rows not measured again ---------
  let earlier: any = null;
  try { earlier = JSON.parse(readFileSync(outFile, 'utf8')); } catch { /* none yet */ }
  const key = (r: Row) => `${r.shape} ${r.engine} ${r.type} ${r.threadsAsked}`;
  const now = new Set(rows.map(key));
  const kept: Row[] = (earlier?.rows ?? []).filter((r: Row) => !now.has(key(r)));
  const measured = rows;
  rows = [...kept, ...measured].sort((a, b) => a.shape.localeCompare(b.shape) || a.threadsAsked - b.threadsAsked || (a.engine === 'ours' ? -1 : b.engine === 'ours' ? 1 : 0));
  const allShapes = [...new Set(rows.map((r) => r.shape))];
  const fmt = (x: number | undefined, w = 8, d = 2) => (x === undefined ? '—'.padStart(w) : x.toFixed(d).padStart(w));
  console.log(`\n${'shape'.padEnd(15)} ${'engine'.padEnd(13)} thr  ${'prefill tok/s'.padStart(13)} ${'decode tok/s'.padStart(12)}  file MB  note`);
  for (const r of rows) {
    console.log(`${r.shape.padEnd(15)} ${`${r.engine} ${r.type}`.padEnd(13)} ${String(r.threads ?? r.threadsAsked).padStart(3)}  ${fmt(r.prefill?.tokS, 13)} ${fmt(r.decode?.tokS, 12)}  ${fmt(r.fileMb, 7, 0)}  ${r.error ? `FAILED: ${r.error.slice(0, 80)}` : r.check && !r.check.ok ? 'CHECK FAILED' : (r.note ?? '')}`);
  }
  const ratios: Record<string, unknown>[] = [];
  const ourTypes = [...new Set(rows.filter((r) => r.engine === 'ours').map((r) => r.type))];
  for (const shape of allShapes) for (const t of [...new Set(rows.map((r) => r.threadsAsked))]) for (const ot of ourTypes) {
    const mine = rows.find((r) => r.shape === shape && r.engine === 'ours' && r.type === ot && r.threadsAsked === t);
    const theirs = rows.filter((r) => r.shape === shape && r.engine === 'wllama' && r.threadsAsked === t && !r.error && r.check?.ok);
    if (!theirs.length) continue;
    for (const metric of ['prefill', 'decode'] as const) {
      const best = theirs.filter((r) => r[metric]).sort((a, b) => b[metric]!.tokS - a[metric]!.tokS)[0];
      const o = mine?.[metric]?.tokS;
      if (o === undefined || !best) continue;
      ratios.push({ shape, threads: t, oursThreads: mine!.threads, oursType: ot, metric, ours: o, bestType: best.type, theirs: best[metric]!.tokS, ratio: o / best[metric]!.tokS });
    }
  }
  for (const shape of allShapes) for (const t of [...new Set(rows.map((r) => r.threadsAsked))]) for (const ot of ourTypes) {
    const mine = rows.find((r) => r.shape === shape && r.engine === 'ours' && r.type === ot && r.threadsAsked === t);
    for (const nat of rows.filter((r) => r.shape === shape && r.engine === 'native' && r.threadsAsked === t && !r.error)) {
      for (const metric of ['prefill', 'decode'] as const) {
        const o = mine?.[metric]?.tokS;
        if (o === undefined || !nat[metric]) continue;
        ratios.push({ shape, threads: t, oursThreads: mine!.threads, oursType: ot, metric, ours: o, native: true, bestType: nat.type, theirs: nat[metric]!.tokS, ratio: o / nat[metric]!.tokS });
      }
    }
  }
  console.log(`\nours ÷ theirs (wllama: their best 2-bit-class type; native llama.cpp: per type; same thread count):`);
  for (const r of ratios as any[]) console.log(`  ${r.shape.padEnd(15)} ${r.oursType.padEnd(11)} ${String(r.threads).padStart(2)} thread(s)${r.oursThreads !== r.threads ? ` (ours ${r.oursThreads})` : ''}  ${r.metric.padEnd(7)}  ${r.ours.toFixed(2).padStart(7)} / ${r.theirs.toFixed(2).padStart(7)} (${r.native ? 'native ' : 'wllama '}${r.bestType.padEnd(5)}) = ${r.ratio.toFixed(2)}×`);

  const run = {
    date: new Date().toISOString(), command: `npm run bench:peers --${argv.length ? ' ' + argv.join(' ') : ''}`, rows: measured.length,
    chromium: chrome?.version ?? null, page: pageInfo, wllama: { version: wpkg.version, llamaCpp: libllama, wasmSha256: sha(wasmFile) },
    ours: { source: ours?.source }, lengths: Object.fromEntries(shapes.map((s) => [s, lengths(s)])),
  };
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify({
    note: 'Random weights in real LLaMA shapes; F16 token embeddings (ours and theirs); every linear layer and the output in the type named. Each row has its run date and the load averages before and after (the machine may be shared). See bench/peers/index.ts.',
    runs: [...(kept.length ? (earlier?.runs ?? []) : []), run], rows, ratios,
  }, null, 1) + '\n');
  log(`\nwrote ${outFile}`);
}

await main();
