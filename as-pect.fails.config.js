// The must-fail AssemblyScript spec (test/assembly/harness.fails.ts, outside the *.spec.ts glob):
// scripts/test.mjs runs it alone with this configuration and must count 1 passed and 1 failed, through
// the same summary parsing as the real specs.
import config from "./as-pect.config.js";

export default { ...config, entries: ["test/assembly/harness.fails.ts"] };
