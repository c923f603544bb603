// The two generating routes, /v1/chat/completions and /v1/completions: a parsed request runs on a
// sequence from the engine and comes back as OpenAI's response object, or streamed as its chunks.
// The generation stops within one token when `signal` aborts (client gone, server shutting down)
// and the sequence is released when generation ends, however it ends.

import { Fairy2iError } from '../errors.js';
import type { GenerateResult } from '../generate.js';
import type { Model } from '../model.js';
import { ApiError, jsonResponse } from './api-error.js';
import { QueueFullError, type Engine } from './engine.js';
import { chatLogprobs, completionLogprobs, tokenLogprob, type TokenLogprob } from './logprobs.js';
import { chatPrompt, completionPrompt, roomFor } from './prompt.js';
import type { ChatRequest, CompletionRequest, GenerationParams } from './requests.js';
import { sseResponse } from './sse.js';

export interface RouteContext {
  engine: Engine;
  model: Model;
  /** The `model` field of responses. */
  modelName: string;
  /** Aborts when the client goes away or the server shuts down. */
  signal: AbortSignal;
  /** Response headers every reply carries (CORS). */
  headers: Record<string, string>;
  /** Called once with the completion tokens when the reply is over (for the request log). */
  done: (tokens: number) => void;
}

interface Piece { text: string; logprobs: TokenLogprob[] }

interface Run {
  pieces: AsyncGenerator<Piece, GenerateResult>;
  /** Aborts this generation (a stream cancelled by its reader). */
  abort: () => void;
}

async function startRun(ctx: RouteContext, prompt: number[], p: GenerationParams, param: 'messages' | 'prompt', extraStop: string[] = []): Promise<Run> {
  const room = roomFor(ctx.model, prompt, param);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  if (ctx.signal.aborted) ac.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let lease;
  try {
    lease = await ctx.engine.acquire(prompt, ac.signal);
  } catch (e) {
    ctx.signal.removeEventListener('abort', onAbort);
    if (e instanceof QueueFullError) throw new ApiError(503, `the server is busy: ${e.message}; retry later`, 'server_error', null, 'queue_full', { 'retry-after': '1' });
    throw e;
  }
  const lps: TokenLogprob[] = [];
  const top = p.logprobs;
  let stream;
  try {
    stream = lease.generate(prompt, {
      ...p.sampling,
      maxTokens: Math.min(p.maxTokens ?? room, room),
      stop: [...p.stop, ...extraStop],
      stopAtEos: !p.ignoreEos,
      signal: ac.signal,
      onSample: top === null ? undefined : (id, logits) => lps.push(tokenLogprob(logits, id, top)),
    });
  } catch (e) {
    lease.release();
    ctx.signal.removeEventListener('abort', onAbort);
    if (e instanceof Fairy2iError && e.code === 'option') throw new ApiError(400, e.message);
    throw e;
  }
  const pieces = (async function* () {
    try {
      for await (const piece of stream) yield { text: piece.text, logprobs: lps.splice(0, piece.tokens.length) };
      return await stream.result;
    } finally {
      lease.release();
      ctx.signal.removeEventListener('abort', onAbort);
    }
  })();
  return { pieces, abort: () => ac.abort() };
}

/** OpenAI has no reason for "cut short": a generation stopped by shutdown reports 'length'. */
const finishReason = (r: GenerateResult) => (r.stopReason === 'stop' ? 'stop' : 'length');

function usage(r: GenerateResult) {
  return {
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.promptTokens + r.usage.completionTokens,
    prompt_tokens_details: { cached_tokens: r.usage.promptTokens - r.usage.evaluatedPromptTokens },
  };
}

/** Runs a generator to its end: the text, the logprobs and the result. */
async function collect(run: Run): Promise<{ text: string; logprobs: TokenLogprob[]; result: GenerateResult }> {
  let text = '';
  const logprobs: TokenLogprob[] = [];
  for (;;) {
    const r = await run.pieces.next();
    if (r.done) return { text, logprobs, result: r.value };
    text += r.value.text;
    logprobs.push(...r.value.logprobs);
  }
}

