// The demo page in real headless Chromium (playwright-core driving Debian's chromium, as
// test/runtimes.test.ts does): `fairy2i-wasm web` itself, then the page served by the same server
// code in this process (so the test can count the model's requests) and by a plain static server
// without COOP/COEP. Each case clicks, types and picks files the way a user does and reads the page.
//
// Chromium may be missing only outside CI (then these are skipped, saying why); in CI they fail.
import { spawn } from 'node:child_process';
import { copyFileSync, utimesSync } from 'node:fs';
import { join, normalize } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../src/cli/web-server.ts';
// @ts-ignore: plain JavaScript modules shared with .ci/run
import { findRuntime } from '../scripts/runtimes.mjs';
// @ts-ignore
import { launchChromium, serveFiles, withTimeout } from '../scripts/chromium.mjs';
import { tempDir } from './fixtures.ts';

const ROOT = process.cwd();
const MODEL = join(ROOT, 'models/default.gguf');
const ARTIFACTS = tempDir('fairy2i-browser-');
const chrome = findRuntime('chromium') as { path: string; version: string } | { error: string };
const skip = 'error' in chrome && !process.env.CI;
if (skip) console.log(`skipped: browser tests: ${(chrome as { error: string }).error} (they fail instead when CI is set)`);

const test = suite('browser: the demo page (web/) with the engine in a Web Worker');

let browser: Browser | null = null;
let server: WebServer | null = null;
/** Requests the in-process server answered, in order. */
const requests: { method: string; path: string; status: number; range: string | null }[] = [];
const modelRequests = () => requests.filter((r) => r.path.startsWith('/models/')).length;

test.before(async () => {
  if (skip) return;
  if ('error' in chrome) throw new Error(chrome.error);
  browser = await launchChromium(chrome.path);
  server = await startWebServer({ root: ROOT, model: MODEL, port: 0, host: '127.0.0.1', onRequest: (r) => requests.push(r) });
});

test.after(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
});

/** A page at `url` whose errors are collected (and reported by the assertions that fail). */
async function open(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    // A static host has no models.json (the page then offers the bundled model): not an error.
    if (m.type() === 'error' && !m.location().url.endsWith('/web/models.json')) errors.push(`${m.text()} (${m.location().url})`);
  });
  await page.goto(url, { timeout: 30_000 });
  return { page, errors };
}

/** Clicks Load for the served model and waits until the chat is enabled. */
async function loadServed(page: Page, errors: string[]): Promise<string> {
  await page.click('#load');
  return waitLoaded(page, errors);
}

async function waitLoaded(page: Page, errors: string[]): Promise<string> {
  try {
    await page.waitForSelector('#prompt:not([disabled])', { timeout: 60_000 });
  } catch {
    assert.unreachable(`the model did not load: "${await page.textContent('#load-status')}" ${errors.join('; ')}`);
  }
  return (await page.textContent('#load-status')) ?? '';
}

/** Sends `text` with the given settings; resolves when the stats line shows the reply's rates. */
async function ask(page: Page, text: string, settings: Record<string, string> = {}): Promise<{ reply: string; stats: string }> {
  for (const [id, v] of Object.entries(settings)) await page.fill(`#${id}`, v);
  await page.fill('#prompt', text);
  await page.click('#send');
  await page.waitForFunction(() => /tok\/s/.test(document.getElementById('stats')!.textContent ?? ''), null, { timeout: 60_000 });
  const reply = (await page.locator('.msg.assistant').last().textContent()) ?? '';
  return { reply, stats: (await page.textContent('#stats')) ?? '' };
}

