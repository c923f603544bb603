// The Hub client (src/hub/http.ts, repo.ts, download.ts) in-process, over real HTTP on loopback:
// against the Hub emulator (test/hub-emulator.ts: model info, resolve, a CDN on another origin with
// ranges and dropped connections) and against scripted servers for the faults the emulator does not
// make (5xx then success, redirect chains, odd model-info bodies, servers that ignore ranges or send
// short bodies). hub.test.ts runs `pull` and the CLI end to end; this suite checks the client's
// rules one by one (and is the one `npm run mutate -- hub` runs).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Fairy2iError } from '../src/errors.ts';
import { downloadFile, fetchSmallFile } from '../src/hub/download.ts';
import { HubHttp, hubConfigFromEnv, type HubConfig } from '../src/hub/http.ts';
import { fileUrl, modelInfo, parseRepoRef } from '../src/hub/repo.ts';
import { tempDir } from './fixtures.ts';
import { HubEmulator } from './hub-emulator.ts';

const dir = tempDir('fairy2i-hub-client-');
const REPO_DIR = join(dir, 'repo');
const WEIGHTS = Buffer.alloc(300_000);
for (let i = 0, x = 7; i < WEIGHTS.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; WEIGHTS[i] = x >>> 24; }
const README = '# a small repo\n';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
let hub: HubEmulator;
const cfg = (extra: Partial<HubConfig> = {}): HubConfig => ({ endpoint: hub.endpoint, offline: false, backoffMs: 1, ...extra });

/** A one-off loopback server answering with `handle`; records each request's URL and headers. */
async function scripted(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const requests: { url: string; headers: IncomingMessage['headers'] }[] = [];
  const srv = createServer((req, res) => { requests.push({ url: req.url!, headers: req.headers }); handle(req, res, requests.length); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  srv.unref();
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { url, requests, close: () => { srv.closeAllConnections(); return new Promise((r) => srv.close(r)); } };
}

/** The Fairy2iError a promise rejects with (fails the test when it resolves or throws something else). */
async function rejection(p: Promise<unknown>): Promise<Fairy2iError> {
  try { await p; } catch (e) { if (e instanceof Fairy2iError) return e; throw e; }
  throw new Error('resolved; expected a Fairy2iError');
}

const names = suite('hub: names and configuration');

names('OWNER/REPO[@REVISION][/FILE], with or without hf:', () => {
  assert.equal(parseRepoRef('PKU-DS-LAB/Fairy2i-W2'), { repo: 'PKU-DS-LAB/Fairy2i-W2', revision: 'main' });
  assert.equal(parseRepoRef('hf:a/b.c_d-e'), { repo: 'a/b.c_d-e', revision: 'main' });
  assert.equal(parseRepoRef('o/r@v1.0'), { repo: 'o/r', revision: 'v1.0' });
  assert.equal(parseRepoRef('hf:o/r@0123abc/sub/dir/model.gguf'), { repo: 'o/r', revision: '0123abc', file: 'sub/dir/model.gguf' });
  assert.equal(parseRepoRef('o/r/x.gguf'), { repo: 'o/r', revision: 'main', file: 'x.gguf' });
  for (const bad of ['', 'o', 'o/', '/r', '-o/r', '.o/r', 'o/r.', 'o r/x', 'o/r@', 'o/r@a b', 'o/r/../x', 'o/r/./x', 'o/r/a//b', 'o/r/a/', 'o/r/..', 'hf:', 'hf:o', 'xhf:o/r']) {
    assert.throws(() => parseRepoRef(bad), (e: Error) => e instanceof Fairy2iError && e.code === 'option'
      && e.message === `'${bad}' is not a Hub model name (expected OWNER/REPO[@REVISION][/FILE], e.g. PKU-DS-LAB/Fairy2i-W2)`, bad);
  }
});

names('file URLs encode the revision and each path segment', () => {
  assert.is(fileUrl('o/r', 'main', 'a b/c#d.gguf'), 'o/r/resolve/main/a%20b/c%23d.gguf');
  assert.is(fileUrl('o/r', 'refs/pr/1', 'x'), 'o/r/resolve/refs%2Fpr%2F1/x');
});

names('HF_ENDPOINT, HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) and HF_HUB_OFFLINE', () => {
  assert.equal(hubConfigFromEnv({}), { endpoint: 'https://huggingface.co', token: undefined, offline: false });
  assert.is(hubConfigFromEnv({ HF_ENDPOINT: 'http://mirror.example/hf///' }).endpoint, 'http://mirror.example/hf');
  assert.is(hubConfigFromEnv({ HF_ENDPOINT: '' }).endpoint, 'https://huggingface.co');
  assert.is(hubConfigFromEnv({ HF_TOKEN: 'a', HUGGING_FACE_HUB_TOKEN: 'b' }).token, 'a');
  assert.is(hubConfigFromEnv({ HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: 'b' }).token, 'b');
  assert.is(hubConfigFromEnv({ HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '' }).token, undefined);
  for (const v of ['1', 'true', 'TRUE', 'yes', 'On']) assert.is(hubConfigFromEnv({ HF_HUB_OFFLINE: v }).offline, true, v);
  for (const v of ['', '0', 'false', 'no', 'off', '2']) assert.is(hubConfigFromEnv({ HF_HUB_OFFLINE: v }).offline, false, v);
});

names('retries back off from backoffMs (500 ms unless set), doubling, capped at 8 s', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 7].map((a) => new HubHttp({ endpoint: 'http://x', offline: false }).backoff(a)), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal([1, 2, 3].map((a) => new HubHttp({ endpoint: 'http://x', offline: false, backoffMs: 3000 }).backoff(a)), [3000, 6000, 8000]);
});

