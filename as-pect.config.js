// as-pect 8 (AssemblyScript 0.27) configuration for the kernel specs in test/assembly/.
// Run with `npm run test:as`. Compiler options come from as-pect.asconfig.json, which extends
// asconfig.json (SIMD and threads enabled, shared memory imported). Each *.spec.ts is compiled and
// run on its own.
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
  // The kernels are built as the engine is (asconfig.json): with threads, importing a shared memory
  // of up to 4 GiB. A module that imports a shared memory cannot take as-pect's plain one, so it gets
  // a shared memory of the same initial size instead.
  async instantiate(memory, createImports, instantiate, binary) {
    const imported = WebAssembly.Module.imports(new WebAssembly.Module(binary)).some((i) => i.kind === "memory");
    const mem = imported ? new WebAssembly.Memory({ initial: memory.buffer.byteLength / 65536, maximum: 65536, shared: true }) : memory;
    return instantiate(binary, createImports({ env: { memory: mem } }));
  },
  outputBinary: false,
};
