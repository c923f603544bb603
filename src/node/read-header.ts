// Reads just the header of a model file (no tensor data), growing the prefix until it parses.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import { readModelHeader, type ModelHeader } from '../format.js';
import { NeedMoreBytes } from '../gguf.js';

export function readModelHeaderFromFile(path: string): ModelHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Fairy2iError('input', `${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Fairy2iError('input', `${path}: is a directory, expected a model file (convert a checkpoint directory with 'fairy2i-wasm convert')`);
    const size = st.size;
    let want = Math.min(size, 1 << 20);
    for (;;) {
      const buf = new Uint8Array(want);
      readSync(fd, buf, 0, want, 0);
      try {
        return readModelHeader(buf, path, size);
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        want = Math.min(size, Math.max(e.needed, want * 2));
      }
    }
  } finally {
    closeSync(fd);
  }
}
