// Bundles the TypeScript host with esbuild: the Node/Deno/Bun library, the browser library, its
// model worker (dist/worker.js, started by loadModelInWorker from next to dist/browser.js) and the CLI.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
const jobs = [
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node' }),
];
if (existsSync('src/browser.ts')) jobs.push(build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser' }));
if (existsSync('src/worker/entry.ts')) jobs.push(build({ ...common, entryPoints: ['src/worker/entry.ts'], outfile: 'dist/worker.js', platform: 'browser' }));
await Promise.all(jobs);
