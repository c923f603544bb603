// Reads just the header of a model file (no tensor data), growing the prefix until it parses.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import { readModelHeader, type ModelHeader } from '../format.js';
import { NeedMoreBytes } from '../gguf.js';
import { notRegularFile } from './file-source.js';

export function readModelHeaderFromFile(path: string): ModelHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Fairy2iError('input', `${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    const kind = notRegularFile(st);
    if (kind) throw new Fairy2iError('input', `${path}: is ${kind}, expected a model file`);
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