names.run();

const http = suite('hub: HTTP, model info and errors');
http.before(async () => {
  mkdirSync(REPO_DIR, { recursive: true });
  writeFileSync(join(REPO_DIR, 'weights.bin'), WEIGHTS);
  writeFileSync(join(REPO_DIR, 'README.md'), README);
  hub = await new HubEmulator([{ id: 'test/small', dir: REPO_DIR }, { id: 'test/gated', dir: REPO_DIR, gatedToken: 'hf_right' }]).start();
});
http.after(async () => { await hub?.stop(); });

http('model info: the commit and every file with its size; the sha256 for LFS files only', async () => {
  const info = await modelInfo(new HubHttp(cfg()), parseRepoRef('test/small'));
  assert.equal(info, {
    repo: 'test/small', revision: 'main', commit: hub.commitOf('test/small'),
    files: [{ path: 'README.md', size: README.length }, { path: 'weights.bin', size: WEIGHTS.length, sha256: sha256(WEIGHTS) }],
  });
  // by commit
  assert.is((await modelInfo(new HubHttp(cfg()), { repo: 'test/small', revision: info.commit })).commit, info.commit);
});

http('the Hub\'s error statuses are one-line input errors that say what to do', async () => {
  const e1 = await rejection(modelInfo(new HubHttp(cfg()), parseRepoRef('nobody/nothing')));
  assert.equal([e1.code, e1.message], ['input', 'nobody/nothing: repository not found, or private or gated (set HF_TOKEN to a token of an account that has access; HTTP 401)']);
  const e2 = await rejection(modelInfo(new HubHttp(cfg({ token: 'hf_x' })), parseRepoRef('nobody/nothing')));
  assert.is(e2.message, 'nobody/nothing: repository not found, or private or gated (the token in HF_TOKEN was not accepted for it; HTTP 401)');
  const e3 = await rejection(modelInfo(new HubHttp(cfg()), parseRepoRef('test/small@v9')));
  assert.is(e3.message, "test/small: revision 'v9' not found");
  const ctx = { repo: 'test/gated', revision: 'main', file: 'README.md' };
  const e4 = await rejection(new HubHttp(cfg()).get(fileUrl('test/gated', 'main', 'README.md'), ctx));
  assert.is(e4.message, `test/gated is gated: accept its licence at ${hub.endpoint}/test/gated and set HF_TOKEN to a token of that account (HTTP 401)`);
  const e5 = await rejection(new HubHttp(cfg({ token: 'hf_wrong' })).get(fileUrl('test/gated', 'main', 'README.md'), ctx));
  assert.is(e5.message, `test/gated is gated: accept its licence at ${hub.endpoint}/test/gated and use a token of that account in HF_TOKEN (HTTP 403)`);
  assert.not.match(e5.message, 'hf_wrong');
  const ok = await new HubHttp(cfg({ token: 'hf_right' })).get(fileUrl('test/gated', 'main', 'README.md'), ctx);
  assert.is(await ok.res.text(), README);
  const e6 = await rejection(new HubHttp(cfg()).get(fileUrl('test/small', 'main', 'nope.bin'), { repo: 'test/small', revision: 'main', file: 'nope.bin' }));
  assert.is(e6.message, 'test/small@main: nope.bin: not found (HTTP 404)');
  // statuses the emulator does not send
  const s = await scripted((req, res) => {
    const [status, code] = req.url!.slice(1).split('-');
    res.writeHead(Number(status), code ? { 'x-error-code': code } : {});
    res.end('{}');
  });
  try {
    const get = (path: string, token?: string) => rejection(new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1, token }).get(path, { repo: 'o/r', revision: 'v1', file: 'f.gguf' }));
    assert.is((await get('404-RepoNotFound')).message, `o/r: repository not found on ${s.url}`);
    for (const st of ['404-RepoNotFound', '404-RevisionNotFound', '404-EntryNotFound', '401', '403', '416', '418']) assert.is((await get(st)).code, 'input', st);
    assert.is((await get('404-EntryNotFound')).message, 'o/r@v1: f.gguf: not found (HTTP 404)');
    assert.is((await get('403')).message, `o/r is gated: accept its licence at ${s.url}/o/r and set HF_TOKEN to a token of that account (HTTP 403)`);
    assert.is((await get('401-GatedRepo', 'hf_t')).message, `o/r is gated: accept its licence at ${s.url}/o/r and use a token of that account in HF_TOKEN (HTTP 401)`);
    assert.is((await get('416')).message, 'o/r@v1: f.gguf: the server refused the byte range (HTTP 416)');
    assert.is((await get('418')).message, 'o/r@v1: f.gguf: HTTP 418');
    assert.is((await get('400')).message, 'o/r@v1: f.gguf: HTTP 400');
    assert.is((await get('304')).message, 'o/r@v1: f.gguf: HTTP 304', 'a 3xx without Location is not a redirect');
    assert.is(s.requests.length, 8 + 7, 'none of these is retried');
  } finally { await s.close(); }
});

