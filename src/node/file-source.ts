// A model file on disk as a ByteSource (Node, and Deno/Bun through their node:fs support).

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
