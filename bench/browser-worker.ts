// The demo's engine in Chromium: decode speed of the bundled model in a Web Worker
// (loadModelInWorker, which yields a macrotask per piece so Stop is seen within a token) against
// the same model on the page's main thread (loadModel), on 1 and 2 threads, one run each.
// npx tsx bench/browser-worker.ts
import { join } from 'node:path';
import { startWebServer } from '../src/cli/web-server.ts';
// @ts-ignore
import { findRuntime } from '../scripts/runtimes.mjs';
// @ts-ignore
import { launchChromium } from '../scripts/chromium.mjs';

const ROOT = process.cwd();
const server = await startWebServer({ root: ROOT, model: join(ROOT, 'models/default.gguf'), port: 0, host: '127.0.0.1' });
const browser = await launchChromium(findRuntime('chromium').path);
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  for (const threads of [1, 2]) {
    for (const where of ['main thread', 'worker']) {
      const r = await page.evaluate(async ({ threads, where, url }) => {
        const lib: any = await import('/dist/browser.js' as string);
        const m = where === 'worker' ? await lib.loadModelInWorker(url, { threads }) : await lib.loadModel(url, { threads });
        const opts = { temperature: 0, maxTokens: 200, stopAtEos: false };
        await m.complete('Once upon a time', { ...opts, maxTokens: 16 });
        const res = await m.complete('Once upon a time', opts);
        m.dispose();
        return { gen: res.timings.generateTokensPerSecond, n: res.tokens.length };
      }, { threads, where, url: new URL('../models/default.gguf', server.url).href });
      console.log(`${where.padEnd(12)} threads ${threads}: ${r.gen.toFixed(1)} tok/s (${r.n} tokens)`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
