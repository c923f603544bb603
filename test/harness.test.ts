// The test runner's counting (scripts/test-counts.mjs): counts come from each suite's closing summary
// only, a hang is killed with its children and fails by name, and CI without ../shared fails. The
// runner also runs its self-tests (harness.fails.ts, harness.hangs.ts, the failing as-pect spec)
// through the same functions on every full `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-ignore: plain JavaScript run by node directly
import { aspectCounts, failureExcerpt, runLimited, sharedProblem, suiteCounts, uvuCounts } from '../scripts/test-counts.mjs';
import { tempDir } from './fixtures.ts';

const s = suite('harness: counting');
const summary = (total: number, passed: number, skipped: number) => `\n  Total:     ${total}\x1b[32m\n  Passed:    ${passed}\x1b[39m\n  Skipped:   ${skipped}\n  Duration:  12.34ms\n\n`;

s('uvu: the closing summary counts, not a look-alike printed by a test', () => {
  assert.equal(uvuCounts(`suite • • ✘ (2 / 3)\n${summary(3, 2, 1)}`), { passed: 2, failed: 1, skipped: 1 });
  assert.equal(uvuCounts(`a test printed:${summary(9, 9, 0)}then more output\n${summary(4, 1, 0)}`), { passed: 1, failed: 3, skipped: 0 });
  // a look-alike with no real summary after it (the suite crashed) is no summary
  assert.is(uvuCounts(`${summary(9, 9, 0)}Error: boom\n    at x (y.ts:1:1)\n`), null);
  assert.is(uvuCounts(''), null);
  assert.equal(uvuCounts('  Total:     0\n  Passed:    0\n  Skipped:   0\n  Duration:  0.1ms\n'), null, 'needs the line break before Total');
  assert.equal(uvuCounts('\n  Total:     1\n  Passed:    1\n  Skipped:   0\n  Duration:  1.5s\n'), { passed: 1, failed: 0, skipped: 0 });
});

s('as-pect: the last summary block counts', () => {
  const block = (p: number, t: number) => `  [Summary]\n    [Tests]: ${p} / ${t}\n   [Groups]: 1 / 1\n[Snapshots]: 0 / 0, Added 0, Changed 0\n   [Result]: ✔ Pass!\n\n`;
  assert.equal(aspectCounts(`[Tests]: 50 / 50 printed by a spec\n${block(57, 58)}`), { passed: 57, failed: 1, skipped: 0 });
  assert.is(aspectCounts('[Tests]: 57 / 57\nERROR: compile failed\n'), null);
});

s('a suite: no summary, a timeout, or a non-zero exit with all passed each fail by name', () => {
  const ok = summary(2, 2, 0);
  assert.equal(suiteCounts('a.test.ts', { code: 0, stdout: ok, out: ok, timedOut: false, seconds: 9 }, uvuCounts), { passed: 2, failed: 0, skipped: 0 });
  const c = suiteCounts('b.test.ts', { code: 1, stdout: ok, out: ok + 'unhandled rejection', timedOut: false, seconds: 9 }, uvuCounts);
  assert.equal([c.passed, c.failed], [2, 1]);
  assert.match(c.problem, /^b\.test\.ts: exited 1 although every test passed/);
  const t = suiteCounts('c.test.ts', { code: 137, stdout: '', out: '', timedOut: true, seconds: 600 }, uvuCounts);
  assert.equal([t.passed, t.failed, t.problem], [0, 1, 'c.test.ts: timed out after 600 s (killed with its child processes)']);
  const n = suiteCounts('d.test.ts', { code: 1, stdout: 'Error: x', out: 'Error: x', timedOut: false, seconds: 9 }, uvuCounts);
  assert.equal([n.failed, n.problem], [1, 'd.test.ts: crashed or printed no summary (exit 1)']);
  // uvu's summary is read from stdout only: stderr after it does not hide it
  assert.equal(suiteCounts('e.test.ts', { code: 0, stdout: ok, out: ok + 'a warning\n', timedOut: false, seconds: 9 }, uvuCounts).failed, 0);
});

