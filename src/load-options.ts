// The names and types loadModel accepts, checked before any work: a misspelled option (contextLenght)
// or an unknown value (kvCache: 'f8') must be an error naming it, never silently the default. The
// value ranges that need the file (contextLength, threads) are checked where they are used.

import { OptionError } from './errors.js';

/** ModelLoadOptions, plus the entries' LoadOptions.wasm (Model.load receives the caller's object whole). */
const LOAD_OPTION_NAMES = ['contextLength', 'sequences', 'kvCache', 'threads', 'precision', 'onNotice', 'onProgress', 'signal', 'wasm'];
const KV_CACHE = ['auto', 'f32', 'f16'];

export function checkLoadOptions(opts: unknown): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new OptionError('options', `must be an object of load options, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!LOAD_OPTION_NAMES.includes(k)) throw new OptionError(k, `is not a load option (known: ${LOAD_OPTION_NAMES.join(', ')})`);
  }
  if (o.kvCache !== undefined && !KV_CACHE.includes(o.kvCache as string)) throw new OptionError('kvCache', `is ${JSON.stringify(o.kvCache)}, expected ${KV_CACHE.map((v) => `'${v}'`).join(', ')}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new OptionError('onProgress', 'must be a function');
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && 'aborted' in o.signal)) throw new OptionError('signal', 'must be an AbortSignal');
}