(skip ? test.skip : test)('`fairy2i-wasm web --port 0` prints its URL; the page, bundles and wasm come with COOP/COEP, the model answers Range requests; the page there is cross-origin isolated', async () => {
  const child = spawn(process.execPath, ['bin/fairy2i-wasm.js', 'web', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  try {
    const url = await withTimeout(new Promise<string>((ok, fail) => {
      const look = () => { const m = /http:\/\/127\.0\.0\.1:\d+\/web\//.exec(out); if (m) ok(m[0]); };
      child.stdout.on('data', look);
      child.once('exit', (c) => fail(new Error(`web exited with ${c}: ${out}`)));
    }), 20_000, 'fairy2i-wasm web');
    const page = await fetch(url);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    for (const [h, v] of Object.entries({ 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' })) assert.is(page.headers.get(h), v, h);
    for (const p of ['app.js', 'style.css', '../dist/browser.js', '../dist/worker.js', '../build/fairy2i.wasm']) {
      const r = await fetch(new URL(p, url));
      assert.is(r.status, 200, p);
      assert.is(r.headers.get('cross-origin-embedder-policy'), 'require-corp', p);
      await r.arrayBuffer();
    }
    const listed = await (await fetch(new URL('models.json', url))).json();
    assert.is(listed.models[0].name, 'default.gguf');
    const modelUrl = new URL(listed.models[0].url, url);
    const head = await fetch(modelUrl, { headers: { range: 'bytes=0-3' } });
    assert.is(head.status, 206);
    assert.match(head.headers.get('content-range') ?? '', /^bytes 0-3\/\d+$/);
    assert.is(new TextDecoder().decode(await head.arrayBuffer()), 'GGUF');
    assert.is((await fetch(modelUrl, { headers: { range: 'bytes=99999999-' } })).status, 416);

    const context = await browser!.newContext();
    const { page: p } = await open(context, url);
    assert.ok(await p.evaluate(() => crossOriginIsolated), 'the page is cross-origin isolated');
    assert.match((await p.textContent('#isolation')) ?? '', /^cross-origin isolated$/);
    await context.close();
  } finally {
    child.kill('SIGINT');
    const code = await withTimeout(exited, 10_000, 'web after SIGINT');
    assert.is(code, 0, `web exit code after SIGINT: ${out}`);
  }
});

(skip ? test.skip : test)('the page loads the bundled model in a Web Worker with a progress bar, a prompt streams a reply, tokens/s show, a main-thread timer kept ticking; screenshot', async () => {
  const context = await browser!.newContext({ viewport: { width: 1200, height: 760 } });
  try {
    const { page, errors } = await open(context, server!.url);
    // The progress bar: its text as it changes during the load (bytes, rate, time left).
    await page.evaluate(() => {
      const seen: string[] = ((window as any).progressSeen = []);
      new MutationObserver(() => seen.push(document.getElementById('progress-text')!.textContent ?? '')).observe(document.getElementById('progress-text')!, { childList: true, characterData: true, subtree: true });
    });
    const status = await loadServed(page, errors);
    assert.match(status, /^loaded default\.gguf in \d+\.\d+ s/);
    const progress: string[] = await page.evaluate(() => (window as any).progressSeen);
    assert.ok(progress.some((t) => /^\d+\.\d MB of 3\.6 MB · [\d.]+ MB\/s/.test(t)), `progress texts: ${JSON.stringify(progress)}`);
    // Threads left to the library: all cores (the model's layers are big enough to split).
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.is(await page.textContent('#threads'), `threads: ${cores}`);
    assert.ok(await page.isHidden('#notice'), `no notice on an isolated page: ${await page.textContent('#notice')}`);
    assert.match((await page.textContent('#facts')) ?? '', /dim 256, 6 layers.*vocab4096/);
    const worker = page.workers().find((w) => w.url().endsWith('/dist/worker.js'));
    assert.ok(worker, `the engine's worker: ${page.workers().map((w) => w.url()).join(', ')}`);

    // A timer on the page's main thread, counted while the reply is generated.
    await page.evaluate(() => {
      const w = window as any;
      w.ticks = [];
      w.tickTimer = setInterval(() => w.ticks.push(performance.now()), 20);
    });
    await page.uncheck('#stop-at-eos');
    const t0 = await page.evaluate(() => performance.now());
    const { reply, stats } = await ask(page, 'Tell me a story.', { 'max-tokens': '200', seed: '1' });
    const t1 = await page.evaluate(() => performance.now());
    const ticks: number[] = await page.evaluate(() => { clearInterval((window as any).tickTimer); return (window as any).ticks; });
    assert.ok(reply.trim().length > 20, `reply: ${JSON.stringify(reply)}`);
    assert.match(stats, /^prompt: \d+ tokens at [\d.]+ tok\/s · reply: 200 tokens at [\d.]+ tok\/s · max tokens reached$/);
    const during = ticks.filter((t) => t > t0 && t < t1);
    const gaps = during.slice(1).map((t, i) => t - during[i]);
    console.log(`  reply of 200 tokens in ${((t1 - t0) / 1000).toFixed(2)} s; main-thread timer ticked ${during.length} times (20 ms interval), longest gap ${Math.max(0, ...gaps).toFixed(0)} ms; ${stats}`);
    assert.ok(during.length >= 2, `the main thread's timer ticked ${during.length} times during ${(t1 - t0).toFixed(0)} ms of generation`);
    await page.evaluate(() => { document.querySelector('aside')!.scrollTop = 0; });
    const shot = join(ARTIFACTS, 'demo-after-reply.png');
    await page.screenshot({ path: shot });
    console.log(`  screenshot: ${shot}`);
    if (process.env.FAIRY2I_DOCS_SCREENSHOT) await page.screenshot({ path: process.env.FAIRY2I_DOCS_SCREENSHOT });
    assert.equal(errors, []);
  } finally {
    await context.close();
  }
});

(skip ? test.skip : test)('Stop ends the reply within a token of the page sending it (2 threads in the worker on the isolated page)', async () => {
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, server!.url);
    // Isolated, so the page's Stop (chat.send's signal, web/app.js) raises the stop flag the worker reads before each token.
    assert.ok(await page.evaluate(() => crossOriginIsolated));
    await page.fill('#thread-count', '2');
    await loadServed(page, errors);
    assert.is(await page.textContent('#threads'), 'threads: 2');
    await page.uncheck('#stop-at-eos');
    for (const [id, v] of Object.entries({ 'max-tokens': '100000', seed: '2' })) await page.fill(`#${id}`, v);
    await page.fill('#prompt', 'Tell me a story.');
    await page.click('#send');
    await page.waitForFunction(() => (document.querySelector('.msg.assistant')?.textContent ?? '').length > 40, null, { timeout: 30_000 });
    await page.click('#stop');
    await page.waitForFunction(() => /tok\/s/.test(document.getElementById('stats')!.textContent ?? ''), null, { timeout: 10_000 });
    const stats = (await page.textContent('#stats')) ?? '';
    console.log(`  after Stop: ${stats}`);
    const m = /reply: (\d+) tokens .* stopped \((\d+) tokens? after Stop\)$/.exec(stats);
    assert.ok(m, `stats after Stop: ${stats}`);
    assert.ok(Number(m![2]) <= 1, `tokens made after the page sent Stop: ${m![2]}`);
    assert.ok(Number(m![1]) < 100000);
    assert.ok(await page.isDisabled('#stop'));
    // The session goes on after a stopped reply.
    const next = await ask(page, 'And then?', { 'max-tokens': '8' });
    assert.ok(next.reply.trim().length > 0, 'a reply after Stop');
    assert.equal(errors, []);
  } finally {
    await context.close();
  }
});

(skip ? test.skip : test)('library: abort() in a cross-origin isolated page (the stop flag in shared memory) ends a worker generation within a token, three times in a row; the result holds exactly the delivered tokens', async () => {
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, server!.url);
    assert.ok(await page.evaluate(() => crossOriginIsolated), 'the stop flag needs SharedArrayBuffer');
    // Plain JavaScript (tsx would add helpers to a compiled callback that the page does not have).
    const runs: { stopReason: string; afterAbort: number | null; delivered: number; atAbort: number; same: boolean }[] = await page.evaluate(`(async () => {
      const lib = await import('/dist/browser.js');
      const m = await lib.loadModelInWorker('/models/default.gguf', { threads: 2, cache: false });
      const runs = [];
      for (const k of [2, 5, 9]) {
        const ctrl = new AbortController();
        const s = m.generate('Tell me a story.', { maxTokens: 400, stopAtEos: false, seed: k, signal: ctrl.signal });
        const got = [];
        let atAbort = -1;
        for await (const p of s) {
          got.push(...p.tokens);
          if (atAbort < 0 && got.length >= k) {
            atAbort = got.length;
            ctrl.abort();
          }
        }
        const r = await s.result;
        runs.push({ stopReason: r.stopReason, afterAbort: r.tokensAfterAbort, delivered: got.length, atAbort, same: JSON.stringify(r.tokens) === JSON.stringify(got) });
      }
      m.dispose();
      return runs;
    })()`);
    const tokens = (n: number | null) => `${n} token${n === 1 ? '' : 's'}`;
    console.log(`  abort(): ${runs.map((r) => `${tokens(r.delivered - r.atAbort)} arrived after it (some in flight), ${tokens(r.afterAbort)} made after it`).join('; ')}`);
    for (const r of runs) {
      assert.is(r.stopReason, 'abort');
      assert.ok(r.afterAbort !== null && r.afterAbort <= 1, `tokens made after abort(): ${r.afterAbort}`);
      assert.ok(r.same, 'the result holds exactly the delivered tokens');
    }
    assert.equal(errors, []);
  } finally {
    await context.close();
  }
});

(skip ? test.skip : test)('reload: the model comes from the browser cache without a request for it; Delete empties the cache (the next load fetches again)', async () => {
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, server!.url);
    const before = modelRequests();
    assert.match(await loadServed(page, errors), /kept in this browser$/);
    assert.is(modelRequests(), before + 1, 'the first load fetched the model once');
    assert.match((await page.textContent('#cache-list')) ?? '', /default\.gguf3\.6 MB/);

    await page.reload();
    assert.match(await loadServed(page, errors), /from this browser’s storage$/);
    assert.is(modelRequests(), before + 1, `requests after the reload: ${JSON.stringify(requests.slice(-8))}`);
    const { reply } = await ask(page, 'Hello', { 'max-tokens': '16', seed: '3' });
    assert.ok(reply.trim().length > 0, 'the cached model generates');

    await page.click('#cache-list li button');
    await page.waitForSelector('#cache-list li', { state: 'detached', timeout: 10_000 });
    const cached = await page.evaluate(async () => (await import('/dist/browser.js' as string)).listCachedModels());
    assert.equal(cached, []);
    assert.ok(await page.isVisible('#cache-empty'));
    assert.match(await loadServed(page, errors), /kept in this browser$/);
    assert.is(modelRequests(), before + 2, 'after Delete the model is fetched again');
    assert.equal(errors, []);
  } finally {
    await context.close();
  }
});

