// A Hugging Face LLaMA/Mistral checkpoint directory: config.json, model.safetensors or shards with
// model.safetensors.index.json, and tokenizer.model or tokenizer.json (+ tokenizer_config.json).

import { existsSync } from 'node:fs';
import { readInputFile } from './read-input.js';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Fairy2iError, FormatError, preview } from '../errors.js';
import { checkHyperRanges, type LinearKind } from '../format.js';
import { parseSentencePieceModel } from './sentencepiece-model.js';
import { parseTokenizerJson, readTokenizerConfig } from './tokenizer-json.js';
import type { TokenizerVocab } from '../tokenizer.js';
import type { Checkpoint, Hyper, TensorRole } from './checkpoint.js';
import { SafetensorsFile, type SafeTensor } from './safetensors.js';

/** One safetensors file of a checkpoint: a local SafetensorsFile, or a remote one (src/hub). */
export interface Shard {
  readonly path: string;
  readonly tensors: Map<string, SafeTensor>;
  readF32(name: string): Float32Array;
  /** Fetches a tensor's bytes so the next readF32 of it does not block (remote shards). */
  prefetch?(name: string): Promise<void>;
  close(): void;
}

/** Where the shards come from: by default the files beside config.json. */
export interface ShardSource {
  has(file: string): boolean;
  open(file: string): Shard;
}

const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'];

const HF_LINEAR: Record<LinearKind, string> = {
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};

function readJson(path: string): Record<string, unknown> {
  const text = readInputFile(path, 'JSON file').toString('utf8');
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (e) {
    throw new FormatError(path, '(whole file)', `is not a JSON object (${(e as Error).message})`);
  }
}

