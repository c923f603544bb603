// Opening the files of a source checkpoint: one that is missing, unreadable, a directory or not a
// regular file (a FIFO would block, /dev/zero never ends) is an 'input' error naming it, not an
// errno from deep inside a reader.

import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import { notRegularFile } from '../node/file-source.js';

/** A read-only fd of the regular file `path`; `what` says what it is for the message. */
export function openInputFile(path: string, what: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Fairy2iError('input', `${path}: cannot open the ${what} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message})`);
  }
  const kind = notRegularFile(fstatSync(fd));
  if (kind) {
    closeSync(fd);
    throw new Fairy2iError('input', `${path}: the ${what} is ${kind}, expected a file`);
  }
  return fd;
}

/** The bytes of the regular file `path`. */
export function readInputFile(path: string, what: string): Buffer {
  const fd = openInputFile(path, what);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