http('5xx, 429, 408 and dropped connections are retried with backoff, then an io error', async () => {
  const s = await scripted((req, res, n) => {
    const plan = req.url!.slice(1).split(',');
    const status = Number(plan[n - 1] ?? 200);
    res.writeHead(status);
    res.end(status === 200 ? 'done' : 'busy');
  });
  try {
    for (const plan of ['500,503,200', '429,200', '408,502,504,200']) {
      s.requests.length = 0;
      const { res } = await new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1 }).get(plan, { repo: 'o/r', revision: 'main' });
      assert.equal([res.status, await res.text(), s.requests.length], [200, 'done', plan.split(',').length], plan);
    }
    s.requests.length = 0;
    const e = await rejection(new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1, attempts: 3 }).get('500,500,500,200', { repo: 'o/r', revision: 'main', file: 'f' }));
    assert.equal([e.code, e.message, s.requests.length], ['io', `o/r@main: f: HTTP 500 from ${new URL(s.url).host} (gave up after 3 attempts)`, 3]);
    s.requests.length = 0;
    // the default: 5 attempts
    await rejection(new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1 }).get('500,500,500,500,500,500,200', { repo: 'o/r', revision: 'main' }));
    assert.is(s.requests.length, 5);
  } finally { await s.close(); }
  // an endpoint with a path (a mirror under a prefix): relative paths go below it
  const m = await scripted((_req, res) => { res.end('{}'); });
  try {
    await new HubHttp({ endpoint: `${m.url}/mirror/hf`, offline: false }).get('api/models/o/r', { repo: 'o/r', revision: 'main' });
    assert.is(m.requests[0].url, '/mirror/hf/api/models/o/r');
  } finally { await m.close(); }
  // nobody listening: a dropped connection, retried, then named
  const gone = await scripted(() => {});
  await gone.close();
  const e = await rejection(new HubHttp({ endpoint: gone.url, offline: false, backoffMs: 1, attempts: 2 }).get('x', { repo: 'o/r', revision: 'main' }));
  assert.is(e.code, 'io');
  assert.match(e.message, new RegExp(`^o/r@main: cannot reach ${new URL(gone.url).host.replace(/\./g, '\\.')} \\(ECONNREFUSED\\) \\(gave up after 2 attempts\\)$`));
});

http('an abort during the backoff wait ends at once', async () => {
  const s = await scripted((_req, res) => { res.writeHead(503); res.end(); });
  try {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('stopped by the user')), 100);
    const p = new HubHttp({ endpoint: s.url, offline: false, backoffMs: 60_000 }).get('x', { repo: 'o/r', revision: 'main' }, { signal: ac.signal });
    await p.then(() => assert.unreachable('resolved'), (e) => assert.is((e as Error).message, 'stopped by the user'));
    assert.ok(Date.now() - t0 < 10_000, 'waited out the backoff');
    assert.is(s.requests.length, 1);
  } finally { await s.close(); }
});

http('an aborted signal ends a request at once, without retries', async () => {
  const s = await scripted((_req, res) => { res.end('x'); });
  try {
    const ac = new AbortController();
    ac.abort();
    const err = await new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1 }).get('x', { repo: 'o/r', revision: 'main' }, { signal: ac.signal }).then(() => null, (e) => e);
    assert.ok(err && err.name === 'AbortError' && !(err instanceof Fairy2iError), String(err));
  } finally { await s.close(); }
});

