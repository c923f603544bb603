// Not part of the suite: scripts/test.mjs runs it alone with a 3 s limit and must count it as one
// failure naming it (a suite that never ends must not hang the run). It also starts a child process
// that would outlive it, to show the limit kills the suite's whole process group.
import { spawn } from 'node:child_process';
import { test } from 'uvu';

test('never finishes', async () => {
  spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  await new Promise(() => setInterval(() => {}, 1000));
});

test.run();
