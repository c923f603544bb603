// A short seeded fuzzing run of every file reader (test/fuzz/readers.ts); `npm run fuzz` runs long.
import { rmSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from './fixtures.ts';
import { fuzz } from './fuzz/readers.ts';

const RUNS = 40;
const SEED = 20261202;

const s = suite('fuzz: file readers (short seeded run)');
const dir = tempDir();

s(`${RUNS} mutated files per reader: a one-line Fairy2iError or success, in bounded time and memory`, () => {
  const { cases, findings } = fuzz(dir, RUNS, SEED);
  assert.ok(cases >= RUNS, `ran ${cases} cases`);
  assert.equal(findings, [], findings.map((f) => `${f.target}: ${f.error} (${f.mutation})`).join('\n'));
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