s('a failed suite is summed up by its FAIL blocks without their stacks, or by the last lines of a crash', () => {
  const uvuOut = `x.ts\n\x1b[31m   FAIL \x1b[39m "first"\n    Expected values to be strictly equal:  (is)\n\n        ++3    (Expected)\n        --2    (Actual)\n    at assert (file:///a.mjs:1:1)\n    at h (file:///b.ts:2:2)\n\n   FAIL  "second"\n    boom\n    at c (d.ts:1:1)\n${summary(3, 1, 0)}`;
  assert.equal(failureExcerpt(uvuOut), ['   FAIL  "first"', '    Expected values to be strictly equal:  (is)', '        ++3    (Expected)', '        --2    (Actual)', '   FAIL  "second"', '    boom']);
  assert.equal(failureExcerpt(uvuOut, 2), ['   FAIL  "first"', '    Expected values to be strictly equal:  (is)']);
  const aspOut = '❌ test/assembly/x.ts Pass: 1 / 2\n  Failed: g\n    ❌ wrong - \n      [Actual]  : 2\n      [Expected]: 3\n\n  [Summary]\n    [Tests]: 1 / 2\n';
  assert.equal(failureExcerpt(aspOut), ['❌ test/assembly/x.ts Pass: 1 / 2', '  Failed: g', '    ❌ wrong -', '      [Actual]  : 2', '      [Expected]: 3']);
  const crash = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n') + '\n\n';
  assert.equal(failureExcerpt(crash), ['line 14', 'line 15', 'line 16', 'line 17', 'line 18', 'line 19']);
});

s('runLimited: output and exit code; past the limit the whole process group is killed', async () => {
  const r = await runLimited(process.execPath, ['-e', 'console.log("out"); console.error("err"); process.exit(3)'], 30);
  assert.equal([r.code, r.stdout, r.timedOut], [3, 'out\n', false]);
  assert.match(r.out, /err/);
  // a child that starts a grandchild and hangs: both are gone once the limit passes
  const t0 = Date.now();
  const h = await runLimited(process.execPath, ['-e', 'const c = require("child_process").spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" }); process.stdout.write(String(c.pid)); setInterval(() => {}, 1000)'], 1);
  assert.ok(h.timedOut && Date.now() - t0 < 10_000, `timedOut ${h.timedOut} after ${Date.now() - t0} ms`);
  const grandchild = Number(h.stdout.trim());
  assert.ok(grandchild > 0, JSON.stringify(h));
  // gone, or a zombie waiting to be reaped (a container's init may not reap orphans promptly)
  const alive = () => { try { process.kill(grandchild, 0); } catch { return false; } return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${grandchild}/stat`, 'utf8')); };
  for (let i = 0; i < 50 && alive(); i++) await new Promise((ok) => setTimeout(ok, 100));
  assert.not.ok(alive(), `the grandchild ${grandchild} was killed too`);
});

s('CI without ../shared fails with a message; a plain clone skips; CI with it passes', () => {
  const dir = tempDir('fairy2i-harness-');
  assert.match(sharedProblem({ CI: 'true', FAIRY2I_SHARED: join(dir, 'none') }), /^CI is set but .*none\/golden\/manifest\.json is missing/);
  assert.is(sharedProblem({ FAIRY2I_SHARED: join(dir, 'none') }), null);
  mkdirSync(join(dir, 'shared/golden'), { recursive: true });
  writeFileSync(join(dir, 'shared/golden/manifest.json'), '{}');
  assert.is(sharedProblem({ CI: 'true', FAIRY2I_SHARED: join(dir, 'shared') }), null);
  // without FAIRY2I_SHARED: ../shared beside the checkout
  mkdirSync(join(dir, 'repo'));
  assert.is(sharedProblem({ CI: '1' }, join(dir, 'repo')), null);
  mkdirSync(join(dir, 'elsewhere/repo'), { recursive: true });
  assert.match(sharedProblem({ CI: '1' }, join(dir, 'elsewhere/repo')), /elsewhere\/shared\/golden\/manifest\.json is missing/);
});

s.run();
