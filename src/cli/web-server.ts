// The demo page's server (`fairy2i-wasm web`): the package's own layout over HTTP, so the page
// works the same from any static host that serves the package folder with these headers:
//   /web/            the page (web/index.html, app.js, style.css)
//   /dist/           dist/browser.js and dist/worker.js (the engine's worker)
//   /build/          build/fairy2i.wasm
//   /models/NAME     the model file (-m, default the bundled models/default.gguf), with Range
//   /web/models.json the model(s) this server offers the page (a static host may leave it out)
// Every response carries COOP/COEP (and CORP), which make the page cross-origin isolated so the
// engine can share its memory with worker threads; `isolate: false` drops them (one thread).

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, extname, join, normalize, sep } from 'node:path';
import { Fairy2iError } from '../errors.js';

export const ISOLATION_HEADERS: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml',
};

export interface WebServerOptions {
  /** The package folder holding web/, dist/ and build/. */
  root: string;
  /** The model file offered to the page. */
  model: string;
  port: number;
  host: string;
  /** Send the cross-origin isolation headers. @default true */
  isolate?: boolean;
  /** Called after each response (method, path, status, body bytes). */
  onRequest?: (r: { method: string; path: string; status: number; bytes: number; range: string | null }) => void;
}

export interface WebServer {
  /** The page's URL. */
  url: string;
  /** The model's URL path (with a version query that changes when the file does). */
  modelPath: string;
  close(): Promise<void>;
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const model = statSync(o.model);
  const name = basename(o.model);
  // The file's size and mtime in the URL: a different file behind the same name is a new cache key.
  const version = `${model.size.toString(36)}-${Math.floor(model.mtimeMs).toString(36)}`;
  const modelPath = `/models/${encodeURIComponent(name)}`;
  const models = JSON.stringify({ models: [{ name, url: `..${modelPath}?v=${version}`, size: model.size }] });
  const base = o.isolate === false ? {} : ISOLATION_HEADERS;

  const handle = (req: IncomingMessage, res: ServerResponse): number => {
    const url = new URL(req.url ?? '/', 'http://x');
    let p: string;
    try { p = decodeURIComponent(url.pathname); } catch { return send(res, 400, base, 'bad path'); }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ...base, allow: 'GET, HEAD' }, 'GET or HEAD only');
    if (p === '/' || p === '/web') { res.writeHead(302, { ...base, location: '/web/' }).end(); return 0; }
    if (p === '/web/models.json') return send(res, 200, { ...base, 'content-type': TYPES['.json'], 'cache-control': 'no-cache' }, models, req.method === 'HEAD');
    if (p === modelPath) return sendFile(req, res, o.model, base, true);
    const file = staticFile(o.root, p);
    if (!file) return send(res, 404, base, `not found: ${p}`);
    return sendFile(req, res, file, base, false);
  };

  const server = createServer((req, res) => {
    const status = handle(req, res);
    const done = () => o.onRequest?.({ method: req.method ?? '', path: req.url ?? '', status: res.statusCode, bytes: status, range: (req.headers.range as string | undefined) ?? null });
    res.once('close', done);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      fail(new Fairy2iError('io', e.code === 'EADDRINUSE' ? `port ${o.port} on ${o.host} is in use; pass another --port (0 picks a free one)` : `cannot listen on ${o.host}:${o.port} (${e.code ?? e.message})`));
    });
    server.listen(o.port, o.host, () => ok());
  });
  const addr = server.address() as { port: number };
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${addr.port}/web/`,
    modelPath,
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** A file under web/, dist/ or build/ of the package for a URL path, or null. */
function staticFile(root: string, p: string): string | null {
  const m = /^\/(web|dist|build)\/(.*)$/.exec(p);
  if (!m) return null;
  const rel = normalize(m[2] || 'index.html');
  if (rel.startsWith('..') || rel.includes(`${sep}..`) || rel.startsWith(sep)) return null;
  const f = join(root, m[1], rel.endsWith(sep) ? join(rel, 'index.html') : rel);
  return existsSync(f) && statSync(f).isFile() ? f : null;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string, head = false): number {
  const b = Buffer.from(body);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers, 'content-length': b.length });
  res.end(head ? undefined : b);
  return head ? 0 : b.length;
}

/**
 * A file, whole or one byte range (`Range: bytes=a-b`, `a-`, `-n`; a multi-range or unsatisfiable
 * one is answered 416). The model also gets an ETag and Last-Modified, which the browser cache
 * keeps; the page's own files are revalidated on each load (no-cache), so an upgrade shows at once.
 */
function sendFile(req: IncomingMessage, res: ServerResponse, file: string, base: Record<string, string>, isModel: boolean): number {
  const st = statSync(file);
  const headers: Record<string, string> = {
    ...base,
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'accept-ranges': 'bytes',
    etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    'last-modified': st.mtime.toUTCString(),
  };
  if (req.headers['if-none-match'] === headers.etag && !isModel) { res.writeHead(304, headers).end(); return 0; }
  let start = 0, end = st.size - 1, status = 200;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] || m[2])) {
      if (m[1]) { start = Number(m[1]); end = m[2] ? Math.min(Number(m[2]), st.size - 1) : st.size - 1; }
      else { start = Math.max(0, st.size - Number(m[2])); }
    }
    if (!m || (!m[1] && !m[2]) || start > end || start >= st.size) {
      res.writeHead(416, { ...base, 'content-range': `bytes */${st.size}` }).end();
      return 0;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
  }
  const length = end - start + 1;
  res.writeHead(status, { ...headers, 'content-length': String(length) });
  if (req.method === 'HEAD' || length === 0) { res.end(); return 0; }
  createReadStream(file, { start, end }).pipe(res);
  return length;
}