const stamp = () => Math.floor(Date.now() / 1000);

export async function chatCompletion(ctx: RouteContext, req: ChatRequest): Promise<Response> {
  const { tokens, stop } = chatPrompt(ctx.model, req.messages);
  const run = await startRun(ctx, tokens, req, 'messages', stop);
  const head = { id: `chatcmpl-${crypto.randomUUID()}`, created: stamp(), model: ctx.modelName, system_fingerprint: 'fairy2i-wasm' };
  const tok = ctx.model.tokenizer;
  const lp = (l: TokenLogprob[]) => (req.logprobs === null ? null : { content: chatLogprobs(tok, l), refusal: null });
  if (!req.stream) {
    const { text, logprobs, result } = await collect(run);
    ctx.done(result.usage.completionTokens);
    return jsonResponse({
      ...head, object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: lp(logprobs), finish_reason: finishReason(result) }],
      usage: usage(result),
    }, ctx.headers);
  }
  return streamed(ctx, run, req.includeUsage, { ...head, object: 'chat.completion.chunk' }, {
    first: { delta: { role: 'assistant', content: '' }, logprobs: null },
    piece: (p) => ({ delta: { content: p.text }, logprobs: lp(p.logprobs) }),
    last: { delta: {}, logprobs: null },
  });
}

export async function textCompletion(ctx: RouteContext, req: CompletionRequest): Promise<Response> {
  const tokens = completionPrompt(ctx.model, req.prompt);
  const run = await startRun(ctx, tokens, req, 'prompt');
  const head = { id: `cmpl-${crypto.randomUUID()}`, created: stamp(), model: ctx.modelName, system_fingerprint: 'fairy2i-wasm' };
  const tok = ctx.model.tokenizer;
  const echo = !req.echo ? '' : typeof req.prompt === 'string' ? req.prompt : tok ? tok.decode(req.prompt) : '';
  if (!req.stream) {
    const { text, logprobs, result } = await collect(run);
    ctx.done(result.usage.completionTokens);
    return jsonResponse({
      ...head, object: 'text_completion',
      choices: [{ index: 0, text: echo + text, logprobs: req.logprobs === null ? null : completionLogprobs(tok, logprobs, echo.length), finish_reason: finishReason(result) }],
      usage: usage(result),
    }, ctx.headers);
  }
  let offset = echo.length;
  return streamed(ctx, run, req.includeUsage, { ...head, object: 'text_completion' }, {
    first: echo ? { text: echo, logprobs: null } : null,
    piece: (p) => {
      const lp = req.logprobs === null ? null : completionLogprobs(tok, p.logprobs, offset);
      offset += p.text.length;
      return { text: p.text, logprobs: lp };
    },
    last: { text: '', logprobs: null },
  });
}

/** The choice fields of a stream's chunks: an opening one (or none), one per piece, the closing one. */
interface ChunkShapes {
  first: object | null;
  piece: (p: Piece) => object;
  last: object;
}

/**
 * A run as server-sent chunks: `head` fields in each, then the choice, finish_reason on the last;
 * with include_usage, `usage: null` in each and a closing chunk with the usage and no choices.
 */
function streamed(ctx: RouteContext, run: Run, includeUsage: boolean, head: object, shapes: ChunkShapes): Response {
  const u = includeUsage ? { usage: null } : {};
  const chunk = (choice: object, finish: string | null = null) => ({ ...head, choices: [{ index: 0, ...choice, finish_reason: finish }], ...u });
  return sseResponse((async function* () {
    let tokens = 0;
    try {
      if (shapes.first) yield chunk(shapes.first);
      for (;;) {
        const r = await run.pieces.next();
        if (r.done) {
          tokens = r.value.usage.completionTokens;
          yield chunk(shapes.last, finishReason(r.value));
          if (includeUsage) yield { ...head, choices: [], usage: usage(r.value) };
          return;
        }
        yield chunk(shapes.piece(r.value));
      }
    } finally {
      await run.pieces.return(undefined as never);
      ctx.done(tokens);
    }
  })(), run.abort, ctx.headers);
}
