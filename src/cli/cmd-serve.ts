// `fairy2i-wasm serve`: the OpenAI-compatible handler (src/server/handler.ts) on Node's http server.
// It listens before the model has loaded (GET /health says 'loading' until then), prints one line
// when it is ready, logs a line per request unless --quiet, and on SIGINT/SIGTERM stops accepting,
// ends in-flight streams cleanly (a last chunk and [DONE]) and returns, so the command exits 0.

import { basename } from 'node:path';
import { OptionError } from '../errors.js';
import { listen } from '../node/http-listener.js';
import { createHandler } from '../server/handler.js';
import type { CommandSpec, Parsed } from './args.js';
import { modelFlags, openModel } from './common.js';

export const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, ...).',
  usage: 'fairy2i-wasm serve [-m FILE] [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N] [--api-key KEY] [--cors ORIGIN] [--queue N]',
  positionals: [],
  flags: {
    ...modelFlags,
    host: { type: 'string', default: '127.0.0.1', arg: 'addr', help: 'address to listen on (0.0.0.0 exposes the server to the network)' },
    port: { type: 'int', min: 0, max: 65535, default: 8080, help: 'port to listen on (0: any free port)' },
    parallel: { type: 'int', alias: 'np', min: 1, max: 64, default: 4, arg: 'n', help: 'sequences generating at the same time (their decode steps batched into one pass)' },
    queue: { type: 'int', min: 0, default: 64, arg: 'n', help: 'requests that may wait for a sequence (more get 503)' },
    'api-key': { type: 'string', arg: 'key', help: 'require "Authorization: Bearer KEY" (default: env FAIRY2I_API_KEY, else none)' },
    cors: { type: 'string', arg: 'origin', help: "send CORS headers allowing this origin ('*' for any)" },
    alias: { type: 'string', arg: 'name', help: 'model name in /v1/models and responses (default: the file name)' },
    'max-body': { type: 'int', min: 1, default: 4 << 20, arg: 'bytes', help: 'largest request body (larger: 413)' },
    timeout: { type: 'number', min: 0.1, default: 10, arg: 'seconds', help: 'time a client has to send its request headers' },
    quiet: { type: 'bool', alias: 'q', help: 'no request log' },
  },
};

export async function runServe(a: Parsed): Promise<void> {
  const f = a.flags;
  const apiKey = (f['api-key'] as string | undefined) ?? process.env.FAIRY2I_API_KEY;
  if (apiKey === '') throw new OptionError('--api-key', 'is empty');
  const path = (f.model as string | undefined) ?? 'default.gguf';
  const loading = openModel(f, true, { sequences: f.parallel as number });
  loading.catch(() => {}); // awaited below; the handler sees the failure too
  const handler = createHandler(loading, {
    apiKey, cors: f.cors as string | undefined, parallel: f.parallel as number, queue: f.queue as number,
    modelName: (f.alias as string | undefined) ?? basename(path).replace(/\.gguf$/i, ''),
    maxBodyBytes: f['max-body'] as number,
    onRequest: f.quiet ? undefined : (e) => process.stdout.write(`${new Date().toISOString()} ${e.method} ${e.path} ${e.status} ${e.tokens} tokens ${e.ms} ms\n`),
  });
  const timeout = (f.timeout as number) * 1000;
  const server = await listen(handler, { host: f.host as string, port: f.port as number, headersTimeoutMs: timeout, requestTimeoutMs: Math.max(60_000, timeout) });
  let model;
  try {
    model = await loading;
  } catch (e) {
    await server.close();
    throw e;
  }
  process.stdout.write(`fairy2i-wasm serve: listening on ${server.url} — model ${path} (${model.config.name}), context ${model.contextLength}, ` +
    `${f.parallel} sequence${f.parallel === 1 ? '' : 's'}, queue ${f.queue}, ${model.threads} thread${model.threads === 1 ? '' : 's'}${apiKey ? ', API key required' : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const closing = server.close();
  await handler.close();
  await closing;
  model.dispose();
}
