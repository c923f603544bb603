// Not part of the suite: scripts/test.mjs runs it alone and requires it to FAIL, which proves the
// harness reports failures (a runner that always says "passed" would be caught here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('this assertion is wrong on purpose', () => {
  assert.is(1 + 1, 3);
});

test.run();
