// createHandler: the OpenAI-compatible server as a plain `(request: Request) => Promise<Response>`,
// so the same code serves under Node (src/node/http-listener.ts, the `serve` command), Deno.serve,
// Bun.serve and a workerd worker. It imports nothing runtime-specific.
//
// Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, POST
// /tokenize, POST /detokenize (the /v1 routes also without the prefix, as llama-server has them).

import { Fairy2iError } from '../errors.js';
import type { Model } from '../model.js';
import { ApiError, errorResponse, jsonResponse } from './api-error.js';
import { keyChecker } from './auth.js';
import { DEFAULT_MAX_BODY_BYTES, readJsonObject } from './body.js';
import { chatCompletion, textCompletion, type RouteContext } from './completions.js';
import { Engine, type EngineOptions } from './engine.js';
import { tokenText } from './logprobs.js';
import { requireTokenizer } from './prompt.js';
import { parseChatRequest, parseCompletionRequest, parseDetokenizeRequest, parseTokenizeRequest } from './requests.js';

export interface HandlerOptions extends EngineOptions {
  /** Requests must send `Authorization: Bearer <apiKey>` (all routes but /health). @default no key */
  apiKey?: string;
  /** Allowed CORS origin ('*' or one origin); also answers preflight requests. @default no CORS headers */
  cors?: string;
  /** The model's name in /v1/models and in responses. @default the model file's name */
  modelName?: string;
  /** Largest request body in bytes (larger: 413). @default 4 MiB */
  maxBodyBytes?: number;
  /** One call per request when its reply is over (for a request log). */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Errors that are bugs (answered 500). @default console.error */
  onError?: (error: unknown) => void;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  /** Tokens generated for the request. */
  tokens: number;
  ms: number;
}

export interface ServeHandler {
  (request: Request): Promise<Response>;
  /**
   * Stops serving: new requests get 503, waiting ones are refused, running generations stop within
   * a token (their streams end with a last chunk and [DONE]); resolves when every reply is over
   * and the sequences are given back to the model.
   */
  close(): Promise<void>;
}

type Ready = { model: Model; engine: Engine; name: string; created: number };
type Route = { method: string; run: (ctx: RouteContext, request: Request) => Promise<Response> };

