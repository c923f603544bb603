// OpenAI's error object, `{ error: { message, type, param, code } }`, with the HTTP status it goes
// with. Route code throws ApiError; the handler turns it (and only it) into a response, so anything
// else that escapes is a real bug and becomes a 500.

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A 400 naming the request field (`param`) and what it must be. */
export function badField(param: string, problem: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, `${param}: ${problem}`, 'invalid_request_error', param, code);
}

export function errorBody(e: ApiError): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

export function errorResponse(e: ApiError, headers: Record<string, string> = {}): Response {
  return new Response(errorBody(e), { status: e.status, headers: { 'content-type': 'application/json', ...e.headers, ...headers } });
}

export function jsonResponse(value: unknown, headers: Record<string, string> = {}, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } });
}