http('offline: no request at all, an input error naming what is missing', async () => {
  const s = await scripted((_req, res) => { res.end('x'); });
  try {
    const off = new HubHttp({ endpoint: s.url, offline: true });
    const e = await rejection(off.get('x', { repo: 'o/r', revision: 'main', file: 'model.gguf' }));
    assert.equal([e.code, e.message], ['input', 'o/r: HF_HUB_OFFLINE is set and model.gguf is not in the cache']);
    assert.is((await rejection(off.get('x', { repo: 'o/r', revision: 'main' }))).message, 'o/r: HF_HUB_OFFLINE is set and the repo is not in the cache');
    assert.is(s.requests.length, 0);
  } finally { await s.close(); }
});

http('redirects: followed (relative too, at most 10); the token goes to the Hub only, never after it left', async () => {
  let other = '';
  const cdn = await scripted((req, res) => {
    if (req.url === '/back') { res.writeHead(302, { location: `${hubUrl}/final` }); res.end(); return; }
    res.writeHead(200, { 'x-repo-commit': 'from-the-cdn' }); res.end('cdn body');
  });
  other = cdn.url;
  let hubUrl = '';
  const s = await scripted((req, res) => {
    const m = /^\/chain\/(\d+)$/.exec(req.url!);
    if (m) {
      const left = Number(m[1]);
      res.writeHead(left ? 302 : 200, left ? { location: `/chain/${left - 1}` } : {});
      res.end(left ? '' : 'end of chain');
      return;
    }
    if (req.url === '/to-cdn') { res.writeHead(302, { location: `${other}/back`, 'x-repo-commit': 'c0ffee', 'x-linked-size': '8', 'x-linked-etag': '"abc"' }); res.end(); return; }
    if (req.url === '/final') { res.writeHead(200); res.end('back on the hub'); return; }
    if (req.url === '/200-with-location') { res.writeHead(200, { location: '/final' }); res.end('the answer'); return; }
    if (req.url === '/300') { res.writeHead(300, { location: '/final' }); res.end(); return; }
    if (req.url === '/399') { res.writeHead(399, { location: '/final' }); res.end(); return; }
    if (req.url === '/400-with-location') { res.writeHead(400, { location: '/final' }); res.end(); return; }
    if (req.url === '/range') { res.writeHead(206); res.end(String(req.headers.range)); return; }
    res.writeHead(404); res.end();
  });
  hubUrl = s.url;
  try {
    const h = new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1, token: 'hf_SECRET' });
    const ctx = { repo: 'o/r', revision: 'main' };
    assert.is(await (await h.get('chain/10', ctx)).res.text(), 'end of chain', '10 redirects are followed');
    assert.ok(s.requests.every((r) => r.headers.authorization === 'Bearer hf_SECRET' && r.headers['user-agent'] === 'fairy2i-wasm'));
    const e = await rejection(h.get('chain/11', ctx));
    assert.equal([e.code, e.message], ['input', 'o/r@main: more than 10 redirects']);
    s.requests.length = 0;
    // hub → CDN → back to the hub: the token stays behind from the CDN on
    const r = await h.get('to-cdn', ctx);
    assert.is(await r.res.text(), 'back on the hub');
    assert.equal(s.requests.map((q) => [q.url, q.headers.authorization]), [['/to-cdn', 'Bearer hf_SECRET'], ['/final', undefined]]);
    assert.equal(cdn.requests.map((q) => q.headers.authorization), [undefined]);
    // the Hub's headers from before the redirect, first seen wins
    assert.equal([r.hubHeaders.get('x-repo-commit'), r.hubHeaders.get('x-linked-size'), r.hubHeaders.get('x-linked-etag')], ['c0ffee', '8', '"abc"']);
    // ranges: [start, end) as HTTP's inclusive bytes=start-(end−1), or open-ended
    assert.is(await (await h.get('range', ctx, { start: 10, end: 20 })).res.text(), 'bytes=10-19');
    assert.is(await (await h.get('range', ctx, { start: 0 })).res.text(), 'bytes=0-');
    assert.is(await (await h.get('range', ctx)).res.text(), 'undefined');
    // 3xx with a Location is a redirect; other statuses are not, Location or not
    assert.is(await (await h.get('200-with-location', ctx)).res.text(), 'the answer');
    assert.is(await (await h.get('300', ctx)).res.text(), 'back on the hub');
    assert.is(await (await h.get('399', ctx)).res.text(), 'back on the hub');
    assert.is((await rejection(h.get('400-with-location', ctx))).message, 'o/r@main: HTTP 400');
    // without a token nothing is sent
    s.requests.length = 0;
    await new HubHttp({ endpoint: s.url, offline: false }).get('chain/0', ctx);
    assert.is(s.requests[0].headers.authorization, undefined);
  } finally { await s.close(); await cdn.close(); }
});

