// `fairy2i-wasm web`: serves the demo page (web/), the browser bundles and the model with the
// cross-origin isolation headers, prints the URL and runs until interrupted.

import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Fairy2iError } from '../errors.js';
import { bundledPath, defaultModelPath } from '../node.js';
import { readModelHeaderFromFile } from '../node/read-header.js';
import type { CommandSpec, Parsed } from './args.js';
import { localModelPath } from './common.js';
import { startWebServer } from './web-server.js';

export const webSpec: CommandSpec = {
  name: 'web',
  summary: 'Serve the browser demo page (engine in a Web Worker, models cached in the browser) and print its URL.',
  usage: 'fairy2i-wasm web [-m FILE] [--port 8080] [--host 127.0.0.1] [--open]',
  positionals: [],
  flags: {
    model: { type: 'string', alias: 'm', arg: 'file', help: 'Fairy2i model file the page offers, or hf:OWNER/REPO[@REV][/FILE] (default: the bundled model)' },
    port: { type: 'int', min: 0, max: 65535, default: 8080, arg: 'n', help: 'port to listen on (0: a free one)' },
    host: { type: 'string', default: '127.0.0.1', arg: 'address', help: 'address to listen on (0.0.0.0 serves other machines too)' },
    open: { type: 'bool', help: 'open the page in the default browser' },
    isolate: { type: 'bool', default: true, help: 'send COOP/COEP (threads); --isolate=false shows the page as a host without them would' },
  },
};

export async function runWeb(a: Parsed): Promise<void> {
  const model = await localModelPath((a.flags.model as string | undefined) ?? defaultModelPath());
  if (!existsSync(model) || !statSync(model).isFile()) {
    throw new Fairy2iError('input', a.flags.model ? `${model}: no such file` : `the bundled model is missing (${model}); pass -m FILE`);
  }
  readModelHeaderFromFile(model); // a clear error now rather than in the page
  // web/, dist/ and build/ sit beside models/ in the package (and in the repository).
  const root = dirname(dirname(bundledPath('default.gguf')));
  if (!existsSync(`${root}/dist/worker.js`)) throw new Fairy2iError('input', `${root}/dist/worker.js is missing: run 'npm run build'`);
  const isolate = a.flags.isolate !== false;
  const server = await startWebServer({ root, model, port: a.flags.port as number, host: a.flags.host as string, isolate });
  process.stdout.write(`fairy2i-wasm web: ${server.url}\n  model ${model} at ${server.modelPath}\n  ${isolate ? 'cross-origin isolated (COOP/COEP sent): threads available' : 'no COOP/COEP: the page runs the engine on one thread'}\n  Ctrl-C stops\n`);
  if (a.flags.open) openBrowser(server.url);
  await new Promise<void>((done) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); server.close().then(done); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`fairy2i-wasm web: could not start '${cmd}'; open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`fairy2i-wasm web: open ${url} yourself\n`);
  }
}
