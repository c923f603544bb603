// The parts of `npm test` (scripts/test.mjs) that decide what counts, kept apart so that
// test/harness.test.ts checks them directly: reading a suite's counts from its final summary only,
// running a child with a time limit, and refusing a CI run whose ../shared is missing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, ''); // uvu and as-pect color their counts

/**
 * uvu's closing summary, which must end its stdout ("Total: N / Passed: N / Skipped: N / Duration:
 * X ms"). A line a test prints that looks like it (anywhere else) is not read. uvu's Total counts the
 * tests that ran; skipped ones are counted apart.
 * @returns {{ passed: number, failed: number, skipped: number } | null} null when there is no summary
 */
export function uvuCounts(stdout) {
  const m = /\n\s*Total:\s+(\d+)\s*\n\s*Passed:\s+(\d+)\s*\n\s*Skipped:\s+(\d+)\s*\n\s*Duration:\s+[\d.]+\s*m?s\s*$/.exec(plain(stdout));
  if (!m) return null;
  const [total, passed, skipped] = [m[1], m[2], m[3]].map(Number);
  return { passed, failed: total - passed, skipped };
}

/**
 * as-pect's closing summary (see as-pect.config.js): the last "[Tests]: <passed> / <total>" followed
 * by the "[Result]:" line.
 * @returns {{ passed: number, failed: number, skipped: number } | null}
 */
export function aspectCounts(out) {
  const m = /\[Tests\]:\s*(\d+)\s*\/\s*(\d+)\s*\n\s*\[Groups\]:[^\n]*\n\s*\[Snapshots\]:[^\n]*\n\s*\[Result\]:[^\n]*\s*$/.exec(plain(out));
  if (!m) return null;
  return { passed: Number(m[1]), failed: Number(m[2]) - Number(m[1]), skipped: 0 };
}

/**
 * Counts of one suite from its exit and output: a crash, a missing summary, a timeout or a non-zero
 * exit with everything passed each count as one failure, with a line naming the suite.
 * @param {{ code: number, stdout: string, out: string, timedOut: boolean, seconds: number }} r
 * @param {(s: string) => any} parse  uvuCounts (reads stdout) or aspectCounts (reads all output)
 */
export function suiteCounts(name, r, parse) {
  if (r.timedOut) return { passed: 0, failed: 1, skipped: 0, problem: `${name}: timed out after ${r.seconds} s (killed with its child processes)` };
  const c = parse(parse === uvuCounts ? r.stdout : r.out);
  if (!c) return { passed: 0, failed: 1, skipped: 0, problem: `${name}: crashed or printed no summary (exit ${r.code})` };
  if (r.code !== 0 && c.failed === 0) return { ...c, failed: 1, problem: `${name}: exited ${r.code} although every test passed` };
  return c;
}

/**
 * What a failed suite said about its failures, short enough to repeat at the end of a long run (CI
 * shows only the tail of the log): each uvu "FAIL" block up to its stack, or as-pect's failing lines,
 * or the last lines of a crash.
 * @param {string} out  the suite's whole output
 * @returns {string[]} at most `max` lines, colors removed
 */
export function failureExcerpt(out, max = 12) {
  const lines = plain(out).split('\n');
  const picked = [];
  for (let i = 0; i < lines.length && picked.length < max; i++) {
    if (!/^\s*(FAIL\b|❌)/.test(lines[i])) continue;
    for (; i < lines.length && picked.length < max && !/^\s+at |^\s*\[Summary\]/.test(lines[i]); i++) if (lines[i].trim()) picked.push(lines[i].trimEnd());
  }
  if (picked.length) return picked;
  return lines.filter((l) => l.trim()).slice(-Math.min(max, 6)).map((l) => l.trimEnd());
}

/**
 * Runs a command in its own process group and kills the whole group (the suite's own children
 * included: deno, bun, chromium, workerd) when it runs longer than `seconds`.
 * @returns {Promise<{ code: number, stdout: string, out: string, timedOut: boolean, seconds: number }>}
 */
export function runLimited(cmd, args, seconds, opts = {}) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', out = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, seconds * 1000);
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout, out, timedOut, seconds });
    });
  });
}

/**
 * In CI (CI set to anything, as test/runtimes.test.ts reads it), ../shared must be there: without it every golden suite skips
 * and the run would pass having checked nothing. A plain clone elsewhere still skips them.
 * @returns {string | null} the problem, or null
 */
export function sharedProblem(env = process.env, root = process.cwd()) {
  const ci = !!env.CI;
  const dir = env.FAIRY2I_SHARED ?? resolve(root, '../shared');
  if (!ci || existsSync(`${dir}/golden/manifest.json`)) return null;
  return `CI is set but ${dir}/golden/manifest.json is missing: every suite that needs the models and goldens would skip. Put ../shared (the read-only models and goldens) beside the checkout.`;
}
