#!/usr/bin/env node
// Runs the bundled CLI (dist/cli.js, built by `npm run build`). In a development checkout whose
// src/ is newer than that bundle (or that has none), runs the TypeScript source through tsx instead,
// so an edit is never shadowed by a stale build.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const src = fileURLToPath(new URL('../src', import.meta.url));

function newestMtime(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

const useDist = existsSync(dist) && (!existsSync(src) || statSync(dist).mtimeMs >= newestMtime(src));
let main;
if (useDist) {
  ({ main } = await import(new URL('../dist/cli.js', import.meta.url).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(new URL('../src/cli/main.ts', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
