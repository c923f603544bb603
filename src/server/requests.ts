// Strict parsing of the request bodies of /v1/chat/completions, /v1/completions, /tokenize and
// /detokenize into what the engine takes. Every field is checked for its type and range and a bad
// one is a 400 naming it; unknown fields are refused too (a misspelled `temprature` must not
// silently sample at the default). `null` means "not given", as in OpenAI's API.

import type { ChatMessage } from '../chat.js';
import type { SamplingOptions } from '../sampler.js';
import { badField } from './api-error.js';
import { describeJson } from '../errors.js';

/** What both completion routes share, in the engine's terms. */
export interface GenerationParams {
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage. */
  includeUsage: boolean;
  /** undefined: until EOS or the end of the context. */
  maxTokens?: number;
  stop: string[];
  sampling: SamplingOptions;
  /** Alternatives per token to report (0: only the chosen token's); null: no logprobs. */
  logprobs: number | null;
  /** llama.cpp's ignore_eos: generate past the end-of-sequence token. */
  ignoreEos: boolean;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationParams {
  /** Text, or token ids used as given. */
  prompt: string | number[];
  echo: boolean;
}

type Body = Record<string, unknown>;
type Rule = { kind: 'number' | 'int'; min?: number; max?: number };

/** The sampling fields, OpenAI's ranges, and the llama.cpp extensions people rely on. */
const SAMPLING: Record<string, Rule & { option: keyof SamplingOptions }> = {
  temperature: { kind: 'number', min: 0, max: 2, option: 'temperature' },
  top_p: { kind: 'number', min: 0, max: 1, option: 'topP' },
  presence_penalty: { kind: 'number', min: -2, max: 2, option: 'presencePenalty' },
  frequency_penalty: { kind: 'number', min: -2, max: 2, option: 'frequencyPenalty' },
  seed: { kind: 'int', min: -(2 ** 53 - 1), max: 2 ** 53 - 1, option: 'seed' },
  top_k: { kind: 'int', min: 0, option: 'topK' },
  min_p: { kind: 'number', min: 0, max: 1, option: 'minP' },
  repeat_penalty: { kind: 'number', min: 0, option: 'repetitionPenalty' },
  repeat_last_n: { kind: 'int', min: 0, option: 'penaltyWindow' },
};

/** Accepted and without effect here (bookkeeping fields OpenAI's clients may send). */
const IGNORED = ['model', 'user', 'metadata', 'store', 'service_tier'];

/** Known OpenAI features this server does not have: refused by name rather than ignored. */
const UNSUPPORTED = ['tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls', 'audio', 'modalities', 'prediction', 'web_search_options', 'reasoning_effort', 'suffix'];

const COMMON = ['stream', 'stream_options', 'max_tokens', 'stop', 'n', 'logit_bias', 'ignore_eos', ...Object.keys(SAMPLING), ...IGNORED];
const CHAT_FIELDS = new Set([...COMMON, 'messages', 'max_completion_tokens', 'logprobs', 'top_logprobs', 'response_format']);
const COMPLETION_FIELDS = new Set([...COMMON, 'prompt', 'echo', 'logprobs', 'best_of']);

function checkKnown(body: Body, known: Set<string>, route: string): void {
  for (const k of Object.keys(body)) {
    if (known.has(k)) continue;
    if (UNSUPPORTED.includes(k) && body[k] !== null) throw badField(k, `is not supported by this server`, 'unsupported_parameter');
    if (!UNSUPPORTED.includes(k)) throw badField(k, `is not a field of ${route}`, 'unknown_parameter');
  }
}

const given = (v: unknown) => v !== undefined && v !== null;

function num(body: Body, name: string, rule: Rule): number | undefined {
  const v = body[name];
  if (!given(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badField(name, `must be a number, got ${describeJson(v)}`, 'invalid_type');
  if (rule.kind === 'int' && !Number.isInteger(v)) throw badField(name, `must be an integer, got ${v}`, 'invalid_type');
  if (rule.min !== undefined && v < rule.min) throw badField(name, `must be >= ${rule.min}, got ${v}`);
  if (rule.max !== undefined && v > rule.max) throw badField(name, `must be <= ${rule.max}, got ${v}`);
  return v;
}

function bool(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (!given(v)) return undefined;
  if (typeof v !== 'boolean') throw badField(name, `must be true or false, got ${describeJson(v)}`, 'invalid_type');
  return v;
}


function parseCommon(body: Body): GenerationParams {
  const stream = bool(body, 'stream') ?? false;
  let includeUsage = false;
  const so = body.stream_options;
  if (given(so)) {
    if (typeof so !== 'object' || Array.isArray(so)) throw badField('stream_options', `must be an object, got ${describeJson(so)}`, 'invalid_type');
    for (const k of Object.keys(so as Body)) if (k !== 'include_usage') throw badField(`stream_options.${k}`, 'is not a field of stream_options', 'unknown_parameter');
    includeUsage = bool(so as Body, 'include_usage') ?? false;
    if (!stream) throw badField('stream_options', 'is only allowed with stream: true');
  }
  const n = num(body, 'n', { kind: 'int', min: 1 });
  if (n !== undefined && n !== 1) throw badField('n', `must be 1 (this server returns one choice per request), got ${n}`, 'unsupported_value');
  const lb = body.logit_bias;
  if (given(lb)) {
    if (typeof lb !== 'object' || Array.isArray(lb)) throw badField('logit_bias', `must be an object, got ${describeJson(lb)}`, 'invalid_type');
    if (Object.keys(lb as Body).length) throw badField('logit_bias', 'is not supported by this server (only {} is accepted)', 'unsupported_parameter');
  }
  const sampling: SamplingOptions = {};
  for (const [name, rule] of Object.entries(SAMPLING)) {
    const v = num(body, name, rule);
    if (v !== undefined) sampling[rule.option] = v;
  }
  for (const name of IGNORED) {
    const v = body[name];
    if (name === 'model' || name === 'user') { if (given(v) && typeof v !== 'string') throw badField(name, `must be a string, got ${describeJson(v)}`, 'invalid_type'); }
    else if (name === 'metadata' && given(v) && (typeof v !== 'object' || Array.isArray(v))) throw badField(name, `must be an object, got ${describeJson(v)}`, 'invalid_type');
  }
  return { stream, includeUsage, maxTokens: num(body, 'max_tokens', { kind: 'int', min: 0 }), stop: parseStop(body.stop), sampling, logprobs: null, ignoreEos: bool(body, 'ignore_eos') ?? false };
}

function parseStop(v: unknown): string[] {
  if (!given(v)) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) throw badField('stop', `must be a string or an array of strings, got ${describeJson(v)}`, 'invalid_type');
  if (list.length > 16) throw badField('stop', `has ${list.length} strings, at most 16 are allowed`);
  return (list as string[]).filter((s) => s !== '');
}

export function parseChatRequest(body: Body): ChatRequest {
  checkKnown(body, CHAT_FIELDS, '/v1/chat/completions');
  const p = parseCommon(body);
  const mct = num(body, 'max_completion_tokens', { kind: 'int', min: 0 });
  if (mct !== undefined) p.maxTokens = p.maxTokens === undefined ? mct : Math.min(p.maxTokens, mct);
  const lp = bool(body, 'logprobs') ?? false;
  const top = num(body, 'top_logprobs', { kind: 'int', min: 0, max: 20 });
  if (top !== undefined && !lp) throw badField('top_logprobs', 'needs logprobs: true');
  p.logprobs = lp ? (top ?? 0) : null;
  const rf = body.response_format;
  if (given(rf)) {
    if (typeof rf !== 'object' || Array.isArray(rf)) throw badField('response_format', `must be an object, got ${describeJson(rf)}`, 'invalid_type');
    if ((rf as Body).type !== 'text') throw badField('response_format', `only { type: 'text' } is supported, got type ${describeJson((rf as Body).type)}`, 'unsupported_value');
  }
  return { ...p, messages: parseMessages(body.messages) };
}

const ROLES: Record<string, ChatMessage['role']> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v)) throw badField('messages', v === undefined ? 'is required' : `must be an array, got ${describeJson(v)}`, v === undefined ? 'missing_required_parameter' : 'invalid_type');
  if (v.length === 0) throw badField('messages', 'must hold at least one message');
  return v.map((m, i) => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badField(at, `must be an object, got ${describeJson(m)}`, 'invalid_type');
    const { role, content, name, ...rest } = m as Body;
    const extra = Object.keys(rest);
    if (extra.length) throw badField(`${at}.${extra[0]}`, extra[0] === 'tool_calls' ? 'is not supported by this server' : 'is not a field of a message', 'unknown_parameter');
    if (typeof role !== 'string' || !Object.hasOwn(ROLES, role)) throw badField(`${at}.role`, `must be 'system', 'developer', 'user' or 'assistant', got ${describeJson(role)}`);
    if (given(name) && typeof name !== 'string') throw badField(`${at}.name`, `must be a string, got ${describeJson(name)}`, 'invalid_type');
    return { role: ROLES[role], content: parseContent(content, `${at}.content`) };
  });
}

