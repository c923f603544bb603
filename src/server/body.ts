// Reads a request's JSON body with a size cap: a declared Content-Length over the cap is refused
// before a byte is read, and a body without one (chunked) is read only until it passes the cap, so
// an oversized upload never sits in memory whole.

import { ApiError } from './api-error.js';

export const DEFAULT_MAX_BODY_BYTES = 4 << 20;

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `the request body is larger than the server's limit of ${limit} bytes`, 'invalid_request_error', null, 'body_too_large');
}

export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(limit);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new ApiError(400, `the request body could not be read (${(e as Error).message})`, 'invalid_request_error', null, 'body_unreadable');
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
}

/** The body as a JSON object (400 for invalid UTF-8, malformed JSON, or JSON that is not an object). */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  const bytes = await readBody(request, limit);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, 'the request body is not valid UTF-8', 'invalid_request_error', null, 'invalid_json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`, 'invalid_request_error', null, 'invalid_json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'the request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  }
  return value as Record<string, unknown>;
}
