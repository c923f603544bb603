// Bundles the TypeScript host with esbuild: the Node/Deno/Bun library, the browser library and the CLI.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
const jobs = [
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node' }),
];
if (existsSync('src/browser.ts')) jobs.push(build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser' }));
await Promise.all(jobs);