/** A string, or text parts (`[{ type: 'text', text }]`) joined. */
function parseContent(v: unknown, at: string): string {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) throw badField(at, `must be a string or an array of text parts, got ${describeJson(v)}`, 'invalid_type');
  return v.map((part, j) => {
    const p = part as Body;
    if (typeof part !== 'object' || part === null || Array.isArray(part)) throw badField(`${at}[${j}]`, `must be an object, got ${describeJson(part)}`, 'invalid_type');
    if (p.type !== 'text') throw badField(`${at}[${j}].type`, `only 'text' parts are supported, got ${describeJson(p.type)}`, 'unsupported_value');
    if (typeof p.text !== 'string') throw badField(`${at}[${j}].text`, `must be a string, got ${describeJson(p.text)}`, 'invalid_type');
    return p.text;
  }).join('');
}

export function parseCompletionRequest(body: Body, vocabSize: number): CompletionRequest {
  checkKnown(body, COMPLETION_FIELDS, '/v1/completions');
  const p = parseCommon(body);
  p.logprobs = num(body, 'logprobs', { kind: 'int', min: 0, max: 20 }) ?? null;
  const bestOf = num(body, 'best_of', { kind: 'int', min: 1 });
  if (bestOf !== undefined && bestOf !== 1) throw badField('best_of', `must be 1, got ${bestOf}`, 'unsupported_value');
  const echo = bool(body, 'echo') ?? false;
  if (echo && p.logprobs !== null) throw badField('echo', 'cannot be combined with logprobs on this server (prompt logprobs are not computed)', 'unsupported_value');
  return { ...p, echo, prompt: parsePrompt(body.prompt, vocabSize) };
}

