// Driving Debian's headless Chromium (scripts/runtimes.mjs finds it) with playwright-core from a
// loopback node:http server: shared by test/runtimes.test.ts (the golden check in a browser) and
// bench/peers (the peer benchmark).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname } from 'node:path';

/** Launch flags: this machine's network is closed, and without these Chromium keeps trying to reach Google's hosts. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches headless Chromium at `executablePath` with CHROMIUM_ARGS plus `args`. */
export async function launchChromium(executablePath, { args = [], timeout = 60_000 } = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, timeout, args: [...CHROMIUM_ARGS, ...args] });
}

/**
 * Response headers for cross-origin isolation (`crossOriginIsolated === true` in the page), which
 * SharedArrayBuffer and so wasm threads need.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES = { '.css': 'text/css', '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json' };

/**
 * Serves files on 127.0.0.1 (a free port): `resolve(pathname)` names the file for a URL path, or null
 * for a 404; paths with '..' are refused. `headers` go on every response. Resolves with the server,
 * its origin and close(), which also ends open connections.
 */
export function serveFiles(resolve, { headers = {} } = {}) {
  const server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const f = p.includes('..') ? null : resolve(p);
    if (!f || !existsSync(f) || !statSync(f).isFile()) {
      res.writeHead(404, headers).end(`not found: ${p}`);
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(f)] ?? 'application/octet-stream', 'content-length': statSync(f).size, 'cache-control': 'no-store' });
    createReadStream(f).pipe(res);
  });
  const close = () => {
    server.closeAllConnections();
    return new Promise((ok) => server.close(ok));
  };
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok({ server, origin: `http://127.0.0.1:${server.address().port}`, close }));
  });
}

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms / 1000} s`)), ms); })]).finally(() => clearTimeout(timer));
}
