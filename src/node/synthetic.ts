// Synthetic Fairy2i model files with real LLaMA shapes and random codes, for benchmarks: what is
// measured is the cost of reading and applying the weights, which random codes exercise fully.

import { closeSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { encodeModelHeader, type ModelConfig } from '../format.js';
import { floatToHalf } from '../half.js';
import type { TokenizerVocab } from '../tokenizer.js';
import { VERSION } from '../version.js';

export const SHAPES = {
  'tinyllama-1.1b': { dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, ffnDim: 5632, vocabSize: 32000, contextLength: 2048 },
  'llama2-7b': { dim: 4096, nLayers: 32, nHeads: 32, nKvHeads: 32, ffnDim: 11008, vocabSize: 32000, contextLength: 4096 },
} as const;
export type ShapeName = keyof typeof SHAPES;

export function syntheticConfig(shape: ShapeName, stages: number): ModelConfig {
  const s = SHAPES[shape];
  return {
    ...s, name: `synthetic-${shape}`, headDim: s.dim / s.nHeads, rmsEps: 1e-5, ropeTheta: 10000, stages,
    lmHeadQuantized: stages > 0, tieLmHead: false, floatType: 'f16', source: 'random codes (bench)', sourceFormat: 'synthetic', converter: `fairy2i-wasm ${VERSION}`,
  };
}

/** A vocabulary of byte pieces plus placeholders, so text prompts work on synthetic models. */
function syntheticVocab(n: number): TokenizerVocab {
  const tokens = Array.from({ length: n }, (_, i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : i === 2 ? '</s>' : i < 259 ? `<0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>` : `▁w${i}`));
  const types = Int32Array.from(tokens, (_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1));
  return { tokens, scores: new Float32Array(n), types, bosId: 1, eosId: 2, unkId: 0, addBos: true, addEos: false, addSpacePrefix: true, removeExtraWhitespaces: false };
}

/** Writes a model of the given shape with random codes; returns its size in bytes. */
export function writeSyntheticModel(path: string, shape: ShapeName, stages: number): number {
  const c = syntheticConfig(shape, stages);
  const { header, plan, tensors, dataSize } = encodeModelHeader(c, syntheticVocab(c.vocabSize));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    const chunk = new Uint8Array(16 << 20);
    plan.forEach((p, i) => {
      let pos = header.length + tensors[i].offset;
      if (p.role.kind === 'codes') {
        for (let left = p.size; left > 0; ) {
          const n = Math.min(left, chunk.length);
          randomFillSync(chunk, 0, n);
          writeSync(fd, chunk, 0, n, pos);
          pos += n;
          left -= n;
        }
        return;
      }
      // Scales near those of a real 7B layer; norm gains 1; float weights small values. Written in
      // chunks so a 7B embedding never sits in memory whole.
      const count = p.role.kind === 'scales' ? p.size / 4 : p.dims.reduce((a, b) => a * b, 1);
      const value = (k: number) => (p.role.kind === 'scales' ? 0.01 + 0.002 * (k % 4) : p.role.kind === 'norm' ? 1 : ((k * 2654435761) % 1000) / 1e5 - 0.005);
      const step = 1 << 20;
      for (let k0 = 0; k0 < count; k0 += step) {
        const n = Math.min(step, count - k0);
        const f = new Float32Array(n);
        for (let k = 0; k < n; k++) f[k] = value(k0 + k);
        const bytes = p.type === 1 ? new Uint8Array(Uint16Array.from(f, floatToHalf).buffer) : new Uint8Array(f.buffer);
        writeSync(fd, bytes, 0, bytes.length, pos);
        pos += bytes.length;
      }
    });
  } finally {
    closeSync(fd);
  }
  return header.length + dataSize;
}
