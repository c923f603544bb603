// Access to ../shared (models and goldens beside the checkout). When it is absent (a plain clone)
// suites that need it register their tests as skipped and say why: they never fail and never pass.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite, type Test } from 'uvu';

// FAIRY2I_SHARED overrides it for runs from a copy of the repository (scripts/mutate.mjs).
const dir = process.env.FAIRY2I_SHARED ?? fileURLToPath(new URL('../../shared', import.meta.url));

/** Absolute path of ../shared, or null when it is not there. */
export function sharedDir(): string | null {
  return existsSync(`${dir}/golden/manifest.json`) ? dir : null;
}

export function sharedPath(rel: string): string {
  return `${dir}/${rel}`;
}

let manifestCache: any = null;
export function manifest(): any {
  manifestCache ??= JSON.parse(readFileSync(sharedPath('golden/manifest.json'), 'utf8'));
  return manifestCache;
}

export function readF32(rel: string): Float32Array {
  const b = readFileSync(sharedPath(rel));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * A uvu suite whose tests run only when ../shared exists; otherwise each is registered as skipped
 * with one message naming the suite.
 */
export function sharedSuite(name: string): Test {
  const s = suite(name);
  if (sharedDir()) return s;
  console.log(`skipped: ${name}: ../shared not found at ${dir} (the models and goldens live beside the checkout)`);
  const skipping = ((title: string, fn: any) => s.skip(title, fn)) as unknown as Test;
  Object.assign(skipping, s, { only: s.skip, skip: s.skip, run: s.run, before: s.before, after: s.after });
  return skipping;
}
