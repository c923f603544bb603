// An edge function on workerd (Cloudflare's open-source Workers runtime): greedy completions over
// HTTP from a Fairy2i model, with the same engine .wasm as Node and browsers.
//
// Edge runtimes forbid compiling wasm from bytes at run time, so the engine comes in as a wasm
// *module* (workerd compiles it when it loads the config) and is handed to loadModel as
// `{ wasm: WebAssembly.Module }`. The model is a data module (an ArrayBuffer); a worker could as well
// pass loadModel a Response from fetch() or an R2 object body.
//
//   POST /completion {"prompt": "Once upon a time", "n": 32}  ->  {"text": "...", "tokens": [...]}
//
// build.mjs bundles this file with esbuild (in your own project import from 'fairy2i-wasm', whose
// "browser" export is the same dist/browser.js) and lays out config.capnp's directory.
import wasm from './fairy2i.wasm';
import modelBytes from './model.gguf';
import { loadModel } from '../../dist/browser.js';

const MAX_TOKENS = 1024;

// One model per isolate, loaded by the first request (I/O and timers are not allowed at global
// scope in workerd). A model has one KV cache and generation yields to the event loop between
// tokens, so completions in the same isolate take turns instead of interleaving on the cache.
let model = null;
async function getModel() {
  model ??= await loadModel(modelBytes, { wasm });
  return model;
}
let turn = Promise.resolve();
function exclusive(fn) {
  const run = turn.then(fn);
  turn = run.catch(() => {});
  return run;
}

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/completion') {
      if (request.method !== 'POST') return json({ error: 'POST a JSON body {prompt, n}' }, 405);
      let body;
      try {
        body = await request.json();
      } catch {
        return json({ error: 'the body is not JSON: send {"prompt": string, "n": integer}' }, 400);
      }
      const { prompt, n = 32 } = body ?? {};
      if (typeof prompt !== 'string') return json({ error: '"prompt" must be a string' }, 400);
      if (!Number.isInteger(n) || n < 0 || n > MAX_TOKENS) return json({ error: `"n" must be an integer in [0, ${MAX_TOKENS}]` }, 400);
      try {
        const r = await exclusive(async () => (await getModel()).complete(prompt, { temperature: 0, maxTokens: n }));
        return json({ text: r.text, tokens: r.tokens });
      } catch (e) {
        // The library's own errors (Fairy2iError: a bad prompt or option) are the caller's fault.
        if (e && typeof e.code === 'string') return json({ error: e.message }, 400);
        throw e;
      }
    }
    if (pathname === '/') {
      const { name, vocabSize, contextLength, stages } = (await getModel()).config;
      return json({ model: { name, vocabSize, contextLength, stages }, endpoints: ['POST /completion {prompt, n}'] });
    }
    return json({ error: `no route ${pathname}` }, 404);
  },
};
