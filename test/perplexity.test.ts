import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packWindows, windowLoss } from '../src/perplexity.ts';

const s = suite('perplexity protocol');

s('windows start with BOS, take whole documents, skip ones that cannot fit', () => {
  const { windows, skipped } = packWindows([[5, 6, 2], [7, 2], [8, 8, 8, 8, 8, 8, 2], [9, 2]], 6, 1);
  assert.equal(windows, [[1, 5, 6, 2, 7, 2], [1, 9, 2]]);
  assert.is(skipped, 1);
});

s('loss skips targets after EOS; uniform logits give log(V) per counted position', () => {
  const V = 4, w = [1, 3, 2, 0];
  const logits = new Float32Array(w.length * V);
  const loss = windowLoss(logits, w, V, 2);
  assert.ok(Math.abs(loss - 2 * Math.log(V)) < 1e-9); // positions 1, 2 counted; 3 follows EOS
});

s.run();