http('model info bodies that are not what the Hub sends', async () => {
  const sha = 'a'.repeat(40);
  const bodies: Record<string, string> = {
    notjson: '<html>', nosha: JSON.stringify({ siblings: [] }), shortsha: JSON.stringify({ sha: 'a'.repeat(39), siblings: [] }), upper: JSON.stringify({ sha: 'A'.repeat(40), siblings: [] }),
    nolist: JSON.stringify({ sha }), null: 'null', longsha: JSON.stringify({ sha: 'a'.repeat(41), siblings: [] }), xsha: JSON.stringify({ sha: 'x' + 'a'.repeat(40), siblings: [] }), listobj: JSON.stringify({ sha, siblings: {} }),
    odd: JSON.stringify({ sha, siblings: [{ rfilename: 'a.bin', size: 5, lfs: { size: 9, sha256: 'b'.repeat(64) } }, { rfilename: 3 }, null, { rfilename: 'b.txt' }, { rfilename: 'c', size: 4, lfs: { sha256: 'B'.repeat(64) } }, { rfilename: 'd', size: 'x', lfs: { size: '7', sha256: 'c'.repeat(63) } }, { rfilename: 'e', size: 1, lfs: { sha256: 'd'.repeat(65) } }, { rfilename: 'f', size: 1, lfs: { sha256: 'x' + 'd'.repeat(64) } }] }),
  };
  const s = await scripted((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(bodies[/revision\/([^?]+)/.exec(req.url!)![1]]); });
  try {
    const info = (rev: string) => modelInfo(new HubHttp({ endpoint: s.url, offline: false }), { repo: 'o/r', revision: rev });
    const e = await rejection(info('notjson'));
    assert.match(e.message, /^o\/r@notjson: the model-info response is not JSON \(.+\)$/);
    assert.is(e.code, 'input');
    for (const rev of ['nosha', 'shortsha', 'longsha', 'xsha', 'upper', 'nolist', 'listobj', 'null']) {
      const e = await rejection(info(rev));
      assert.equal([e.code, e.message], ['input', `o/r@${rev}: the model-info response has no commit sha or file list`], rev);
    }
    assert.equal(await info('odd'), {
      repo: 'o/r', revision: 'odd', commit: sha,
      files: [{ path: 'a.bin', size: 9, sha256: 'b'.repeat(64) }, { path: 'b.txt', size: -1 }, { path: 'c', size: 4 }, { path: 'd', size: -1 }, { path: 'e', size: 1 }, { path: 'f', size: 1 }],
    });
    assert.match(s.requests[0].url, /^\/api\/models\/o\/r\/revision\/notjson\?blobs=true$/);
  } finally { await s.close(); }
});

http.run();

const dl = suite('hub: downloads');
let n = 0;
const dest = () => join(dir, `dl-${++n}`, 'weights.bin');
dl.before(async () => {
  mkdirSync(REPO_DIR, { recursive: true });
  writeFileSync(join(REPO_DIR, 'weights.bin'), WEIGHTS);
  writeFileSync(join(REPO_DIR, 'README.md'), README);
  hub = await new HubEmulator([{ id: 'test/small', dir: REPO_DIR }]).start();
});
dl.after(async () => { await hub?.stop(); });
const commit = () => hub.commitOf('test/small');
const FILE = () => ({ path: 'weights.bin', size: WEIGHTS.length, sha256: sha256(WEIGHTS) });
const prepare = (d: string, partial?: Uint8Array) => { mkdirSync(join(d, '..'), { recursive: true }); if (partial) writeFileSync(`${d}.partial`, partial); };
const cdnRanges = (from: number) => hub.log.slice(from).filter((x) => x.server === 'cdn').map((x) => x.range);

dl('a whole file: the bytes, renamed into place, no partial left', async () => {
  const d = dest(); prepare(d);
  await downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true });
  assert.equal(readFileSync(d), WEIGHTS);
  assert.not.ok(existsSync(`${d}.partial`));
});

