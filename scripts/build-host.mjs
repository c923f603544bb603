// Bundles the TypeScript host with esbuild: the Node/Deno/Bun library, the browser library and the CLI;
// then tsc (which also type-checks src/) writes the entries' declarations beside them (dist/node.d.ts,
// dist/browser.d.ts and the .d.ts of the modules they reach). Declarations from an earlier build are
// removed first, so a module deleted from src/ leaves none behind in the package.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'warning' };
const jobs = [
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node' }),
];
if (existsSync('src/browser.ts')) jobs.push(build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser' }));
await Promise.all(jobs);

if (existsSync('dist')) {
  for (const e of readdirSync('dist', { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.d.ts')) rmSync(join(e.parentPath, e.name));
  }
}
// TypeScript 7's tsc is a native binary behind a Node launcher; run that launcher with this node.
const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.dts.json'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build-host: tsc could not write the declarations (see above)');
  process.exit(1);
}
