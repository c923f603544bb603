// `npm run mutate [-- NAME...]`: mutation testing with StrykerJS, one source file at a time against
// the one uvu suite that covers it (Stryker's command runner: each mutant runs the suite in a fresh
// process; a mutant survives when the suite still exits 0). Not part of `npm test`: it is CPU-heavy
// (one suite run per mutant), so targets run one after another, one suite process at a time unless
// --concurrency N says more.
// Prints each file's score, killed / (killed + survived + no coverage; timeouts count as killed),
// and every survivor, with its line and replacement, so it can be killed by a test or explained as
// an equivalent mutant. Reports: reports/mutation/<name>.json (and .html), scores-<names>.json.
//
// Add a target by adding a line to TARGETS: the file(s) to mutate and the test file whose suite must
// kill their mutants (or several suites, run in one uvu process); a target with several files gets a
// score per file.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Stryker } from '@stryker-mutator/core';

export const TARGETS = {
  sampler: { mutate: 'src/sampler.ts', suite: ['sampler.test.ts', 'sampler-selection.test.ts'] },
  perplexity: { mutate: 'src/perplexity.ts', suite: 'perplexity.test.ts' },
  quantize: { mutate: 'src/convert/quantize.ts', suite: 'quantize.test.ts' },
  tokenizer: { mutate: 'src/tokenizer.ts', suite: 'tokenizer.test.ts' },
  generate: { mutate: 'src/generate.ts', suite: ['generate.test.ts', 'api.test.ts'] },
  // the server's request parsing: fields, the body reader, the key check, prompts' room in the context
  // the Hub client: HTTP (redirects, token, retries, statuses), model info and names, downloads
  hub: { mutate: ['src/hub/http.ts', 'src/hub/repo.ts', 'src/hub/download.ts'], suite: 'hub-client.test.ts' },
  server: { mutate: ['src/server/requests.ts', 'src/server/body.ts', 'src/server/auth.ts', 'src/server/prompt.ts'], suite: 'server-requests.test.ts' },
};

// --concurrency N (default 1): suite processes at once; the machine's cores are shared, keep it small
const args = process.argv.slice(2);
const ci = args.indexOf('--concurrency');
const concurrency = ci >= 0 ? Number(args.splice(ci, 2)[1]) : 1;
if (!Number.isInteger(concurrency) || concurrency < 1) { console.error('mutate: --concurrency takes a positive integer'); process.exit(2); }
// --timeout-ms N (default 20000): how long beyond the dry run's time a mutant may take before it
// counts as a timeout (killed: it hung the suite); a smaller value makes a target with many hanging
// mutants (the tokenizer's merge loops) finish sooner.
const ti = args.indexOf('--timeout-ms');
const timeoutMS = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 20_000;
// --only FILE:FROM-TO (repeatable): mutate just those lines (Stryker's mutate ranges), to check that
// new tests kill the survivors of a full run without running it all again.
const only = [];
for (let i; (i = args.indexOf('--only')) >= 0;) only.push(args.splice(i, 2)[1]);
const names = args;
for (const n of names) if (!TARGETS[n]) { console.error(`mutate: unknown target ${n} (known: ${Object.keys(TARGETS).join(', ')})`); process.exit(2); }
// Stryker runs the suite in a copy of the repository (.stryker-tmp/sandbox-*), where ../shared
// would not resolve: test/shared.ts takes the real path from the environment.
process.env.FAIRY2I_SHARED ??= resolve('../shared');
mkdirSync('reports/mutation', { recursive: true });

const scores = [];
for (const name of names.length ? names : Object.keys(TARGETS)) {
  const targetFiles = [TARGETS[name].mutate].flat();
  const ranges = only.filter((o) => targetFiles.includes(o.replace(/:[\d-]+$/, '')));
  const files = ranges.length ? [...new Set(ranges.map((o) => o.replace(/:[\d-]+$/, '')))] : targetFiles;
  const suites = [TARGETS[name].suite].flat();
  const suite = suites.join(' + ');
  const missing = [...files, ...suites.map((s) => `test/${s}`)].filter((f) => !existsSync(f));
  if (missing.length) { console.log(`${name}: ${missing.join(', ')} missing; skipped`); continue; }
  const stryker = new Stryker({
    mutate: ranges.length ? ranges : files,
    testRunner: 'command',
    // --bail: a killed mutant ends the suite at its first failure (most mutants die early)
    commandRunner: { command: `node --import tsx node_modules/uvu/bin.js test '^(${suites.map((s) => s.replace(/\./g, '\\.')).join('|')})$' --bail` },
    concurrency,
    coverageAnalysis: 'off',
    // a mutant that hangs the suite counts as killed (Timeout) after this much beyond the dry run
    timeoutMS,
    reporters: ['clear-text', 'json', 'html', 'progress-append-only'],
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    // only what the suites read: sources, tests, the built wasm and the bundled models
    ignorePatterns: ['/bench', '/train', '/examples', '/docs', '/reports', '/dist', '/.ci'],
    tempDirName: '.stryker-tmp',
    // tsx strips types without checking them, so nothing needs Stryker's type-check preprocessing
    // (which also cannot parse assembly/'s AssemblyScript decorators), and our tsconfig has no
    // extends/references to rewrite (that rewriter needs the JS TypeScript API, gone in TypeScript 7)
    disableTypeChecks: false,
    tsconfigFile: 'no-tsconfig-rewrite.json',
    logLevel: 'warn',
  });
  const all = await stryker.runMutationTest();
  for (const mutate of files) {
    const results = all.filter((r) => relative(process.cwd(), resolve(r.fileName)) === mutate);
    const count = (...st) => results.filter((r) => st.includes(r.status)).length;
    const killed = count('Killed', 'Timeout'), survived = count('Survived'), uncovered = count('NoCoverage');
    const valid = killed + survived + uncovered;
    const score = valid ? (100 * killed) / valid : NaN;
    scores.push({ name, mutate, suite, mutants: results.length, killed, survived, uncovered, errors: count('CompileError', 'RuntimeError'), score });
    console.log(`\n${name}: ${mutate} against test/${suite}: ${score.toFixed(1)} % killed (${killed} of ${valid}; ${survived} survived)`);
    for (const r of results.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage')) {
      console.log(`  survived ${mutate}:${r.location.start.line}:${r.location.start.column + 1} ${r.mutatorName}: ${JSON.stringify(r.replacement)}`);
    }
  }
}
// one file per run, so runs of different targets side by side do not overwrite each other's
writeFileSync(`reports/mutation/scores-${(names.length ? names : ['all']).join('-')}.json`, JSON.stringify(scores, null, 2) + '\n');
console.log('\nmutation scores:');
for (const s of scores) console.log(`  ${s.mutate.padEnd(26)} ${s.score.toFixed(1).padStart(5)} %  (${s.killed} / ${s.killed + s.survived + s.uncovered} killed, ${s.survived} survived; test/${s.suite})`);