dl('a dropped connection resumes from the byte held; so does a partial left by an earlier run', async () => {
  let d = dest(); prepare(d);
  hub.dropAfter.set('weights.bin', 100_001);
  let at = hub.log.length, before = hub.cdnBytes.get('weights.bin') ?? 0;
  await downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true });
  assert.equal(readFileSync(d), WEIGHTS);
  const ranges = cdnRanges(at);
  assert.is(ranges.length, 2);
  assert.is(ranges[0], undefined);
  const resume = Number(/^bytes=(\d+)-$/.exec(ranges[1]!)![1]);
  assert.ok(resume > 0 && resume <= 100_001, String(resume));
  assert.is((hub.cdnBytes.get('weights.bin') ?? 0) - before, 100_001 + WEIGHTS.length - resume);
  // an earlier run's partial: only the rest is fetched, and the whole is still checked
  d = dest(); prepare(d, WEIGHTS.subarray(0, 123_456));
  at = hub.log.length; before = hub.cdnBytes.get('weights.bin') ?? 0;
  await downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true });
  assert.equal(readFileSync(d), WEIGHTS);
  assert.equal(cdnRanges(at), ['bytes=123456-']);
  assert.is((hub.cdnBytes.get('weights.bin') ?? 0) - before, WEIGHTS.length - 123_456);
  // a partial longer than the file is thrown away
  d = dest(); prepare(d, Buffer.concat([WEIGHTS, Buffer.from('extra')]));
  at = hub.log.length;
  await downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true });
  assert.equal(readFileSync(d), WEIGHTS);
  assert.equal(cdnRanges(at), [undefined]);
});

dl('a wrong sha256 (from the model info or a damaged partial) caches nothing', async () => {
  let d = dest(); prepare(d);
  const e = await rejection(downloadFile(new HubHttp(cfg()), 'test/small', commit(), { ...FILE(), sha256: 'ab'.repeat(32) }, d, { quiet: true }));
  assert.equal([e.code, e.message], ['input', `test/small@${commit().slice(0, 12)}: weights.bin: sha256 mismatch (got ${sha256(WEIGHTS)}, the Hub's LFS pointer says ${'ab'.repeat(32)}); nothing was cached`]);
  assert.not.ok(existsSync(d) || existsSync(`${d}.partial`));
  d = dest(); prepare(d, Buffer.alloc(1000, 1));
  const e2 = await rejection(downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true }));
  assert.match(e2.message, /sha256 mismatch/);
  assert.not.ok(existsSync(d) || existsSync(`${d}.partial`));
  // without a sha256 in the model info, the Hub's X-Linked-Etag is the one checked
  d = dest(); prepare(d);
  hub.fakeSha.set('weights.bin', 'cd'.repeat(32));
  try {
    const e3 = await rejection(downloadFile(new HubHttp(cfg()), 'test/small', commit(), { path: 'weights.bin', size: WEIGHTS.length }, d, { quiet: true }));
    assert.match(e3.message, new RegExp(`the Hub's LFS pointer says ${'cd'.repeat(32)}\\); nothing was cached$`));
  } finally { hub.fakeSha.delete('weights.bin'); }
  // and without a size, the Hub's X-Linked-Size
  d = dest(); prepare(d);
  await downloadFile(new HubHttp(cfg()), 'test/small', commit(), { path: 'weights.bin', size: -1 }, d, { quiet: true });
  assert.equal(readFileSync(d), WEIGHTS);
});

/** What downloadFile writes to stderr when stderr is a 200-column terminal. */
async function onTerminal(run: () => Promise<void>): Promise<string[]> {
  const err = process.stderr as any, saved = { isTTY: err.isTTY, columns: err.columns, write: err.write };
  const out: string[] = [];
  Object.assign(err, { isTTY: true, columns: 200, write: (s: string | Uint8Array) => { out.push(String(s)); return true; } });
  try { await run(); } finally { Object.assign(err, saved); }
  return out;
}

dl('on a terminal, a progress line: the file, 100 % of its size at the end (also resumed or of unknown size); none when quiet', async () => {
  const MB = `${(WEIGHTS.length / 1e6).toFixed(1)} MB`;
  /** The last progress line, checked to hold nothing after its ETA. */
  const last = (out: string[]) => {
    assert.is(out.at(-1), '\n', 'done() ends the line');
    const line = out.at(-2)!;
    assert.match(line, /^\r.* ETA \S+ +$/, 'nothing after the ETA');
    return line.slice(1).replace(/  ETA .*/, '');
  };
  /** The last line up to its rate: the label, the share, done / total. */
  const head = (out: string[]) => last(out).replace(/  [\d.]+ MB\/s$/, '');
  let d = dest(); prepare(d);
  assert.is(head(await onTerminal(() => downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: false }))), `weights.bin 100.0%  ${MB} / ${MB}`);
  // resumed from a partial: what it held counts
  d = dest(); prepare(d, WEIGHTS.subarray(0, 123_456));
  assert.is(head(await onTerminal(() => downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, {}))), `weights.bin 100.0%  ${MB} / ${MB}`);
  // an unknown size: the total shows as 0 and the share as 100 %
  d = dest(); prepare(d);
  assert.is(head(await onTerminal(() => downloadFile(new HubHttp(cfg()), 'test/small', commit(), { path: 'weights.bin', size: -1 }, d, {}))), `weights.bin 100.0%  ${MB} / 0.0 MB`);
  d = dest(); prepare(d);
  assert.equal(await onTerminal(() => downloadFile(new HubHttp(cfg()), 'test/small', commit(), FILE(), d, { quiet: true })), []);
  assert.equal(readFileSync(d), WEIGHTS);
});

