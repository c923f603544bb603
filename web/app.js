// The demo page's logic. The engine runs in a Web Worker (loadModelInWorker), so this thread only
// updates the page; downloaded models are kept in the browser's Cache Storage and listed here.
import { deleteCachedModel, listCachedModels, loadModelInWorker } from '../dist/browser.js';

const $ = (id) => document.getElementById(id);
const ui = {
  isolation: $('isolation'), threads: $('threads'), notice: $('notice'),
  select: $('model-select'), load: $('load'), url: $('url'), loadUrl: $('load-url'), file: $('file'), drop: $('drop'), useCache: $('use-cache'),
  progressBox: $('progress-box'), progress: $('progress'), progressText: $('progress-text'), cancel: $('cancel'), loadStatus: $('load-status'), facts: $('facts'),
  cacheList: $('cache-list'), cacheEmpty: $('cache-empty'), deleteAll: $('delete-all'),
  system: $('system'), temperature: $('temperature'), topK: $('top-k'), topP: $('top-p'), minP: $('min-p'), maxTokens: $('max-tokens'), seed: $('seed'), threadCount: $('thread-count'), stopAtEos: $('stop-at-eos'),
  messages: $('messages'), composer: $('composer'), prompt: $('prompt'), send: $('send'), stop: $('stop'), reset: $('reset'), stats: $('stats'),
};

let model = null;
let chat = null;
let loading = null; // AbortController of the load in progress
let replying = null; // AbortController of the reply in progress
const notices = [];

// ---- formatting ------------------------------------------------------------------------------

