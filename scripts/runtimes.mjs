// Where the other JavaScript runtimes that test/runtimes.test.ts drives live: Deno, Bun and workerd
// from their npm packages (devDependencies), Chromium from Debian (/usr/bin/chromium).
//
// Each npm package ships its binary in a per-platform package (@deno/linux-x64-glibc,
// @oven/bun-linux-x64, @cloudflare/workerd-linux-64); the main package's postinstall copies or links
// it into place. npm 11 may skip install scripts that were not approved, so the platform package is
// looked at too, and a candidate counts only once it answers --version.
//
//   node scripts/runtimes.mjs            prints each runtime's path and version
//   node scripts/runtimes.mjs --ensure   the same, first running a package's own install script
//                                        when none of its candidates works (used by .ci/run)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nm = (rel) => `${root}node_modules/${rel}`;
const arch = { x64: { deno: 'x64', bun: 'x64', workerd: '64' }, arm64: { deno: 'aarch64', bun: 'aarch64', workerd: 'arm64' } }[process.arch] ?? {};

/** Candidate paths per runtime, best first, and the install script that puts the first one in place. */
export const RUNTIMES = {
  deno: { candidates: [nm('deno/deno'), nm(`@deno/linux-${arch.deno}-glibc/deno`)], install: nm('deno/install.cjs') },
  bun: {
    candidates: [nm('bun/bin/bun.exe'), nm(`@oven/bun-linux-${arch.bun}/bin/bun`), nm(`@oven/bun-linux-${arch.bun}-baseline/bin/bun`)],
    install: nm('bun/install.js'),
  },
  workerd: { candidates: [nm(`@cloudflare/workerd-linux-${arch.workerd}/bin/workerd`), nm('workerd/bin/workerd')], install: nm('workerd/install.js') },
  chromium: { candidates: [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].filter(Boolean), install: null },
};

const versions = new Map();
function versionOf(path) {
  if (!versions.has(path)) {
    let v = null;
    if (existsSync(path)) {
      const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
      if (r.status === 0) v = (r.stdout.split('\n').find((l) => l.trim()) ?? '').trim();
    }
    versions.set(path, v);
  }
  return versions.get(path);
}

/**
 * The first working binary of a runtime: `{ path, version }`, or `{ error }` saying where it was
 * looked for and how to get it.
 */
export function findRuntime(name) {
  const rt = RUNTIMES[name];
  for (const path of rt.candidates) {
    const version = versionOf(path);
    if (version) return { path, version };
  }
  const how = name === 'chromium'
    ? "install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH"
    : `run npm ci (the ${name} npm package is a devDependency${rt.install ? `; if its install script was skipped: node ${rt.install.slice(root.length)}` : ''})`;
  return { error: `${name}: no working binary (tried ${rt.candidates.join(', ')}); ${how}` };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ensure = process.argv.includes('--ensure');
  for (const name of Object.keys(RUNTIMES)) {
    let r = findRuntime(name);
    if (r.error && ensure && RUNTIMES[name].install && existsSync(RUNTIMES[name].install)) {
      console.log(`${name}: running its install script ${RUNTIMES[name].install.slice(root.length)}`);
      spawnSync(process.execPath, [RUNTIMES[name].install], { cwd: root, stdio: 'inherit', timeout: 120_000 });
      versions.clear();
      r = findRuntime(name);
    }
    // Missing runtimes are reported here and fail in test/runtimes.test.ts, which says why.
    console.log(r.error ? `warning: ${r.error}` : `${name}: ${r.version} (${r.path.startsWith(root) ? r.path.slice(root.length) : r.path})`);
  }
}