dl('servers that ignore the range, stop short, send too much, or keep dropping', async () => {
  const body = WEIGHTS.subarray(0, 50_000);
  const file = { path: 'w.bin', size: body.length, sha256: sha256(body) };
  const mode = { now: 'ignore-range' };
  const s = await scripted((req, res) => {
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (mode.now === 'ignore-range') { res.writeHead(200, { 'content-length': body.length }); res.end(body); return; }
    if (mode.now === 'short') { const part = body.subarray(start, start + 10_000); res.writeHead(start ? 206 : 200, { 'content-length': part.length }); res.end(part); return; }
    if (mode.now === 'too-much') { res.writeHead(200); res.end(Buffer.concat([body, Buffer.from('!')])); return; }
    if (mode.now === 'no-size') { res.writeHead(200); res.end(body); return; }
    if (mode.now.startsWith('linked:')) { res.writeHead(200, { 'x-linked-etag': mode.now.slice(7) }); res.end(body); return; }
    if (mode.now === 'short-linked') { const part = body.subarray(start, start + 10_000); res.writeHead(start ? 206 : 200, { 'content-length': part.length, 'x-linked-size': body.length }); res.end(part); return; }
    // 'drop': a declared length, then the connection ends early
    res.writeHead(start ? 206 : 200, { 'content-length': body.length - start });
    res.write(body.subarray(start, start + 1000), () => res.socket?.destroy());
  });
  try {
    const h = (attempts?: number) => new HubHttp({ endpoint: s.url, offline: false, backoffMs: 1, attempts });
    // a 200 to a ranged request: the partial is replaced, not appended to
    let d = dest(); prepare(d, body.subarray(0, 7000));
    await downloadFile(h(), 'o/r', 'c'.repeat(40), file, d, { quiet: true });
    assert.equal(readFileSync(d), body);
    assert.is(s.requests[0].headers.range, 'bytes=7000-');
    // 10 000 bytes a response: five responses with ranges from where it stopped
    mode.now = 'short'; s.requests.length = 0;
    d = dest(); prepare(d);
    await downloadFile(h(), 'o/r', 'c'.repeat(40), file, d, { quiet: true });
    assert.equal(readFileSync(d), body);
    assert.equal(s.requests.map((r) => r.headers.range), [undefined, 'bytes=10000-', 'bytes=20000-', 'bytes=30000-', 'bytes=40000-']);
    // ...but only `attempts` of them
    s.requests.length = 0;
    d = dest(); prepare(d);
    let e = await rejection(downloadFile(h(3), 'o/r', 'c'.repeat(40), file, d, { quiet: true }));
    assert.equal([e.code, e.message], ['io', `o/r@cccccccccccc: w.bin: the server sent 30000 of 50000 bytes (gave up after 3 attempts; run again to resume)`]);
    assert.is(readFileSync(`${d}.partial`).length, 30_000, 'the partial is kept for the next run');
    assert.is(s.requests.length, 3);
    // more bytes than the Hub said: nothing cached
    mode.now = 'too-much';
    d = dest(); prepare(d);
    e = await rejection(downloadFile(h(), 'o/r', 'c'.repeat(40), file, d, { quiet: true }));
    assert.equal([e.code, e.message], ['input', 'o/r@cccccccccccc: w.bin: got 50001 bytes, the Hub says 50000; nothing was cached']);
    assert.not.ok(existsSync(d) || existsSync(`${d}.partial`));
    // no size anywhere: whatever arrives, checked by the sha256
    mode.now = 'no-size';
    d = dest(); prepare(d);
    await downloadFile(h(), 'o/r', 'c'.repeat(40), { path: 'w.bin', size: -1, sha256: sha256(body) }, d, { quiet: true });
    assert.equal(readFileSync(d), body);
    // without a size in the model info, X-Linked-Size (not one response's length) is the size
    mode.now = 'short-linked'; s.requests.length = 0;
    d = dest(); prepare(d);
    await downloadFile(h(), 'o/r', 'c'.repeat(40), { path: 'w.bin', size: -1, sha256: sha256(body) }, d, { quiet: true });
    assert.equal(readFileSync(d), body);
    assert.is(s.requests.length, 5);
    // without a sha256 in the model info, X-Linked-Etag's is checked when it is one (weak or not)
    const wrong = '0'.repeat(64);
    for (const [etag, ok] of [[`W/"${wrong}"`, false], [`"${wrong}"`, false], [`"${sha256(body)}"`, true], [`"x${wrong}"`, true], [`"${wrong}x"`, true]] as const) {
      mode.now = `linked:${etag}`;
      d = dest(); prepare(d);
      const p = downloadFile(h(), 'o/r', 'c'.repeat(40), { path: 'w.bin', size: body.length }, d, { quiet: true });
      if (ok) { await p; assert.equal(readFileSync(d), body, etag); } else assert.match((await rejection(p)).message, /sha256 mismatch/, etag);
    }
    // a zero-byte file: a stale partial goes, nothing is requested
    s.requests.length = 0;
    d = dest(); prepare(d, Buffer.from('stale'));
    await downloadFile(h(), 'o/r', 'c'.repeat(40), { path: 'empty', size: 0, sha256: sha256(new Uint8Array(0)) }, d, { quiet: true });
    assert.equal([readFileSync(d).length, s.requests.length], [0, 0]);
    // a partial that is already whole (an earlier run stopped before the rename): checked, renamed, nothing fetched
    d = dest(); prepare(d, body);
    await downloadFile(h(), 'o/r', 'c'.repeat(40), file, d, { quiet: true });
    assert.equal([readFileSync(d), s.requests.length], [body, 0]);
    // a full disk (the partial is /dev/full): an io error, and no partial left
    mode.now = 'no-size';
    d = dest(); prepare(d);
    symlinkSync('/dev/full', `${d}.partial`);
    e = await rejection(downloadFile(h(), 'o/r', 'c'.repeat(40), file, d, { quiet: true }));
    assert.equal([e.code, e.message], ['io', `${d}: cannot write (the disk is full); nothing partial was kept`]);
    assert.not.ok(existsSync(`${d}.partial`) || existsSync(d));
    // a connection that keeps dropping: resumed each time, then an io error naming the byte; the partial stays
    mode.now = 'drop'; s.requests.length = 0;
    d = dest(); prepare(d);
    e = await rejection(downloadFile(h(4), 'o/r', 'c'.repeat(40), file, d, { quiet: true }));
    assert.equal([e.code, e.message], ['io', 'o/r@cccccccccccc: w.bin: the connection dropped at byte 4000 of 50000 (gave up after 4 attempts; run again to resume)']);
    assert.equal(s.requests.map((r) => r.headers.range), [undefined, 'bytes=1000-', 'bytes=2000-', 'bytes=3000-']);
    assert.equal(readFileSync(`${d}.partial`), body.subarray(0, 4000));
  } finally { await s.close(); }
});