export function parseHfConfig(cfg: Record<string, unknown>, file: string, name: string): Hyper {
  const archs = cfg.architectures;
  const arch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : (cfg.model_type as string | undefined);
  if (!arch || !(ARCHITECTURES.includes(arch) || arch === 'llama' || arch === 'mistral')) {
    throw new FormatError(file, 'architectures', `${preview(arch ?? null)} is not supported (expected ${ARCHITECTURES.join(' or ')})`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = cfg[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new FormatError(file, key, 'missing (expected a positive integer)');
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new FormatError(file, key, `is ${preview(v)}, expected a positive integer`);
    return v;
  };
  const real = (key: string, fallback: number): number => {
    const v = cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new FormatError(file, key, `is ${preview(v)}, expected a positive number`);
    return v;
  };
  checkUnsupported(cfg, file);
  const dim = int('hidden_size');
  const nHeads = int('num_attention_heads');
  const nKvHeads = int('num_key_value_heads', nHeads);
  const headDim = int('head_dim', dim / nHeads);
  if (!Number.isInteger(headDim)) throw new FormatError(file, 'hidden_size', `${dim} is not divisible by num_attention_heads ${nHeads}`);
  if (nHeads % nKvHeads) throw new FormatError(file, 'num_key_value_heads', `${nKvHeads} does not divide num_attention_heads ${nHeads}`);
  if (headDim % 2) throw new FormatError(file, 'head_dim', `${headDim} is odd; RoPE needs an even head size`);
  let contextLength = int('max_position_embeddings', 2048);
  // Mistral's sliding window: without it the engine would attend further back than the model was
  // trained to, so the context is capped at the window instead of giving different answers.
  const sw = cfg.sliding_window;
  if (typeof sw === 'number' && sw > 0 && sw < contextLength) contextLength = sw;
  const tie = cfg.tie_word_embeddings;
  if (tie !== undefined && tie !== null && typeof tie !== 'boolean') throw new FormatError(file, 'tie_word_embeddings', `is ${preview(tie)}, expected true or false`);
  const hyper: Hyper = {
    name,
    contextLength,
    dim,
    nLayers: int('num_hidden_layers'),
    ffnDim: int('intermediate_size'),
    nHeads,
    nKvHeads,
    headDim,
    rmsEps: real('rms_norm_eps', 1e-6),
    ropeTheta: real('rope_theta', 10000),
    vocabSize: int('vocab_size'),
    tied: tie === true,
  };
  checkHyperRanges(hyper, file, {
    contextLength: contextLength === sw ? 'sliding_window' : 'max_position_embeddings', dim: 'hidden_size', nLayers: 'num_hidden_layers',
    ffnDim: 'intermediate_size', nHeads: 'num_attention_heads', nKvHeads: 'num_key_value_heads', headDim: 'head_dim', vocabSize: 'vocab_size',
    rmsEps: 'rms_norm_eps', ropeTheta: 'rope_theta',
  });
  return hyper;
}

/**
 * Settings of the LLaMA family this engine does not implement: accepting them would convert into a
 * model that silently computes something else. Each is an 'unsupported' error naming the field.
 */
function checkUnsupported(cfg: Record<string, unknown>, file: string): void {
  const refuse = (field: string, what: string) => {
    throw new Fairy2iError('unsupported', `${file}: ${field}: ${what}`);
  };
  const set = (v: unknown) => v !== undefined && v !== null && v !== false;
  if (set(cfg.rope_scaling)) refuse('rope_scaling', `${preview(cfg.rope_scaling)} is not supported (plain RoPE only)`);
  if (set(cfg.attention_bias)) refuse('attention_bias', `is ${preview(cfg.attention_bias)}; attention projections with a bias are not supported`);
  if (set(cfg.mlp_bias)) refuse('mlp_bias', `is ${preview(cfg.mlp_bias)}; MLP projections with a bias are not supported`);
  for (const key of ['hidden_act', 'hidden_activation']) {
    const act = cfg[key];
    if (act !== undefined && act !== null && act !== 'silu') refuse(key, `is ${preview(act)}; only "silu" (SwiGLU, LLaMA's) is supported`);
  }
  if (set(cfg.quantization_config)) refuse('quantization_config', 'is set: this is an already-quantized checkpoint; convert the original float weights');
}

export function openHfCheckpoint(dir: string, shards: ShardSource = localShards(dir)): Checkpoint {
  const configPath = join(dir, 'config.json');
  const hyper = parseHfConfig(readJson(configPath), configPath, basename(resolve(dir)));

  // Shards: the index maps every tensor to a file; all named files must exist.
  const files = new Map<string, Shard>();
  const where = new Map<string, Shard>();
  const open = (file: string) => {
    let f = files.get(file);
    if (!f) {
      if (!shards.has(file)) throw new Fairy2iError('input', `${join(dir, file)}: shard named in ${join(dir, 'model.safetensors.index.json')} is missing`);
      f = shards.open(file);
      files.set(file, f);
    }
    return f;
  };
  try {
    const indexPath = join(dir, 'model.safetensors.index.json');
    if (existsSync(indexPath)) {
      const map = readJson(indexPath).weight_map;
      if (typeof map !== 'object' || map === null) throw new FormatError(indexPath, 'weight_map', 'missing or not an object');
      for (const [t, file] of Object.entries(map as Record<string, unknown>)) {
        if (typeof file !== 'string') throw new FormatError(indexPath, `weight_map.${t}`, 'is not a file name');
        // A shard is a file of the checkpoint folder: a name reaching outside it is not read.
        if (!isInside(dir, file)) throw new FormatError(indexPath, `weight_map.${t}`, `names ${preview(file)}, which is outside the checkpoint folder; shard names must be files of ${dir}`);
        where.set(t, open(file));
      }
    } else if (shards.has('model.safetensors')) {
      const f = open('model.safetensors');
      for (const t of f.tensors.keys()) where.set(t, f);
    } else {
      throw new Fairy2iError('input', `${dir}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are read)`);
    }
  } catch (e) {
    for (const f of files.values()) f.close();
    throw e;
  }

  for (const t of where.keys()) {
    if (t.endsWith('.bias')) {
      for (const f of files.values()) f.close();
      throw new Fairy2iError('unsupported', `${where.get(t)!.path}: ${t}: bias tensors are not supported (LLaMA's linears and norms have none); this checkpoint would convert into a model that computes something else`);
    }
  }

  const tensorName = (role: TensorRole): string => {
    if (role.kind === 'embedding') return 'model.embed_tokens.weight';
    if (role.kind === 'norm') {
      if (role.which === 'output_norm') return 'model.norm.weight';
      return `model.layers.${role.layer}.${role.which === 'attn_norm' ? 'input_layernorm' : 'post_attention_layernorm'}.weight`;
    }
    if (role.linear === 'output') return hyper.tied ? 'model.embed_tokens.weight' : 'lm_head.weight';
    return `model.layers.${role.layer}.${HF_LINEAR[role.linear]}.weight`;
  };
  const expectedShape = (role: TensorRole): number[] => {
    const h = hyper, q = h.nHeads * h.headDim, kv = h.nKvHeads * h.headDim;
    if (role.kind === 'embedding') return [h.vocabSize, h.dim];
    if (role.kind === 'norm') return [h.dim];
    const shapes: Record<LinearKind | 'output', number[]> = {
      attn_q: [q, h.dim], attn_k: [kv, h.dim], attn_v: [kv, h.dim], attn_output: [h.dim, q],
      ffn_gate: [h.ffnDim, h.dim], ffn_up: [h.ffnDim, h.dim], ffn_down: [h.dim, h.ffnDim], output: [h.vocabSize, h.dim],
    };
    return shapes[role.linear];
  };
  const roles = (): TensorRole[] => {
    const r: TensorRole[] = [{ kind: 'embedding' }];
    for (let l = 0; l < hyper.nLayers; l++) {
      r.push({ kind: 'norm', layer: l, which: 'attn_norm' }, { kind: 'norm', layer: l, which: 'ffn_norm' });
      for (const k of Object.keys(HF_LINEAR) as LinearKind[]) r.push({ kind: 'linear', layer: l, linear: k });
    }
    r.push({ kind: 'norm', layer: null, which: 'output_norm' }, { kind: 'linear', layer: null, linear: 'output' });
    return r;
  };
  const locate = (role: TensorRole) => {
    const name = tensorName(role);
    const f = where.get(name);
    const t = f?.tensors.get(name);
    if (!f || !t) {
      const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : '';
      throw new FormatError(join(dir, f ? basename(f.path) : 'model.safetensors'), name, `tensor missing${hint}`);
    }
    const exp = expectedShape(role);
    if (t.shape.length !== exp.length || t.shape.some((d, i) => d !== exp[i])) {
      throw new FormatError(f.path, name, `has shape ${JSON.stringify(t.shape)}, config.json implies ${JSON.stringify(exp)}`);
    }
    return { f, name, bytes: t.end - t.begin };
  };

  let totalBytes = 0;
  for (const role of roles()) totalBytes += locate(role).bytes;

  const inputs = [configPath, ...[...files.values()].map((f) => f.path)];
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) inputs.push(indexPath);
  return {
    format: 'hf-safetensors',
    hyper,
    vocab: readHfTokenizer(dir, inputs),
    inputs,
    totalBytes,
    linearDtype: (({ f, name }) => f.tensors.get(name)!.dtype)(locate({ kind: 'linear', layer: 0, linear: 'attn_q' })),
    validate: () => { for (const role of roles()) locate(role); },
    read: (role) => {
      const { f, name } = locate(role);
      return f.readF32(name);
    },
    prefetch: async (role) => {
      const { f, name } = locate(role);
      await f.prefetch?.(name);
    },
    close: () => { for (const f of files.values()) f.close(); },
  };
}

function isInside(dir: string, name: string): boolean {
  const rel = relative(resolve(dir), resolve(dir, name));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function localShards(dir: string): ShardSource {
  return { has: (file) => existsSync(join(dir, file)), open: (file) => new SafetensorsFile(join(dir, file)) };
}

/** The tokenizer files of `dir` (their paths are added to `inputs`). */
function readHfTokenizer(dir: string, inputs: string[]): TokenizerVocab | null {
  const cfgPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(cfgPath) ? readTokenizerConfig(readJson(cfgPath), cfgPath) : undefined;
  if (config) inputs.push(cfgPath);
  const spPath = join(dir, 'tokenizer.model');
  const jsonPath = join(dir, 'tokenizer.json');
  for (const p of [spPath, jsonPath]) if (existsSync(p)) inputs.push(p);
  if (existsSync(spPath)) return parseSentencePieceModel(new Uint8Array(readInputFile(spPath, 'SentencePiece model')), { file: spPath, config });
  if (existsSync(jsonPath)) return parseTokenizerJson(readJson(jsonPath), { file: jsonPath, config });
  return null;
}
