// "Runs everywhere": the same build/fairy2i.wasm and the same golden check (test/runtimes/
// golden-check.mjs: logits, greedy tokens, the pinned PRNG outputs, and a seeded sampled continuation
// equal to the library's in this process) in Node, Deno, Bun and headless Chromium, on one thread and
// on two (worker threads
// over the shared memory; in Chromium only on a cross-origin isolated page, elsewhere one thread and a
// notice); the built CLI unchanged under `node`,
// `deno run -A` and `bun` with the same greedy tokens; and an edge worker under workerd that imports
// the wasm as a module and answers completions over HTTP on 127.0.0.1.
//
// Each runtime runs as a child process with a bounded time and is always ended. A runtime whose
// binary is missing FAILS with a message saying how to get it; only Chromium and workerd may be
// skipped, and only outside CI (process.env.CI unset), with the reason printed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, normalize, sep } from 'node:path';
import * as assert from 'uvu/assert';
import { loadModel } from '../src/node.ts';
import { convert } from '../src/convert/convert.ts';
// @ts-ignore: plain JavaScript modules shared with .ci/run and the example
import { findRuntime } from '../scripts/runtimes.mjs';
// @ts-ignore
import { ISOLATION_HEADERS, launchChromium, serveFiles, withTimeout } from '../scripts/chromium.mjs';
// @ts-ignore
import { buildWorker } from '../examples/workerd/build.mjs';
// @ts-ignore
import { SAMPLED } from './runtimes/golden-check.mjs';
import { tempDir } from './fixtures.ts';
import { manifest, sharedPath, sharedSuite } from './shared.ts';

const CI = !!process.env.CI;
const ROOT = process.cwd();
const dir = tempDir('fairy2i-runtimes-');
const CHILD_TIMEOUT_MS = 120_000;
const CHILD_ENV = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' };

/** The stories260K V2 file the goldens' `v2` variant stands for, converted once per run. */
let v2: Promise<string> | null = null;
function v2File(): Promise<string> {
  v2 ??= (async () => {
    const out = join(dir, 'stories260K-v2.gguf');
    await convert(sharedPath('models/stories260K-hf'), { output: out, stages: 2, quiet: true });
    return out;
  })();
  return v2;
}

type Found = { path: string; version: string } | { error: string };
const found: Record<string, Found> = {};
function runtime(name: 'deno' | 'bun' | 'workerd' | 'chromium'): { path: string; version: string } {
  found[name] ??= findRuntime(name);
  const r = found[name];
  if ('error' in r) assert.unreachable(r.error);
  return r as { path: string; version: string };
}

/** Command prefix that runs a script file in each of the three command-line runtimes. */
function command(name: 'node' | 'deno' | 'bun'): { argv: string[]; version: string } {
  if (name === 'node') return { argv: [process.execPath], version: `node ${process.versions.node}` };
  const r = runtime(name);
  return { argv: name === 'deno' ? [r.path, 'run', '-A'] : [r.path], version: name === 'deno' ? r.version.split(' (')[0] : `bun ${r.version}` };
}

