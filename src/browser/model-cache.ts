// Models kept in the browser's storage across visits: the Cache API, because `cache.put` takes a
// streamed Response body and `cache.match` hands one back, so a multi-GB file goes network → disk
// and disk → wasm memory in chunks, never whole in JavaScript memory (OPFS could too, but it needs
// its own index of URLs and validators, which a Cache entry's request and headers already are).
//
// An entry is keyed by the model's absolute URL and keeps the server's ETag, Last-Modified and
// Content-Length. `cache: true` uses a stored copy with no network request at all; `'revalidate'`
// first asks the server (HEAD) and fetches again when one of those changed. A download is written
// to the cache while the engine reads it, with backpressure (the next chunk is taken from the
// network only once the cache has taken the last), and the entry is committed only when the whole
// body arrived; an aborted or failed load leaves no entry.

import { Fairy2iError } from '../errors.js';
import { responseSource, type ByteSource } from '../sources.js';

/** The Cache Storage bucket holding model files. */
export const MODEL_CACHE_NAME = 'fairy2i-wasm-models';

export type CacheMode = boolean | 'revalidate';

export interface CachedModel {
  /** The absolute URL the model was fetched from (the key). */
  url: string;
  /** Bytes stored (the server's Content-Length), null when the server sent none. */
  size: number | null;
  etag: string | null;
  lastModified: string | null;
  /** When it was stored (ISO 8601). */
  cachedAt: string | null;
}

const CACHED_AT = 'x-fairy2i-cached-at';

function cacheStorage(): CacheStorage {
  const c = (globalThis as { caches?: CacheStorage }).caches;
  if (!c) {
    throw new Fairy2iError('unsupported', "this page has no Cache Storage (it needs a secure context: https:// or http://localhost), so models cannot be kept between visits; load without 'cache'");
  }
  return c;
}

/** An absolute URL (relative ones resolve against the page or worker location). */
export function absoluteUrl(url: string | URL): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(String(url), base).href;
  } catch {
    throw new Fairy2iError('input', `${String(url)}: not a valid URL`);
  }
}

/** The models kept in this origin's browser storage. */
export async function listCachedModels(): Promise<CachedModel[]> {
  const cache = await cacheStorage().open(MODEL_CACHE_NAME);
  const out: CachedModel[] = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    if (!res) continue;
    const len = Number(res.headers.get('content-length'));
    out.push({
      url: req.url,
      size: Number.isFinite(len) && res.headers.has('content-length') ? len : null,
      etag: res.headers.get('etag'),
      lastModified: res.headers.get('last-modified'),
      cachedAt: res.headers.get(CACHED_AT),
    });
    await res.body?.cancel();
  }
  return out;
}

/** Removes the model stored for `url`; resolves false when there was none. */
export async function deleteCachedModel(url: string | URL): Promise<boolean> {
  const cache = await cacheStorage().open(MODEL_CACHE_NAME);
  return cache.delete(absoluteUrl(url));
}

export interface CachedSource {
  source: ByteSource;
  /** Where the bytes come from: the stored copy, or the network (being stored). */
  from: 'cache' | 'network';
  /**
   * Called once the load is over (after the loader closed `source`): with true, a download still
   * being stored is committed; with false (the load failed or was aborted) it is dropped.
   */
  finish(loaded: boolean): Promise<void>;
}

/**
 * The model at `url` from the cache, or from the network while it is stored. Problems with storing
 * (a full quota) go to `onNotice` and the load goes on uncached.
 */
export async function cachedModelSource(url: string | URL, mode: CacheMode, signal: AbortSignal | undefined, onNotice: (m: string) => void): Promise<CachedSource> {
  const key = absoluteUrl(url);
  const cache = await cacheStorage().open(MODEL_CACHE_NAME);
  let hit = await cache.match(key);
  if (hit && mode === 'revalidate' && (await changedOnServer(key, hit, signal, onNotice))) {
    await hit.body?.cancel();
    await cache.delete(key);
    hit = undefined;
  }
  const nothing = async () => {};
  if (hit) return { source: responseSource(hit, key), from: 'cache', finish: nothing };
  const res = await fetchModel(key, signal);
  const source = responseSource(res, key);
  const room = await freeSpace();
  if (source.size !== undefined && room !== null && source.size > room) {
    onNotice(quotaMessage(key, source.size, room));
    return { source, from: 'network', finish: nothing };
  }
  return { ...storing(source, cache, key, res.headers, onNotice), from: 'network' };
}

