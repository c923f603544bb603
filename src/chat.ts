// Chat sessions: messages rendered with the file's `tokenizer.chat_template` (@huggingface/jinja),
// else LLaMA-2's [INST] format for chat models, else a plain transcript for base models (Fairy2i-W2
// is a base model). Each turn renders the whole conversation; the KV cache already holds its common
// prefix, so earlier turns are not evaluated again.

import { Template } from '@huggingface/jinja';
import { Fairy2iError, OptionError } from './errors.js';
import { generateTokens, type GenerateOptions, type GenerateResult, type GenerationStream } from './generate.js';
import type { Model } from './model.js';
import { TokenType, type Tokenizer } from './tokenizer.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type ChatFormat = 'template' | 'llama2' | 'plain';

export interface ChatOptions {
  /** A system prompt kept at the start of the conversation (and across context shifts). */
  system?: string;
  /** How turns are written; by default the file's template, else llama2 for chat models, else plain. */
  format?: ChatFormat;
}

const PLAIN_STOPS = ['\nUser:', '\nuser:'];

export function chooseFormat(model: Model, tokenizer: Tokenizer): ChatFormat {
  if (tokenizer.vocab.chatTemplate) return 'template';
  return /chat|instruct/i.test(model.config.name) ? 'llama2' : 'plain';
}

/** Renders messages as the prompt text, ending where the assistant's reply begins. */
export function renderChat(format: ChatFormat, messages: ChatMessage[], tokenizer: Tokenizer): string {
  const bos = tokenizer.bosId >= 0 ? tokenizer.piece(tokenizer.bosId) : '';
  const eos = tokenizer.eosId >= 0 ? tokenizer.piece(tokenizer.eosId) : '';
  if (format === 'template') {
    const t = new Template(tokenizer.vocab.chatTemplate!);
    return t.render({ messages, bos_token: bos, eos_token: eos, add_generation_prompt: true });
  }
  if (format === 'llama2') {
    let sys = '';
    let out = '';
    for (const m of messages) {
      if (m.role === 'system') sys = `<<SYS>>\n${m.content}\n<</SYS>>\n\n`;
      else if (m.role === 'user') { out += `${bos}[INST] ${sys}${m.content.trim()} [/INST]`; sys = ''; }
      else out += ` ${m.content.trim()} ${eos}`;
    }
    return out;
  }
  let out = bos;
  for (const m of messages) {
    if (m.role === 'system') out += `${m.content}\n\n`;
    else if (m.role === 'user') out += `User: ${m.content}\nAssistant:`;
    else out += ` ${m.content.trim()}\n`;
  }
  return out;
}

/** Encodes text in which control pieces (e.g. "<s>", "</s>") written literally stand for their ids. */
export function encodeWithControls(tokenizer: Tokenizer, text: string): number[] {
  const controls: [string, number][] = [];
  tokenizer.vocab.types.forEach((t, id) => { if (t === TokenType.CONTROL) controls.push([tokenizer.piece(id), id]); });
  controls.sort((a, b) => b[0].length - a[0].length);
  const ids: number[] = [];
  let rest = text;
  while (rest.length) {
    let at = -1, hit: [string, number] | null = null;
    for (const c of controls) {
      const i = rest.indexOf(c[0]);
      if (i >= 0 && (at < 0 || i < at)) { at = i; hit = c; }
    }
    const plain = at < 0 ? rest : rest.slice(0, at);
    if (plain) ids.push(...tokenizer.encode(plain, { addBos: false, addEos: false }));
    if (!hit) break;
    ids.push(hit[1]);
    rest = rest.slice(at + hit[0].length);
  }
  return ids;
}

export class ChatSession {
  readonly messages: ChatMessage[] = [];
  readonly format: ChatFormat;
  private busy = false;

  constructor(private model: Model, private tokenizer: Tokenizer, opts: ChatOptions = {}) {
    this.format = opts.format ?? chooseFormat(model, tokenizer);
    if (this.format === 'template' && !tokenizer.vocab.chatTemplate) throw new OptionError('format', "is 'template' but the model file has no tokenizer.chat_template");
    if (opts.system) this.messages.push({ role: 'system', content: opts.system });
  }

  /** Replaces the system prompt (the next turn re-evaluates from there). */
  setSystem(text: string): void {
    const i = this.messages.findIndex((m) => m.role === 'system');
    if (i >= 0) this.messages.splice(i, 1);
    if (text) this.messages.unshift({ role: 'system', content: text });
  }

  /** Forgets the conversation (keeps the system prompt). */
  reset(): void {
    const sys = this.messages.find((m) => m.role === 'system');
    this.messages.length = 0;
    if (sys) this.messages.push(sys);
  }

  /** Sends a user message; the stream yields the reply, which joins the history when it ends. */
  send(content: string, opts: GenerateOptions = {}): GenerationStream {
    if (this.busy) throw new Fairy2iError('state', 'a reply is still being generated in this session');
    const pending: ChatMessage[] = [...this.messages, { role: 'user', content }];
    const prompt = encodeWithControls(this.tokenizer, renderChat(this.format, pending, this.tokenizer));
    const sys = this.messages.find((m) => m.role === 'system');
    const keepTokens = sys ? encodeWithControls(this.tokenizer, renderChat(this.format, [sys], this.tokenizer)).length : 1;
    const stop = [...(opts.stop ?? []), ...(this.format === 'plain' ? PLAIN_STOPS : [])];
    this.busy = true;
    const stream = generateTokens(this.model, this.tokenizer, prompt, { keepTokens, ...opts, stop });
    stream.result.then(
      (r: GenerateResult) => {
        this.busy = false;
        this.messages.push({ role: 'user', content }, { role: 'assistant', content: r.text.trim() });
      },
      () => { this.busy = false; },
    );
    return stream;
  }
}