dl('small files are checked against their ETag (git blob sha1, or sha256), with a size cap', async () => {
  const h = new HubHttp(cfg());
  assert.is(new TextDecoder().decode(await fetchSmallFile(h, 'test/small', commit(), 'README.md')), README);
  const text = Buffer.from('{"a": 1}\n');
  const etags: Record<string, string> = { git: `"${gitSha(text)}"`, weak: `W/"${gitSha(text)}"`, sha256: `"${sha256(text)}"`, none: '', badgit: `"${'0'.repeat(40)}"`, bad256: `"${'0'.repeat(64)}"`, badweak: `W/"${'0'.repeat(40)}"`, other: '"xyz"',
    x40: `"x${'0'.repeat(40)}"`, x40after: `"${'0'.repeat(40)}x"`, x64: `"x${'0'.repeat(64)}"`, x64after: `"${'0'.repeat(64)}x"` };
  const s = await scripted((req, res) => {
    const k = req.url!.split('/').pop()!;
    res.writeHead(200, { 'content-length': k === 'big' ? 2_000_000 : text.length, ...(etags[k] ? { etag: etags[k] } : {}) });
    res.end(k === 'big' ? Buffer.alloc(2_000_000) : text);
  });
  try {
    const get = (k: string, max?: number) => fetchSmallFile(new HubHttp({ endpoint: s.url, offline: false }), 'o/r', 'c'.repeat(40), k, max);
    // an ETag that is neither hash (a mirror's own) cannot be checked, and is not held against the file
    for (const k of ['git', 'weak', 'sha256', 'none', 'other', 'x40', 'x40after', 'x64', 'x64after']) assert.equal(Buffer.from(await get(k)), text, k);
    for (const k of ['badgit', 'bad256', 'badweak']) {
      const e = await rejection(get(k));
      assert.equal([e.code, e.message], ['input', `o/r@cccccccccccc: ${k}: content does not match its ETag ${etags[k].replace(/^W\//, '').replace(/"/g, '')}`]);
    }
    assert.is((await rejection(get('big', 1_000_000))).code, 'input');
    assert.is((await rejection(get('big', 1_000_000))).message, 'o/r@cccccccccccc: big: 2000000 bytes is larger than 1000000 for a config or tokenizer file');
    assert.is((await get('big', 2_000_000)).length, 2_000_000, 'the cap itself is allowed');
  } finally { await s.close(); }
});

dl.run();