async function fetchModel(url: string, signal: AbortSignal | undefined, method = 'GET'): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal, method });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new Fairy2iError('input', `${url}: cannot fetch (${(e as Error).message})`);
  }
  if (!res.ok) throw new Fairy2iError('input', `${url}: HTTP ${res.status} ${res.statusText}`);
  return res;
}

/** Whether the server's validators differ from the stored ones (HEAD); an unreachable server keeps the copy. */
async function changedOnServer(url: string, stored: Response, signal: AbortSignal | undefined, onNotice: (m: string) => void): Promise<boolean> {
  let now: Response;
  try {
    now = await fetchModel(url, signal, 'HEAD');
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    onNotice(`fairy2i-wasm: using the cached copy of ${url}: cannot check it for changes (${(e as Error).message})`);
    return false;
  }
  for (const h of ['etag', 'last-modified', 'content-length']) {
    const a = stored.headers.get(h), b = now.headers.get(h);
    if (a !== null && b !== null) return a !== b;
  }
  return true; // nothing to compare: fetch again rather than trust an unknown copy
}

/** Bytes this origin may still store, when the browser says. */
async function freeSpace(): Promise<number | null> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.estimate) return null;
  try {
    const { quota, usage } = await storage.estimate();
    return quota !== undefined && usage !== undefined ? quota - usage : null;
  } catch {
    return null;
  }
}

function quotaMessage(url: string, size: number, room: number | null): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  // The estimate can disagree with the quota a write met (it is approximate, and overridable): a
  // free figure above the need would contradict the message, so it is left out then.
  const free = room !== null && room < size ? `, ${mb(Math.max(0, room))} free` : '';
  return `fairy2i-wasm: ${url} is not kept in the browser's storage: the quota is full (${mb(size)} needed${free}); delete cached models or free disk space. The model loads anyway, from the network.`;
}

/**
 * `src` with every byte read also written to a cache entry for `url`. The loader stops at the end
 * of the tensors and closes its source; finish(true) then reads what is left (usually nothing but
 * the end of the body) and commits the entry if the body ended in full (Content-Length).
 */
function storing(src: ByteSource, cache: Cache, url: string, from: Headers, onNotice: (m: string) => void): Pick<CachedSource, 'source' | 'finish'> {
  const headers = new Headers({ 'content-type': from.get('content-type') ?? 'application/octet-stream', [CACHED_AT]: new Date().toISOString() });
  for (const h of ['etag', 'last-modified']) { const v = from.get(h); if (v !== null) headers.set(h, v); }
  if (src.size !== undefined) headers.set('content-length', String(src.size));
  // The cache reads `pipe.readable`; a write waits for `ready`, so at most a chunk or two is queued.
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = pipe.writable.getWriter();
  let failed: Error | null = null;
  const stored = cache.put(url, new Response(pipe.readable, { headers })).catch((e: Error) => { failed ??= e; });
  let received = 0;
  const drop = (why: Error) => {
    failed ??= why;
    writer?.abort(why).catch(() => {});
    writer = null;
  };
  const read = async (dst: Uint8Array) => {
    const n = await src.read(dst);
    if (writer && n > 0) {
      received += n;
      try {
        await writer.ready;
        // A copy: the loader reuses `dst` (wasm memory) and the cache reads the chunk later.
        void writer.write(dst.slice(0, n)).catch(() => {});
      } catch (e) {
        drop(e as Error);
      }
    }
    return n;
  };
  const source: ByteSource = { name: src.name, size: src.size, read, close: async () => {} };
  const finish = async (loaded: boolean) => {
    try {
      if (!loaded) drop(new Error('the load failed'));
      const rest = new Uint8Array(1 << 20);
      while (writer && (await read(rest)) > 0) { /* the body's tail, past the tensors */ }
      if (writer && src.size !== undefined && received !== src.size) drop(new Error(`the body ended at ${received} of ${src.size} bytes`));
      if (writer) { await writer.close().catch(() => {}); writer = null; }
    } catch (e) {
      drop(e as Error);
    } finally {
      await src.close();
    }
    await stored;
    if (failed === null || !loaded) return;
    const e = failed as Error;
    if (e.name === 'QuotaExceededError') onNotice(quotaMessage(url, received, await freeSpace()));
    else onNotice(`fairy2i-wasm: ${url} is not kept in the browser's storage: ${e.message}`);
  };
  return { source, finish };
}
