// `npm run fuzz [-- RUNS [SEED]]`: long fuzzing of every file reader (see test/fuzz/readers.ts).
// Prints the cases run per reader and anything found (with the shrunk mutation); exits 1 on a finding.
import { rmSync } from 'node:fs';
import { tempDir } from '../test/fixtures.ts';
import { fuzz } from '../test/fuzz/readers.ts';

const runs = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const dir = tempDir('fairy2i-fuzz-');
console.log(`fuzzing with ${runs} cases per reader, seed ${seed}`);
const t0 = Date.now();
const { cases, findings } = fuzz(dir, runs, seed, (l) => console.log(l));
rmSync(dir, { recursive: true, force: true });
console.log(`${cases} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${findings.length} finding(s)`);
process.exit(findings.length ? 1 : 0);