(skip ? test.skip : test)('a static host without COOP/COEP: the page shows the notice, runs on one thread and still generates', async () => {
  const plain = await serveFiles((p: string) => (/^\/(web|dist|build|models)\//.test(p) ? join(ROOT, normalize(p.endsWith('/') ? `${p}index.html` : p)) : null));
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, `${plain.origin}/web/`);
    assert.is(await page.evaluate(() => crossOriginIsolated), false);
    assert.ok(await page.isVisible('#notice'));
    assert.match((await page.textContent('#notice')) ?? '', /not cross-origin isolated .* one thread/);
    // No models.json here: the page offers the package's bundled model.
    assert.match((await page.textContent('#model-select')) ?? '', /^default\.gguf$/);
    await page.fill('#thread-count', '2');
    await loadServed(page, errors);
    assert.is(await page.textContent('#threads'), 'threads: 1');
    assert.match((await page.textContent('#notice')) ?? '', /fairy2i-wasm: running on 1 thread instead of \d+: the page is not cross-origin isolated/);
    const { reply, stats } = await ask(page, 'Tell me a story.', { 'max-tokens': '16', seed: '4' });
    assert.ok(reply.trim().length > 0, 'a reply on one thread');
    assert.match(stats, /reply: \d+ tokens at [\d.]+ tok\/s/);
    assert.equal(errors, []);
  } finally {
    await context.close();
    await plain.close();
  }
});

