// A web-standard handler (Request → Response) on Node's http server, with the limits a server open
// to slow or hostile clients needs: the headers must arrive within `headersTimeoutMs` (one byte a
// second does not keep a connection), the whole request within `requestTimeoutMs`, idle keep-alive
// connections close after `keepAliveTimeoutMs`. The body streams into the Request with
// backpressure, so a handler that refuses it early (413) never has it in memory; the response body
// streams out with backpressure, and a client that goes away aborts `request.signal` and cancels
// the response body (which stops a generation).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Fairy2iError } from '../errors.js';

export interface ListenOptions {
  host: string;
  port: number;
  /** @default 10000 */
  headersTimeoutMs?: number;
  /** @default 60000 */
  requestTimeoutMs?: number;
  /** @default 5000 */
  keepAliveTimeoutMs?: number;
}

export interface Listening {
  server: Server;
  /** http://host:port/ as bound (the port chosen when 0 was asked). */
  url: string;
  /** Stops accepting connections, closes idle ones; resolves when all are closed. */
  close(): Promise<void>;
}

export function listen(handler: (request: Request) => Promise<Response>, opts: ListenOptions): Promise<Listening> {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const server = createServer({
    headersTimeout,
    requestTimeout: Math.max(headersTimeout, opts.requestTimeoutMs ?? 60_000),
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    // How often the timeouts above are checked (Node's default, 30 s, would let them run late).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
  }, (req, res) => { void serve(handler, req, res, opts.host); });
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
      reject(new Fairy2iError('io', `cannot listen on ${opts.host}:${opts.port}: ${why}`));
    };
    server.once('error', failed);
    server.listen(opts.port, opts.host, () => {
      server.off('error', failed);
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        server,
        url: `http://${host}:${a.port}/`,
        close: () => new Promise<void>((res) => {
          // Connections whose reply is still running close when it ends; after 5 s all are cut.
          const idle = setInterval(() => server.closeIdleConnections(), 100);
          const cut = setTimeout(() => server.closeAllConnections(), 5000);
          server.close(() => { clearInterval(idle); clearTimeout(cut); res(); });
          server.closeIdleConnections();
        }),
      });
    });
  });
}

async function serve(handler: (request: Request) => Promise<Response>, req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
  const gone = new AbortController();
  res.on('close', () => { if (!res.writableFinished) gone.abort(); });
  let response: Response;
  try {
    response = await handler(toRequest(req, host, gone.signal));
  } catch (e) {
    // The handler answers its own errors; this is a bug in it.
    console.error(e);
    response = new Response(JSON.stringify({ error: { message: 'internal error', type: 'server_error', param: null, code: null } }), { status: 500, headers: { 'content-type': 'application/json' } });
  }
  if (res.destroyed) { await response.body?.cancel().catch(() => {}); return; }
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => { headers[k] = v; });
  if (!req.complete) lingerThenClose(req, res);
  res.writeHead(response.status, headers);
  if (!response.body) { res.end(); return; }
  const reader = response.body.getReader();
  const cancel = () => { reader.cancel().catch(() => {}); };
  res.on('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) await new Promise<void>((r) => { res.once('drain', r); res.once('close', r); });
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', cancel);
  }
}

/**
 * A body the handler did not read (413, 401): after the reply, the rest is read and discarded for
 * up to LINGER_MS, then the connection is cut. Closing at once, with unread bytes in the socket,
 * would send a TCP reset that can destroy the reply before the client has read it.
 */
const LINGER_MS = 2000;
function lingerThenClose(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    req.removeAllListeners('data');
    req.resume();
    const t = setTimeout(() => req.socket.destroy(), LINGER_MS);
    req.socket.once('close', () => clearTimeout(t));
  });
}

function toRequest(req: IncomingMessage, host: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method, headers, signal,
    body: hasBody ? bodyStream(req) : undefined,
    // @ts-expect-error: undici needs `duplex` for a streamed body; lib.dom's RequestInit lacks it
    duplex: 'half',
  });
}

/** The request body as a byte stream that pauses the socket while the reader is behind. */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on('data', (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on('end', () => { try { controller.close(); } catch { /* cancelled */ } });
      req.on('error', (e) => { try { controller.error(e); } catch { /* cancelled */ } });
    },
    pull() { req.resume(); },
    cancel() { req.pause(); },
  }, { highWaterMark: 1 << 16, size: (c) => c.byteLength });
}