/** A string or token ids; a one-element array of either (what clients send for a single prompt). */
function parsePrompt(v: unknown, vocabSize: number): string | number[] {
  if (v === undefined || v === null) throw badField('prompt', 'is required', 'missing_required_parameter');
  if (Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || Array.isArray(v[0]))) v = v[0];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((t) => typeof t === 'number')) return tokenIds(v, 'prompt', vocabSize);
  if (Array.isArray(v) && v.length > 1 && v.every((t) => typeof t === 'string' || Array.isArray(t))) throw badField('prompt', 'holds several prompts; this server takes one per request', 'unsupported_value');
  throw badField('prompt', `must be a string or an array of token ids, got ${describeJson(v)}`, 'invalid_type');
}

function tokenIds(v: unknown, name: string, vocabSize: number): number[] {
  if (!Array.isArray(v)) throw badField(name, `must be an array of token ids, got ${describeJson(v)}`, 'invalid_type');
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= vocabSize) throw badField(`${name}[${i}]`, `must be a token id in [0, ${vocabSize}), got ${describeJson(t)}`);
  }
  return v as number[];
}

/** llama-server's /tokenize: { content, add_special?, with_pieces? }. */
export function parseTokenizeRequest(body: Body): { content: string; addSpecial: boolean; withPieces: boolean } {
  checkKnown(body, new Set(['content', 'add_special', 'with_pieces']), '/tokenize');
  if (typeof body.content !== 'string') throw badField('content', body.content === undefined ? 'is required' : `must be a string, got ${describeJson(body.content)}`, 'invalid_type');
  return { content: body.content, addSpecial: bool(body, 'add_special') ?? false, withPieces: bool(body, 'with_pieces') ?? false };
}

/** llama-server's /detokenize: { tokens }. */
export function parseDetokenizeRequest(body: Body, vocabSize: number): number[] {
  checkKnown(body, new Set(['tokens']), '/detokenize');
  if (body.tokens === undefined) throw badField('tokens', 'is required', 'missing_required_parameter');
  return tokenIds(body.tokens, 'tokens', vocabSize);
}
