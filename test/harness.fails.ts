// Not part of the suite: scripts/test.mjs runs it alone and must count exactly 1 passed, 1 failed and
// 1 skipped, through the same code that counts the real suites. This proves the harness reports
// failures and skips (a runner that always says "passed" would be caught here), and that a test
// printing something that looks like uvu's summary does not change the counts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('this one passes', () => {
  console.log('\n  Total:     7\n  Passed:    7\n  Skipped:   0\n  Duration:  1.00ms\n');
});

test('this assertion is wrong on purpose', () => {
  assert.is(1 + 1, 3);
});

test.skip('this one is skipped', () => {});

test.run();
