// createHandler under Deno's and Bun's own HTTP servers (Deno.serve, Bun.serve) on 127.0.0.1, port 0:
// one greedy chat completion fetched from it, printed as one JSON line. Imports the built library.
//   deno run -A test/runtimes/serve-main.mjs MODEL_FILE    |    bun test/runtimes/serve-main.mjs MODEL_FILE
import process from 'node:process';
import { createHandler, loadModel } from '../../dist/node.js';

const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`;
const [file] = process.argv.slice(2);
let server = null;
try {
  const model = await loadModel(file, { threads: 1 });
  const handler = createHandler(model);
  let port;
  if (globalThis.Deno) {
    server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, handler);
    port = server.addr.port;
  } else if (globalThis.Bun) {
    server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: handler });
    port = server.port;
  } else throw new Error('run this under deno or bun');
  const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What did Moses say?' }], max_tokens: 16, temperature: 0 }),
  });
  const body = await r.json();
  process.stdout.write(JSON.stringify({ ok: true, runtime, status: r.status, object: body.object, content: body.choices?.[0]?.message?.content, completionTokens: body.usage?.completion_tokens }) + '\n');
  await handler.close();
  model.dispose();
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, runtime, error: String(e?.stack ?? e) }) + '\n');
  process.exitCode = 2;
} finally {
  if (server) globalThis.Deno ? await server.shutdown() : server.stop(true);
}