function run(argv: string[]) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', env: CHILD_ENV, maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  const what = `${argv.map((a) => (a.startsWith(ROOT + sep) ? a.slice(ROOT.length + 1) : a)).join(' ')}`;
  if (r.error) assert.unreachable(`${what}: ${r.error.message}${(r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? ` (killed after ${CHILD_TIMEOUT_MS / 1000} s)` : ''}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms, what };
}

/** A runtime that may be skipped, but only outside CI, and saying why. */
function optional(name: 'chromium' | 'workerd'): boolean {
  found[name] ??= findRuntime(name);
  const r = found[name];
  if (!('error' in r) || CI) return true;
  console.log(`skipped: ${name} tests: ${r.error} (they fail instead when CI is set)`);
  return false;
}

/** The golden check's sampled continuation (SAMPLED) from the library in this process, per precision. */
let libSampled: Promise<Record<string, number[]>> | null = null;
function librarySampled(): Promise<Record<string, number[]>> {
  libSampled ??= (async () => {
    const out: Record<string, number[]> = {};
    for (const precision of ['exact', 'fast'] as const) {
      const model = await loadModel(await v2File(), { precision });
      try {
        out[precision] = (await model.complete(manifest().stories260K.variants.v2.greedy.from_bos.prompt_ids, SAMPLED)).tokens;
      } finally {
        model.dispose();
      }
    }
    return out;
  })();
  return libSampled;
}

async function assertReport(rep: any, where: string, threads = 1) {
  assert.ok(rep && typeof rep === 'object', `${where}: printed no report`);
  assert.ok(rep.ok, `${where}: ${rep.errors?.join('; ')}`);
  assert.is(rep.threads, threads, `${where}: threads (notices: ${rep.notices?.join('; ')})`);
  const g = manifest().stories260K.variants.v2.greedy.from_bos.new_ids;
  assert.ok(g.length > 0, 'empty golden greedy sequence');
  for (const precision of ['exact', 'fast'] as const) {
    // 'fast' (int8 tables) gets only golden-check.mjs's perplexity sanity check against the goldens
    if (precision === 'exact') assert.equal(rep.greedy?.[precision]?.tokens, g, `${where}: precision ${precision}: greedy from BOS`);
    assert.is(rep.logits?.[precision]?.positions, manifest().stories260K.sequences.story64.ids.length, `${where}: precision ${precision}: positions`);
    // the same seed gives the same sampled tokens as in Node, and sampling really drew (not greedy)
    const lib = (await librarySampled())[precision];
    assert.is(lib.length, SAMPLED.maxTokens);
    assert.not.equal(lib, g, `precision ${precision}: the sampled continuation equals the greedy one`);
    assert.equal(rep.sampled?.[precision]?.tokens, lib, `${where}: precision ${precision}: sampled at temperature ${SAMPLED.temperature}, seed ${SAMPLED.seed}`);
  }
}

function logTimes(what: string, wallMs: number, rep: any) {
  const t = rep.timingsMs ?? {};
  console.log(`  ${what}${rep.threads > 1 ? ` on ${rep.threads} threads` : ''}: golden ok in ${(wallMs / 1000).toFixed(2)} s, ${rep.wasm} build (exact, fast: load ${t.load_exact?.toFixed(0)}, ${t.load_fast?.toFixed(0)} ms; 64 positions ${t.logits_exact?.toFixed(0)}, ${t.logits_fast?.toFixed(0)} ms; 64 greedy (exact) ${t.greedy_exact?.toFixed(0)} ms; worst |Δ|/max ${rep.logits?.exact?.worstRelErr?.toExponential(1)}; fast perplexity ${((rep.logits?.fast?.relDiff ?? NaN) * 100).toFixed(2)} % of the golden)`);
}

// --- The golden check in Node, Deno, Bun and Chromium -------------------------------------------

const golden = sharedSuite('runtimes: the same .wasm and golden check in Node, Deno, Bun and Chromium');

for (const name of ['node', 'deno', 'bun'] as const) {
  for (const threads of [1, 2]) {
    const how = threads > 1 ? ` on ${threads} threads (worker_threads, every layer split)` : '';
    golden(`${name}${how}: stories260K V2 logits (story64) and 64 greedy tokens from BOS match the goldens`, async () => {
      const model = await v2File();
      const c = command(name);
      const r = run([...c.argv, 'test/runtimes/golden-main.mjs', model, sharedPath('golden'), ...(threads > 1 ? [String(threads)] : [])]);
      const last = r.stdout.trim().split('\n').pop() ?? '';
      let rep: any;
      try { rep = JSON.parse(last); } catch { assert.unreachable(`${r.what}: exit ${r.status}${r.signal ? ` (${r.signal})` : ''}, no JSON report\n${r.stdout}${r.stderr}`); }
      await assertReport(rep, c.version, threads);
      assert.equal(rep.notices, []);
      assert.is(r.status, 0, r.stderr);
      logTimes(rep.runtime, r.ms, rep);
    });
  }
}

/**
 * Serves the repository's dist/, build/ and test/runtimes/ as they lie (so dist/browser.js finds
 * ../build/fairy2i.wasm), the goldens at /golden/ and the model at /model.gguf; with `isolated`, with
 * the headers that make its pages cross-origin isolated.
 */
function serve(model: string, isolated = false): Promise<{ origin: string; close: () => Promise<void> }> {
  return serveFiles((p: string): string | null => {
    if (p === '/model.gguf') return model;
    if (p.startsWith('/golden/')) return join(sharedPath('golden'), normalize(p.slice('/golden/'.length)));
    if (/^\/(dist|build|test\/runtimes)\//.test(p)) return join(ROOT, normalize(p));
    return null;
  }, { headers: isolated ? ISOLATION_HEADERS : {} });
}

(optional('chromium') ? golden : golden.skip)('chromium (headless, playwright-core): the same check from dist/browser.js, wasm and model fetched over HTTP; 2 threads on a cross-origin isolated page, 1 and a notice elsewhere', async () => {
  const model = await v2File();
  const chrome = runtime('chromium');
  const plain = await serve(model);
  const isolated = await serve(model, true);
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  try {
    browser = await launchChromium(chrome.path);
    const pages: [string, string, number, RegExp | null][] = [
      [plain.origin, '', 1, null],
      [isolated.origin, '?threads=2', 2, null],
      [plain.origin, '?threads=2', 1, /^fairy2i-wasm: running on 1 thread instead of 2: the page is not cross-origin isolated/],
    ];
    for (const [origin, query, threads, notice] of pages) {
      const what = `${query || 'default threads'}${origin === isolated.origin ? ', cross-origin isolated' : ''}`;
      const t0 = performance.now();
      const pageErrors: string[] = [];
      const page = await browser.newPage();
      page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      await page.goto(`${origin}/test/runtimes/golden.html${query}`, { timeout: 30_000 });
      const rep = await withTimeout(page.evaluate(() => (globalThis as any).goldenReport), 60_000, `the golden page (${what})`);
      await assertReport(rep, `${chrome.version} (${what}): ${pageErrors.join('; ')}`, threads);
      assert.match(rep.runtime, /HeadlessChrome\//);
      if (notice) {
        // one per load: the check loads the model once per precision
        assert.is(rep.notices.length, 2, `${what}: notices ${JSON.stringify(rep.notices)}`);
        for (const n of rep.notices) assert.match(n, notice);
      } else {
        assert.equal(rep.notices, [], what);
      }
      logTimes(`${chrome.version.split(' built')[0]} (headless, ${what})`, performance.now() - t0, rep);
      await page.close();
    }
  } finally {
    await browser?.close().catch(() => {});
    await plain.close();
    await isolated.close();
  }
});

golden.run();

// --- The built CLI under node, deno run -A and bun ----------------------------------------------

const cli = sharedSuite('runtimes: the built CLI under node, deno run -A and bun');
const PROMPT = 'Once upon a time';
const N = 32;

/** Greedy tokens for PROMPT from the library itself, in this process. */
let libTokens: Promise<number[]> | null = null;
function libraryTokens(): Promise<number[]> {
  libTokens ??= (async () => {
    const model = await loadModel(await v2File());
    try {
      return (await model.complete(PROMPT, { temperature: 0, maxTokens: N })).tokens;
    } finally {
      model.dispose();
    }
  })();
  return libTokens;
}

const cliTokens: Record<string, number[]> = {};
for (const name of ['node', 'deno', 'bun'] as const) {
  cli(`${name}: run -p "${PROMPT}" -n ${N} --temperature 0 --json gives the library's greedy tokens`, async () => {
    const model = await v2File();
    const expected = await libraryTokens();
    assert.is(expected.length, N, 'the library generated fewer tokens than asked (EOS?)');
    assert.ok(existsSync('dist/cli.js'), 'dist/cli.js is missing: npm run build (npm test builds first)');
    const c = command(name);
    const r = run([...c.argv, 'bin/fairy2i-wasm.js', 'run', '-m', model, '-p', PROMPT, '-n', String(N), '--temperature', '0', '--json']);
    assert.is(r.status, 0, `${r.what}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tokens, expected, `${c.version}: tokens`);
    assert.is(out.stopReason, 'length');
    cliTokens[name] = out.tokens;
    console.log(`  ${c.version}: CLI ${N} greedy tokens in ${(r.ms / 1000).toFixed(2)} s`);
  });
}
cli('all three runtimes printed identical tokens', () => {
  assert.equal(Object.keys(cliTokens).sort(), ['bun', 'deno', 'node'], 'a runtime above failed');
  assert.equal(cliTokens.deno, cliTokens.node);
  assert.equal(cliTokens.bun, cliTokens.node);
});

cli.run();

// --- An edge worker under workerd ---------------------------------------------------------------

const edge = sharedSuite('runtimes: edge worker under workerd (wasm imported as a module)');

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

(optional('workerd') ? edge : edge.skip)('POST /completion on 127.0.0.1 answers the library\'s greedy tokens and text', async () => {
  const model = await v2File();
  const wd = runtime('workerd');
  const config = await buildWorker(model, join(dir, 'workerd'));
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(wd.path, ['serve', config, '--socket-addr', `http=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const origin = `http://127.0.0.1:${port}`;
  try {
    // Ready once it answers; give up when it exits or after 30 s.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) assert.unreachable(`workerd exited with ${child.exitCode}:\n${log}`);
      try {
        const res = await fetch(`${origin}/`, { signal: AbortSignal.timeout(5000) });
        assert.is(res.status, 200, `GET /: ${await res.text()}\n${log}`);
        break;
      } catch (e) {
        if ((e as Error).name === 'Assertion') throw e;
        if (Date.now() > deadline) assert.unreachable(`workerd did not answer on ${origin} within 30 s:\n${log}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
    }
    const ready = performance.now();
    const post = (body: unknown) => fetch(`${origin}/completion`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(30_000) });
    const res = await post({ prompt: PROMPT, n: N });
    const text = await res.text();
    assert.is(res.status, 200, `${text}\n${log}`);
    const out = JSON.parse(text);
    const lib = await loadModel(model);
    try {
      const expected = await lib.complete(PROMPT, { temperature: 0, maxTokens: N });
      assert.equal(out.tokens, expected.tokens, 'tokens from workerd vs the library');
      assert.is(out.text, expected.text);
    } finally {
      lib.dispose();
    }
    // Later requests reuse the isolate's model, also when they arrive together (they take turns on
    // its one KV cache); bad input is a 400 naming the field.
    const again = await Promise.all([1, 2, 3].map(async () => (await post({ prompt: PROMPT, n: N })).json()));
    for (const a of again) assert.equal(a.tokens, out.tokens, 'concurrent requests');
    const bad = await post({ prompt: 42, n: N });
    assert.is(bad.status, 400);
    assert.match((await bad.json()).error, /"prompt" must be a string/);
    console.log(`  ${wd.version}: up in ${((ready - t0) / 1000).toFixed(2)} s, ${N}-token completion over HTTP, ${((performance.now() - t0) / 1000).toFixed(2)} s in all`);
  } finally {
    await stop(child);
  }
});

edge.run();
