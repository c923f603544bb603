// `npm test`: builds, runs the host suites (uvu), the AssemblyScript specs (as-pect) and the harness
// self-tests (suites that must fail or hang, counted by the same code as the real ones, proving that
// failures, skips and hangs are reported), then prints one closing line "N passed, N failed, N
// skipped". Extra arguments filter host suites by file name. Every suite runs with a time limit
// (FAIRY2I_SUITE_TIMEOUT_S, default 600 s); one that exceeds it is killed and fails the run by name.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { aspectCounts, failureExcerpt, runLimited, sharedProblem, suiteCounts, uvuCounts } from './test-counts.mjs';
import { RELAXED_PROBE } from '../src/relaxed-probe.mjs';

// --relaxed: the suites on the relaxed-SIMD build (loadModel's 'auto' picks it where relaxed SIMD runs:
// Node 20 gets V8's flag) and the AssemblyScript specs compiled with relaxed SIMD, no self-tests.
const relaxed = process.argv.includes('--relaxed');
const filter = process.argv.slice(2).filter((a) => a !== '--relaxed');
const relaxedOn = WebAssembly.validate(RELAXED_PROBE);
const nodeArgs = relaxed && !relaxedOn ? ['--experimental-wasm-relaxed-simd'] : [];
const LIMIT_S = Number(process.env.FAIRY2I_SUITE_TIMEOUT_S ?? 600);
let passed = 0, failed = 0, skipped = 0;
const failures = []; // [suite, excerpt lines], repeated just above the closing line

const b = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (b.status !== 0) { console.log('build failed'); console.log('0 passed, 1 failed, 0 skipped'); process.exit(1); }

const shared = sharedProblem();
if (shared) { console.log(shared); failed++; }

const uvu = (file, seconds = LIMIT_S) =>
  runLimited(process.execPath, [...nodeArgs, '--import', 'tsx', 'node_modules/uvu/bin.js', 'test', `^${file.replace(/\./g, '\\.')}$`], seconds);
const asp = (config, seconds = LIMIT_S) => runLimited('npx', ['asp', '--config', config, '--summary'], seconds);

/** Adds a suite's counts to the totals; returns them. */
function count(name, r, parse) {
  const c = suiteCounts(name, r, parse);
  if (c.problem) console.log(`\n${c.problem}`);
  if (c.failed) failures.push([c.problem ?? `${name}: ${c.failed} failed`, r.timedOut ? [] : failureExcerpt(r.out)]);
  passed += c.passed;
  failed += c.failed;
  skipped += c.skipped;
  return c;
}

// Host suites, one uvu process per file so a crash in one cannot hide the others.
const files = readdirSync('test').filter((f) => f.endsWith('.test.ts') && (!filter.length || filter.some((x) => f.includes(x)))).sort();
for (const f of files) {
  const r = await uvu(f);
  process.stdout.write(r.out);
  count(f, r, uvuCounts);
}

if (relaxed) {
  // asp's launcher would not pass V8's flag on, so its test runner is started directly.
  const as = await runLimited(process.execPath, [...nodeArgs, 'node_modules/@as-pect/cli/lib/test.js', '--config', 'as-pect.config.js',
    '--as-config', 'as-pect.relaxed.asconfig.json', '--summary'], LIMIT_S);
  process.stdout.write(as.out.split('\n').slice(-12).join('\n') + '\n');
  count('as-pect specs (relaxed SIMD)', as, aspectCounts);
}

if (!filter.length && !relaxed) {
  const as = await asp('as-pect.config.js');
  process.stdout.write(as.out.split('\n').slice(-12).join('\n') + '\n');
  count('as-pect specs', as, aspectCounts);

  // Self-tests: the same counting must see a failing uvu test (next to a passing and a skipped one,
  // and a line printed to look like a summary), a failing as-pect spec, and a hang; the
  // summing-up repeated at the end must name the failing test.
  const self = (what, c, want, out, failing) => {
    const ok = c.passed === want.passed && c.failed === want.failed && c.skipped === want.skipped && (!failing || failureExcerpt(out).some((l) => l.includes(failing)));
    console.log(`harness self-test: ${what}: ${ok ? 'reported as such (ok)' : `counted ${JSON.stringify(c)}, expected ${JSON.stringify(want)}!`}`);
    if (ok) passed++; else { failed++; failures.push([`harness self-test: ${what}`, []]); }
  };
  const u = await uvu('harness.fails.ts');
  self('a failing uvu suite', suiteCounts('harness.fails.ts', u, uvuCounts), { passed: 1, failed: 1, skipped: 1 }, u.out, 'this assertion is wrong on purpose');
  const a = await asp('as-pect.fails.config.js');
  self('a failing as-pect spec', suiteCounts('harness.fails.spec.ts', a, aspectCounts), { passed: 1, failed: 1, skipped: 0 }, a.out, 'this expectation is wrong on purpose');
  const h = await uvu('harness.hangs.ts', 3);
  const hc = suiteCounts('harness.hangs.ts', h, uvuCounts);
  self(`a hanging suite (${hc.problem})`, hc, { passed: 0, failed: 1, skipped: 0 });
}

if (failures.length) {
  console.log('\nfailed:');
  for (const [what, lines] of failures) console.log(`- ${what}\n${lines.map((l) => `    ${l}`).join('\n')}`);
}
if (shared) console.log(`\n${shared}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