export function createHandler(model: Model | Promise<Model>, opts: HandlerOptions = {}): ServeHandler {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const checkKey = opts.apiKey ? keyChecker(opts.apiKey) : null;
  const cors: Record<string, string> = opts.cors ? { 'access-control-allow-origin': opts.cors, vary: 'origin' } : {};
  const onError = opts.onError ?? ((e: unknown) => console.error(e));
  let ready: Ready | null = null;
  let loadError: unknown = null;
  const setUp = (m: Model) => { ready = { model: m, engine: new Engine(m, opts), name: opts.modelName ?? (m.config.name || 'fairy2i'), created: Math.floor(Date.now() / 1000) }; };
  if (model instanceof Promise) model.then(setUp, (e) => { loadError = e; });
  else setUp(model);
  let closing = false;
  /** Each request's reply promise and the controller that stops it (aborted on close). */
  const inFlight = new Map<Promise<void>, AbortController>();

  const json = async (request: Request) => readJsonObject(request, limit);
  const routes: Record<string, Route> = {
    '/v1/chat/completions': { method: 'POST', run: async (ctx, r) => chatCompletion(ctx, parseChatRequest(await json(r))) },
    '/v1/completions': { method: 'POST', run: async (ctx, r) => textCompletion(ctx, parseCompletionRequest(await json(r), ctx.model.config.vocabSize)) },
    '/v1/models': { method: 'GET', run: async (ctx) => jsonResponse({ object: 'list', data: [modelEntry(ready!)] }, ctx.headers) },
    '/tokenize': { method: 'POST', run: async (ctx, r) => tokenize(ctx, await json(r)) },
    '/detokenize': { method: 'POST', run: async (ctx, r) => {
      const ids = parseDetokenizeRequest(await json(r), ctx.model.config.vocabSize);
      return jsonResponse({ content: requireTokenizer(ctx.model, 'detokenize').decode(ids) }, ctx.headers);
    } },
  };
  for (const p of ['/v1/chat/completions', '/v1/completions', '/v1/models']) routes[p.slice(3)] = routes[p];

  async function respond(request: Request, path: string, ctxDone: (n: number) => void, signal: AbortSignal): Promise<Response> {
    if (request.method === 'OPTIONS' && opts.cors) {
      return new Response(null, { status: 204, headers: { ...cors, 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '600' } });
    }
    if (path === '/health') {
      if (request.method !== 'GET') throw notAllowed('GET');
      if (!ready) return jsonResponse({ status: loadError ? 'error' : 'loading' }, { ...cors, 'retry-after': '1' }, 503);
      const r: Ready = ready;
      return jsonResponse({ status: 'ok', model: r.name, sequences: r.engine.parallel, free_sequences: r.engine.free, queued: r.engine.queued, queue_limit: r.engine.queueLimit }, cors);
    }
    const route = routes[path];
    if (!route) throw new ApiError(404, `no route ${request.method} ${path} (routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, POST /tokenize, POST /detokenize)`, 'not_found_error', null, 'unknown_url');
    if (request.method !== route.method) throw notAllowed(route.method);
    if (checkKey && !(await checkKey(request.headers.get('authorization')))) {
      throw new ApiError(401, 'missing or wrong API key: send the header "Authorization: Bearer <key>"', 'authentication_error', null, 'invalid_api_key');
    }
    if (closing) throw unavailable('the server is shutting down');
    if (!ready) throw unavailable(loadError ? `the model failed to load: ${(loadError as Error).message}` : 'the model is still loading');
    const r: Ready = ready;
    return route.run({ engine: r.engine, model: r.model, modelName: r.name, signal, headers: cors, done: ctxDone }, request);
  }

  const handler = async (request: Request): Promise<Response> => {
    const t0 = Date.now();
    let path = '/';
    try { path = new URL(request.url).pathname; } catch { /* a relative URL: keep '/' */ }
    const stop = new AbortController();
    const onClientGone = () => stop.abort();
    if (request.signal?.aborted) stop.abort();
    request.signal?.addEventListener('abort', onClientGone, { once: true });
    let tokens = 0;
    let ended!: () => void;
    const over = new Promise<void>((res) => (ended = res));
    const done = (n: number) => { tokens = n; ended(); };
    inFlight.set(over, stop);
    let response: Response;
    try {
      response = await respond(request, path, done, stop.signal);
    } catch (e) {
      response = failure(e);
    }
    const log = () => {
      inFlight.delete(over);
      request.signal?.removeEventListener('abort', onClientGone);
      opts.onRequest?.({ method: request.method, path, status: response.status, tokens, ms: Date.now() - t0 });
    };
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) over.then(log);
    else { ended(); log(); }
    return response;
  };

  function failure(e: unknown): Response {
    if (e instanceof ApiError) return errorResponse(e, cors);
    if (e instanceof Error && e.name === 'AbortError') return errorResponse(new ApiError(499, 'the request was aborted', 'invalid_request_error', null, 'aborted'), cors);
    if (e instanceof Fairy2iError && (e.code === 'option' || e.code === 'input')) return errorResponse(new ApiError(400, e.message), cors);
    onError(e);
    return errorResponse(new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, 'server_error'), cors);
  }

  return Object.assign(handler, {
    async close() {
      closing = true;
      ready?.engine.rejectWaiting(unavailable('the server is shutting down'));
      for (const stop of inFlight.values()) stop.abort();
      await Promise.all([...inFlight.keys()]);
      ready?.engine.dispose();
    },
  });
}

function notAllowed(allow: string): ApiError {
  return new ApiError(405, `method not allowed; this route takes ${allow}`, 'invalid_request_error', null, 'method_not_allowed', { allow });
}

function unavailable(message: string): ApiError {
  return new ApiError(503, message, 'server_error', null, 'unavailable', { 'retry-after': '1' });
}

function modelEntry(r: Ready) {
  const m = r.model;
  return {
    id: r.name, object: 'model', created: r.created, owned_by: 'fairy2i-wasm',
    meta: { context_length: m.contextLength, vocab_size: m.config.vocabSize, stages: m.config.stages, sequences: r.engine.parallel },
  };
}

async function tokenize(ctx: RouteContext, body: Record<string, unknown>): Promise<Response> {
  const req = parseTokenizeRequest(body);
  const tok = requireTokenizer(ctx.model, 'tokenize');
  const ids = tok.encode(req.content, { addBos: req.addSpecial, addEos: false });
  return jsonResponse({ tokens: req.withPieces ? ids.map((id) => ({ id, piece: tokenText(tok, id) })) : ids }, ctx.headers);
}