const mb = (b) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
const seconds = (s) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.max(0, Math.round(s))} s`);
const rate = (r) => (r >= 100 ? r.toFixed(0) : r.toFixed(1));

function notice(text) {
  if (notices.includes(text)) return;
  notices.push(text);
  ui.notice.textContent = notices.join('\n');
  ui.notice.hidden = false;
}

function status(text, isError = false) {
  ui.loadStatus.textContent = text;
  ui.loadStatus.classList.toggle('error', isError);
}

// ---- the page's environment --------------------------------------------------------------------

if (crossOriginIsolated) {
  ui.isolation.textContent = 'cross-origin isolated';
  ui.isolation.classList.add('good');
} else {
  ui.isolation.textContent = 'not isolated: 1 thread';
  ui.isolation.classList.add('warn');
  notice('This page is not cross-origin isolated (no COOP/COEP headers), so the engine runs on one thread. Serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for threads.');
}

async function servedModels() {
  try {
    const res = await fetch('models.json');
    if (res.ok) return (await res.json()).models;
  } catch { /* a static host without models.json */ }
  return [{ name: 'default.gguf', url: '../models/default.gguf' }];
}

for (const m of await servedModels()) {
  const o = document.createElement('option');
  o.value = new URL(m.url, location.href).href;
  o.textContent = m.size ? `${m.name} (${mb(m.size)})` : m.name;
  ui.select.append(o);
}

// ---- loading -----------------------------------------------------------------------------------

function showProgress(t0, { loaded, total }) {
  const s = (performance.now() - t0) / 1000;
  const r = s > 0 ? loaded / s : 0;
  ui.progress.max = total || 1;
  ui.progress.value = loaded;
  const left = r > 0 && total ? ` · ${seconds((total - loaded) / r)} left` : '';
  ui.progressText.textContent = `${mb(loaded)} of ${mb(total)} · ${mb(r)}/s${left}`;
}

function showFacts(facts, label) {
  const c = facts.config;
  const rows = [
    ['file', label],
    ['name', c.name || '(unnamed)'],
    ['shape', `dim ${c.dim}, ${c.nLayers} layers, ffn ${c.ffnDim}`],
    ['heads', `${c.nHeads} (kv ${c.nKvHeads}, head_dim ${c.headDim})`],
    ['vocab', `${c.vocabSize}`],
    ['context', `${facts.contextLength} of ${c.contextLength} (KV ${facts.kvType})`],
    ['weights', c.stages ? `Fairy2i V${c.stages} {±1,±i}, ${c.stages} stage${c.stages > 1 ? 's' : ''}` : `float (${c.floatType})`],
    ['memory', `${mb(facts.memoryBytes.total)} (weights ${mb(facts.memoryBytes.weights)}, KV ${mb(facts.memoryBytes.kvCache)})`],
    ['precision', facts.precision],
    ['threads', String(facts.threads)],
  ];
  const body = ui.facts.tBodies[0];
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    const td = document.createElement('td');
    th.textContent = k;
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
  ui.facts.hidden = false;
}

function setChatEnabled(on) {
  ui.prompt.disabled = !on;
  ui.send.disabled = !on;
  ui.reset.disabled = !on;
}

async function load(source, label, cacheable) {
  if (loading) loading.abort();
  replying?.abort();
  model?.dispose();
  model = chat = null;
  setChatEnabled(false);
  ui.facts.hidden = true;
  const ctrl = (loading = new AbortController());
  const cache = cacheable && ui.useCache.checked;
  const cachedBefore = cache && (await cachedUrls()).has(source);
  status(`loading ${label}${cachedBefore ? ' from this browser’s storage' : ''}…`);
  ui.progressBox.hidden = false;
  ui.progress.value = 0;
  ui.progressText.textContent = '';
  const t0 = performance.now();
  try {
    const m = await loadModelInWorker(source, {
      cache: cache || undefined,
      // Blank: the library's choice (all cores, or 1 for a model too small to split).
      ...(ui.threadCount.value.trim() ? { threads: Math.max(1, Number(ui.threadCount.value) || 1) } : {}),
      signal: ctrl.signal,
      onProgress: (p) => showProgress(t0, p),
      onNotice: notice,
    });
    if (ctrl.signal.aborted) { m.dispose(); return; }
    model = m;
    chat = model.chat({ system: ui.system.value.trim() || undefined });
    showFacts(model.facts, label);
    ui.threads.textContent = `threads: ${model.threads}`;
    status(`loaded ${label} in ${((performance.now() - t0) / 1000).toFixed(2)} s${cachedBefore ? ' from this browser’s storage' : cache ? ', kept in this browser' : ''}`);
    setChatEnabled(true);
    ui.prompt.focus();
  } catch (e) {
    status(e.name === 'AbortError' ? 'loading cancelled' : `could not load ${label}: ${e.message}`, e.name !== 'AbortError');
  } finally {
    if (loading === ctrl) loading = null;
    ui.progressBox.hidden = true;
    refreshCache();
  }
}

const nameOf = (url) => decodeURIComponent(new URL(url).pathname.split('/').pop() || url);

ui.load.onclick = () => ui.select.value && load(ui.select.value, nameOf(ui.select.value), true);
ui.loadUrl.onclick = () => {
  const u = ui.url.value.trim();
  if (!u) { status('enter a model URL first', true); return; }
  let href;
  try { href = new URL(u, location.href).href; } catch { status(`not a URL: ${u}`, true); return; }
  load(href, nameOf(href), true);
};
// A local file goes to the worker as a File (no copy) and is read there in chunks.
ui.file.onchange = () => { const f = ui.file.files?.[0]; if (f) load(f, `${f.name} (local)`, false); };
ui.cancel.onclick = () => loading?.abort();
for (const ev of ['dragenter', 'dragover']) document.addEventListener(ev, (e) => { e.preventDefault(); ui.drop.classList.add('over'); });
for (const ev of ['dragleave', 'drop']) document.addEventListener(ev, (e) => { e.preventDefault(); ui.drop.classList.remove('over'); });
document.addEventListener('drop', (e) => { const f = e.dataTransfer?.files?.[0]; if (f) load(f, `${f.name} (local)`, false); });

// ---- the browser cache -------------------------------------------------------------------------

async function cachedUrls() {
  try { return new Set((await listCachedModels()).map((m) => m.url)); } catch { return new Set(); }
}

async function refreshCache() {
  let list = [];
  try {
    list = await listCachedModels();
  } catch (e) {
    ui.cacheEmpty.textContent = e.message;
  }
  ui.cacheList.replaceChildren(...list.map((m) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = nameOf(m.url);
    name.title = m.url;
    const size = document.createElement('span');
    size.className = 'size';
    size.textContent = m.size === null ? '?' : mb(m.size);
    const del = document.createElement('button');
    del.type = 'button';
    del.textContent = 'Delete';
    del.onclick = async () => { await deleteCachedModel(m.url); refreshCache(); };
    li.append(name, size, del);
    return li;
  }));
  ui.cacheEmpty.hidden = list.length > 0;
  ui.deleteAll.disabled = list.length === 0;
}

ui.deleteAll.onclick = async () => {
  for (const m of await listCachedModels()) await deleteCachedModel(m.url);
  refreshCache();
};
refreshCache();

// ---- chat --------------------------------------------------------------------------------------

function bubble(role, text) {
  ui.messages.querySelector('.hint')?.remove();
  const div = document.createElement('div');
  div.className = `msg ${role}`;
  div.textContent = text;
  ui.messages.append(div);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return div;
}

function numberOr(input, fallback) {
  const v = input.value.trim();
  return v === '' ? fallback : Number(v);
}

function generateOptions(signal) {
  const seed = numberOr(ui.seed, undefined);
  return {
    temperature: numberOr(ui.temperature, 0.8), topK: numberOr(ui.topK, 40), topP: numberOr(ui.topP, 0.95), minP: numberOr(ui.minP, 0.05),
    maxTokens: numberOr(ui.maxTokens, 256), stopAtEos: ui.stopAtEos.checked, ...(seed === undefined ? {} : { seed }), onContextFull: 'shift', signal,
  };
}

async function send() {
  const text = ui.prompt.value.trim();
  if (!text || !chat || replying) return;
  ui.prompt.value = '';
  bubble('user', text);
  const out = bubble('assistant', '');
  out.classList.add('streaming');
  const ctrl = (replying = new AbortController());
  ui.send.disabled = true;
  ui.stop.disabled = false;
  ui.stats.textContent = 'generating…';
  try {
    const stream = chat.send(text, generateOptions(ctrl.signal));
    let shown = '';
    for await (const piece of stream) {
      shown += piece.text;
      out.textContent = shown.trimStart();
      ui.messages.scrollTop = ui.messages.scrollHeight;
    }
    const r = await stream.result;
    const u = r.usage, t = r.timings;
    let line = `prompt: ${u.evaluatedPromptTokens} tokens at ${rate(t.promptTokensPerSecond)} tok/s · reply: ${u.completionTokens} tokens at ${rate(t.generateTokensPerSecond)} tok/s`;
    if (r.stopReason === 'abort') line += ` · stopped (${r.tokensAfterAbort ?? 0} token${r.tokensAfterAbort === 1 ? '' : 's'} after Stop)`;
    else if (r.stopReason === 'length') line += ' · max tokens reached';
    ui.stats.textContent = line;
    if (!shown.trim()) out.textContent = '(no text)';
  } catch (e) {
    out.classList.add('error');
    out.textContent = `error: ${e.message}`;
    ui.stats.textContent = '';
  } finally {
    out.classList.remove('streaming');
    replying = null;
    ui.send.disabled = !chat;
    ui.stop.disabled = true;
  }
}

ui.composer.onsubmit = (e) => { e.preventDefault(); send(); };
ui.prompt.onkeydown = (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } };
ui.stop.onclick = () => replying?.abort();
ui.reset.onclick = async () => {
  replying?.abort();
  await chat?.reset();
  ui.messages.replaceChildren();
  ui.stats.textContent = '';
};
ui.system.onchange = () => chat?.setSystem(ui.system.value.trim());
