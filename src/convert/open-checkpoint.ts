// Picks the reader for a source checkpoint by what the path holds.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Fairy2iError } from '../errors.js';
import type { Checkpoint } from './checkpoint.js';
import { openHfCheckpoint } from './checkpoint-hf.js';
import { openLlama2cCheckpoint } from './checkpoint-llama2c.js';

export function openCheckpoint(input: string, opts: { tokenizer?: string } = {}): Checkpoint {
  if (!existsSync(input)) throw new Fairy2iError('input', `${input}: no such file or directory`);
  const st = statSync(input);
  if (st.isDirectory()) {
    if (existsSync(join(input, 'config.json'))) return openHfCheckpoint(input);
    if (existsSync(join(input, 'model.bin'))) return openLlama2cCheckpoint(join(input, 'model.bin'), opts.tokenizer);
    throw new Fairy2iError('input', `${input}: not a checkpoint directory (expected config.json with *.safetensors, or a llama2.c model.bin)`);
  }
  if (input.endsWith('.bin')) return openLlama2cCheckpoint(input, opts.tokenizer);
  throw new Fairy2iError('input', `${input}: not a checkpoint (expected a Hugging Face directory or a llama2.c .bin file)`);
}