(skip ? test.skip : test)('a local file through the file input is read into the worker (no request for the served model)', async () => {
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, server!.url);
    const before = modelRequests();
    await page.setInputFiles('#file', MODEL);
    assert.match(await waitLoaded(page, errors), /^loaded default\.gguf \(local\) in/);
    assert.is(modelRequests(), before);
    assert.match((await page.textContent('#facts')) ?? '', /filedefault\.gguf \(local\)/);
    const { reply } = await ask(page, 'Tell me a story.', { 'max-tokens': '16', seed: '5' });
    assert.ok(reply.trim().length > 0, 'a reply from the local file');
    assert.equal(errors, []);
  } finally {
    await context.close();
  }
});

(skip ? test.skip : test)("library: cache 'revalidate' keeps an unchanged file (one HEAD) and fetches a changed one again; a full quota is a notice naming the sizes and the model still loads", async () => {
  const copy = join(ARTIFACTS, 'model.gguf');
  copyFileSync(MODEL, copy);
  const own: { method: string; path: string }[] = [];
  const srv = await startWebServer({ root: ROOT, model: copy, port: 0, host: '127.0.0.1', onRequest: (r) => own.push(r) });
  const context = await browser!.newContext();
  try {
    const { page, errors } = await open(context, srv.url);
    const url = `${new URL(srv.url).origin}/models/model.gguf`;
    // Plain JavaScript (tsx would add helpers to a compiled callback that the page does not have).
    const load = (cache: unknown): Promise<{ notices: string[]; text: string; cached: number[] }> => page.evaluate(`(async () => {
      const lib = await import('/dist/browser.js');
      const notices = [];
      const m = await lib.loadModel(${JSON.stringify(url)}, { cache: ${JSON.stringify(cache)}, onNotice: (n) => notices.push(n) });
      const text = (await m.complete('Once', { maxTokens: 4, temperature: 0 })).text;
      m.dispose();
      return { notices, text, cached: (await lib.listCachedModels()).map((c) => c.size) };
    })()`);
    const calls = () => own.filter((r) => r.path.startsWith('/models/')).map((r) => r.method);

    let r = await load(true);
    assert.equal(calls(), ['GET']);
    assert.equal(r.cached, [3575520]);
    r = await load('revalidate');
    assert.equal(calls(), ['GET', 'HEAD'], 'unchanged: a HEAD only');
    utimesSync(copy, new Date(), new Date(Date.now() + 5000)); // a new mtime: a new ETag and Last-Modified
    r = await load('revalidate');
    assert.equal(calls(), ['GET', 'HEAD', 'HEAD', 'GET'], 'changed: fetched again');
    assert.ok(r.text.length > 0);

    // A quota smaller than the model (Chromium's DevTools protocol sets it for the origin).
    await page.evaluate(`import('/dist/browser.js').then((lib) => lib.deleteCachedModel(${JSON.stringify(url)}))`);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin' as any, { origin: new URL(srv.url).origin, quotaSize: 1_000_000 });
    r = await load(true);
    assert.is(r.notices.length, 1, JSON.stringify(r.notices));
    console.log(`  quota notice: ${r.notices[0]}`);
    assert.match(r.notices[0] ?? '', /^fairy2i-wasm: http:\/\/127\.0\.0\.1:\d+\/models\/model\.gguf is not kept in the browser's storage: the quota is full \(3\.6 MB needed(, [\d.]+ MB free)?\); delete cached models or free disk space\. The model loads anyway, from the network\.$/);
    assert.ok(r.text.length > 0, 'the model loaded anyway');
    assert.equal(r.cached, []);
    assert.equal(errors, []);
  } finally {
    await context.close();
    await srv.close();
  }
});

test.run();
