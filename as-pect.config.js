// as-pect 8 (AssemblyScript 0.27) configuration for the kernel specs in test/assembly/.
// Run with `npm run test:as`. Compiler options come from as-pect.asconfig.json, which extends
// asconfig.json (SIMD enabled). Each *.spec.ts is compiled and run on its own.
//
// asp's launcher (bin/asp.js) sets FORCE_COLOR=2 for its child, so the report is colored even
// in a pipe. Scripts parse the summary, so colors are switched off here (this is the chalk
// instance as-pect's CLI and reporters import). The summary then reads, for example:
//     [Tests]: 57 / 57
//    [Groups]: 9 / 9
// [Snapshots]: 0 / 0, Added 0, Changed 0
//    [Result]: ✔ Pass!
// ("❌ Fail" and exit status 1 when a test fails; a compile error exits 1 with no summary).
// chalk is a dependency of @as-pect/cli, not of this package: if it cannot be found, the output
// simply stays colored.
const chalk = await import("chalk").then((m) => m.default, () => null);
if (chalk) chalk.level = 0;

export default {
  entries: ["test/assembly/**/*.spec.ts"],
  // Shared helpers (test/assembly/util.ts) are imported by the specs, not included globally.
  include: [],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
