import { statSync } from 'node:fs';
import { bitsPerWeight, isPlaceholderVocab, type ModelHeader } from '../format.js';
import { tensorTypeName } from '../gguf.js';
import { readModelHeaderFromFile } from '../node/read-header.js';
import type { CommandSpec, Parsed } from './args.js';
import { localModelPath, modelFlags } from './common.js';
import { pickBuild, type WasmBuild } from '../wasm.js';

export const infoSpec: CommandSpec = {
  name: 'info',
  summary: 'Describe a Fairy2i model file: architecture, sizes, stages, bits per weight, tokenizer.',
  usage: 'fairy2i-wasm info <file> [--tensors] [--wasm auto|relaxed|simd128] [--json]',
  positionals: [{ name: 'file', required: true, help: 'a Fairy2i model file, or hf:OWNER/REPO[@REV][/FILE]' }],
  flags: {
    tensors: { type: 'bool', help: 'list every tensor' },
    json: { type: 'bool', help: 'print one JSON object' },
    wasm: modelFlags.wasm,
  },
};

export function describeModel(path: string, h: ModelHeader, withTensors: boolean) {
  const c = h.config;
  const types = h.vocab.types;
  let params = 0;
  for (const t of h.tensors.values()) params += t.dims.reduce((a, b) => a * b, 1);
  return {
    file: path,
    fileSize: statSync(path).size,
    architecture: 'fairy2i (LLaMA)',
    name: c.name,
    source: c.source,
    sourceFormat: c.sourceFormat,
    converter: c.converter,
    contextLength: c.contextLength,
    dim: c.dim,
    layers: c.nLayers,
    ffnDim: c.ffnDim,
    heads: c.nHeads,
    kvHeads: c.nKvHeads,
    headDim: c.headDim,
    rmsEps: c.rmsEps,
    ropeTheta: c.ropeTheta,
    vocabSize: c.vocabSize,
    stages: c.stages,
    quantization: c.stages ? `Fairy2i V${c.stages} (PhaseQuant {±1,±i}, ${c.stages} residual stage${c.stages > 1 ? 's' : ''})` : `float (${c.floatType})`,
    quantArithmetic: c.stages ? c.arithmetic ?? 'f32' : null,
    lmHeadQuantized: c.lmHeadQuantized,
    tiedLmHead: c.tieLmHead,
    floatType: c.floatType,
    linearBitsPerWeight: Number(bitsPerWeight(h).toFixed(4)),
    tokenizer: {
      model: 'llama (SentencePiece BPE)',
      pieces: h.vocab.tokens.length,
      byteFallback: Array.from(types).some((t) => t === 6),
      bos: h.vocab.bosId,
      eos: h.vocab.eosId,
      addBos: h.vocab.addBos,
      chatTemplate: !!h.vocab.chatTemplate,
      usable: !isPlaceholderVocab(h.vocab),
    },
    tensorCount: h.tensors.size,
    ...(withTensors ? { tensors: [...h.tensors.values()].map((t) => ({ name: t.name, type: tensorTypeName(t.type), dims: t.dims, offset: h.dataOffset + t.offset, bytes: t.size })) } : {}),
  };
}

export async function runInfo(a: Parsed): Promise<void> {
  const path = await localModelPath(a.positionals[0], !!a.flags.json);
  // The engine build loadModel would run here with this --wasm (it is chosen by the runtime, not the file).
  const d = { ...describeModel(path, readModelHeaderFromFile(path), !!a.flags.tensors), wasm: pickBuild(a.flags.wasm as WasmBuild | 'auto')! };
  if (a.flags.json) {
    process.stdout.write(JSON.stringify(d) + '\n');
    return;
  }
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [
    `${d.file}: ${mb(d.fileSize)}`,
    `  model        ${d.name || '(unnamed)'} — ${d.architecture}, from ${d.source} (${d.sourceFormat}) by ${d.converter}`,
    `  shape        dim ${d.dim}, ${d.layers} layers, ffn ${d.ffnDim}, heads ${d.heads} (kv ${d.kvHeads}, head_dim ${d.headDim}), vocab ${d.vocabSize}, context ${d.contextLength}`,
    `  norm/rope    rms_eps ${d.rmsEps}, rope_theta ${d.ropeTheta}`,
    `  weights      ${d.quantization}${d.quantArithmetic ? `, ${d.quantArithmetic} arithmetic` : ''}; lm_head ${d.lmHeadQuantized ? 'quantized' : d.tiedLmHead ? 'tied to the embedding (float)' : 'float'}; ${d.linearBitsPerWeight} bits per linear weight; floats ${d.floatType}`,
    `  tokenizer    ${d.tokenizer.usable ? `${d.tokenizer.model}, ${d.tokenizer.pieces} pieces${d.tokenizer.byteFallback ? ', byte fallback' : ''}, bos ${d.tokenizer.bos}, eos ${d.tokenizer.eos}, add_bos ${d.tokenizer.addBos}${d.tokenizer.chatTemplate ? ', chat template' : ''}` : 'none (token ids only)'}`,
    `  tensors      ${d.tensorCount}`,
    `  engine       ${d.wasm} build (${d.wasm === 'relaxed' ? 'relaxed SIMD' : 'SIMD128: this runtime has no relaxed SIMD or --wasm simd128'}) of this package would run it`,
  ];
  if (d.tensors) for (const t of d.tensors) lines.push(`    ${t.name.padEnd(32)} ${t.type.padEnd(4)} ${JSON.stringify(t.dims).padEnd(16)} ${String(t.bytes).padStart(12)} B @ ${t.offset}`);
  process.stdout.write(lines.join('\n') + '\n');
}
