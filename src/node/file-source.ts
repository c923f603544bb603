// A model file on disk as a ByteSource (Node, and Deno/Bun through their node:fs support).

import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { Fairy2iError } from '../errors.js';
import type { ByteSource } from '../sources.js';

export async function fileSource(path: string): Promise<ByteSource> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Fairy2iError('input', `${path}: cannot open the model file (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`);
  }
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new Fairy2iError('input', `${path}: is a directory, expected a model file (convert a checkpoint directory with 'fairy2i-wasm convert')`);
  }
  const kind = notRegularFile(st);
  if (kind) {
    await fh.close();
    throw new Fairy2iError('input', `${path}: is ${kind}, expected a model file (the loader reads the file's size and seeks in it; save the model to a file first)`);
  }
  let pos = 0;
  return {
    name: path,
    size: st.size,
    read: async (dst) => {
      const { bytesRead } = await fh.read(dst, 0, dst.length, pos);
      pos += bytesRead;
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

/** What a file that is not a regular file is ('a pipe', 'a character device', …), or null for a regular file. */
export function notRegularFile(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isFIFO()) return 'a pipe';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}
