#!/usr/bin/env node
// Runs the bundled CLI (dist/cli.js, built by `npm run build`), or the TypeScript source through
// tsx in a development checkout that has not been built yet.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
let main;
if (existsSync(fileURLToPath(dist))) {
  ({ main } = await import(dist.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(new URL('../src/cli/main.ts', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
