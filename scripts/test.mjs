// `npm test`: builds, runs the host suites (uvu), the AssemblyScript specs (as-pect) and the harness
// self-test (a suite that must fail, proving failures are reported), then prints one closing line
// "N passed, N failed, N skipped". Extra arguments filter host suites by file name.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

// --relaxed: run the suites on the relaxed-SIMD build (loadModel's 'auto' picks it where relaxed SIMD
// runs: Node 20 gets V8's flag) and the AssemblyScript specs compiled with relaxed SIMD.
const relaxed = process.argv.includes('--relaxed');
const filter = process.argv.slice(2).filter((a) => a !== '--relaxed');
const relaxedOn = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 43, 1, 41, 0,
  253, 12, ...new Array(16).fill(0), 253, 12, ...new Array(16).fill(0), 253, 128, 2, 11])); // src/wasm.ts RELAXED_PROBE
const nodeArgs = relaxed && !relaxedOn ? ['--experimental-wasm-relaxed-simd'] : [];
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  return { code: r.status ?? 1, out: (r.stdout ?? '') + (r.stderr ?? '') };
};
let passed = 0, failed = 0, skipped = 0;

const b = run('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (b.code !== 0) { console.log('build failed'); console.log('0 passed, 1 failed, 0 skipped'); process.exit(1); }

// Host suites, one uvu process per file so a crash in one cannot hide the others.
const files = readdirSync('test').filter((f) => f.endsWith('.test.ts') && (!filter.length || filter.some((x) => f.includes(x)))).sort();
for (const f of files) {
  const r = run(process.execPath, [...nodeArgs, '--import', 'tsx', 'node_modules/uvu/bin.js', 'test', `^${f.replace(/\./g, '\\.')}$`]);
  process.stdout.write(r.out);
  const plain = r.out.replace(/\x1b\[[0-9;]*m/g, ''); // uvu colors its counts
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const sk = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  if (!Number.isFinite(total) || !Number.isFinite(ok)) {
    console.log(`\n${f}: crashed or printed no summary (exit ${r.code})`);
    failed++;
    continue;
  }
  passed += ok;
  skipped += sk;
  // uvu's Total counts the tests that ran; skipped ones are counted apart.
  failed += total - ok + (r.code !== 0 && total === ok ? 1 : 0);
}

/** Adds as-pect's summary ("[Tests]: <passed> / <total>", see as-pect.config.js) to the counts. */
function countSpecs(as) {
  process.stdout.write(as.out.split('\n').slice(-12).join('\n') + '\n');
  const m = /\[Tests\]:\s*(\d+)\s*\/\s*(\d+)/.exec(as.out);
  if (m) { passed += Number(m[1]); failed += Number(m[2]) - Number(m[1]); }
  else { console.log(`as-pect printed no test summary (exit ${as.code})`); failed++; }
  if (m && as.code !== 0 && Number(m[1]) === Number(m[2])) { console.log(`as-pect exited ${as.code}`); failed++; }
}

if (relaxed) {
  // The specs with the kernels compiled as build/fairy2i-relaxed.wasm is (asp's launcher would drop the flag).
  console.log('as-pect specs, relaxed SIMD:');
  countSpecs(run(process.execPath, [...nodeArgs, 'node_modules/@as-pect/cli/lib/test.js', '--config', 'as-pect.config.js', '--as-config', 'as-pect.relaxed.asconfig.json', '--summary'], { env: { ...process.env, FORCE_COLOR: '0' } }));
}

if (!filter.length && !relaxed) {
  // The harness must report a failing suite as failed.
  const s = run(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', '^harness\\.fails\\.ts$']);
  if (s.code !== 0 && /FAIL/.test(s.out)) { passed++; console.log('harness self-test: a failing suite is reported as failing (ok)'); }
  else { failed++; console.log('harness self-test: test/harness.fails.ts did not fail!\n' + s.out); }

  countSpecs(run('npx', ['asp', '--config', 'as-pect.config.js', '--summary']));
}

console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
