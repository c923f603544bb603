// Chat sessions: messages rendered with the file's `tokenizer.chat_template` (@huggingface/jinja),
// else LLaMA-2's [INST] format for chat models, else a plain transcript for base models (Fairy2i-W2
// is a base model). Each turn renders the whole conversation; the session's sequence already holds
// its common prefix, so earlier turns are not evaluated again. A conversation that outgrows the
// context loses its oldest turns (the system prompt stays). Runs on the SequenceRunner interface
// (sequence.ts), not on the Model.

import { renderChatTemplate } from './chat-template.js';
import { Fairy2iError, OptionError } from './errors.js';
import { checkGenerateOptions, generateTokens, type Commit, type GenerateOptions, type GenerationStream } from './generate.js';
import type { Sequence, SequenceRunner } from './sequence.js';
import { Tokenizer as Tok, TokenType, type Tokenizer, type TokenizerVocab } from './tokenizer.js';

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
  /** The sequence (KV cache) its turns run on, from model.sequence(). @default as generate() picks, per turn */
  sequence?: Sequence;
  /** Receives a one-line notice, once, when the conversation outgrows the context and its oldest turns are dropped. @default none */
  onNotice?: (message: string) => void;
}

/** Stops a plain-transcript reply where the model starts writing the user's next turn. */
export const PLAIN_STOPS = ['\nUser:', '\nuser:'];
/** ChatOptions' names: a misspelled one (`sistem`) is an error, not a conversation without its system prompt. */
const CHAT_OPTION_NAMES = ['system', 'format', 'sequence', 'onNotice'];

/** The default format for a model named `modelName` with this tokenizer. */
export function chooseFormat(modelName: string, tokenizer: Tokenizer): ChatFormat {
  if (tokenizer.vocab.chatTemplate) return 'template';
  return /chat|instruct/i.test(modelName) ? 'llama2' : 'plain';
}

/** Tokens a turn needs at least besides the system prompt (its message and the start of a reply). */
const MIN_TURN_TOKENS = 64;

/** Renders messages as the prompt text, ending where the assistant's reply begins. */
export function renderChat(format: ChatFormat, messages: ChatMessage[], tokenizer: Tokenizer): string {
  const bos = tokenizer.bosId >= 0 ? tokenizer.piece(tokenizer.bosId) : '';
  const eos = tokenizer.eosId >= 0 ? tokenizer.piece(tokenizer.eosId) : '';
  if (format === 'template') {
    return renderChatTemplate(tokenizer.vocab.chatTemplate!, { messages, bos_token: bos, eos_token: eos, add_generation_prompt: true }, 'the model file');
  }
  if (format === 'llama2') {
    let sys = '';
    let out = '';
    for (const m of messages) {
      if (m.role === 'system') sys = `<<SYS>>\n${m.content}\n<</SYS>>\n\n`;
      else if (m.role === 'user') { out += `${bos}[INST] ${sys}${m.content.trim()} [/INST]`; sys = ''; }
      else out += `${m.content} ${eos}`;
    }
    return out;
  }
  let out = bos;
  for (const m of messages) {
    if (m.role === 'system') out += `${m.content}\n\n`;
    else if (m.role === 'user') out += `User: ${m.content}\nAssistant:`;
    else out += `${m.content}\n`;
  }
  return out;
}

/** Encodes text in which control pieces (e.g. "<s>", "</s>") written literally stand for their ids. */
export function encodeWithControls(tokenizer: Tokenizer, text: string): number[] {
  const controls = controlPieces(tokenizer.vocab);
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

/** Control pieces, longest first, per vocabulary (a 32000-entry scan is not redone every turn). */
const controlsOf = new WeakMap<TokenizerVocab, [string, number][]>();
function controlPieces(vocab: TokenizerVocab): [string, number][] {
  let c = controlsOf.get(vocab);
  if (!c) {
    c = [];
    vocab.types.forEach((t, id) => { if (t === TokenType.CONTROL) c!.push([vocab.tokens[id], id]); });
    c.sort((a, b) => b[0].length - a[0].length);
    controlsOf.set(vocab, c);
  }
  return c;
}

export class ChatSession {
  readonly format: ChatFormat;
  /** The conversation as rendered: assistant turns hold the reply exactly as generated. */
  private history: ChatMessage[] = [];
  /** Tokens of the conversation so far and the text they stand for (a prefix of the next render). */
  private tokens: number[] = [];
  private text = '';
  /** Encodes and decodes continuations: no dummy-prefix space added or stripped. */
  private cont: Tokenizer;
  private busy = false;
  private noticed = false;
  private sequence: Sequence | undefined;
  private onNotice: (message: string) => void;

  constructor(private runner: SequenceRunner, private tokenizer: Tokenizer, modelName: string, opts: ChatOptions = {}) {
    for (const k of Object.keys(opts ?? {})) if (!CHAT_OPTION_NAMES.includes(k)) throw new OptionError(k, `is not a chat option (known: ${CHAT_OPTION_NAMES.join(', ')})`);
    this.format = opts.format ?? chooseFormat(modelName, tokenizer);
    if (this.format === 'template' && !tokenizer.vocab.chatTemplate) throw new OptionError('format', "is 'template' but the model file has no tokenizer.chat_template");
    if (opts.onNotice !== undefined && typeof opts.onNotice !== 'function') throw new OptionError('onNotice', 'must be a function');
    this.cont = new Tok({ ...tokenizer.vocab, addSpacePrefix: false });
    this.sequence = opts.sequence;
    this.onNotice = opts.onNotice ?? (() => {});
    if (opts.system) this.history.push({ role: 'system', content: this.checkSystem(opts.system) });
  }

  /** The conversation so far (replies trimmed). */
  get messages(): ChatMessage[] {
    return this.history.map((m) => (m.role === 'assistant' ? { ...m, content: m.content.trim() } : { ...m }));
  }

  /**
   * Replaces the system prompt (the next turn re-evaluates from there). A prompt that leaves no
   * room for a turn in the context is an option error, and the session keeps its old one.
   */
  setSystem(text: string): void {
    if (typeof text !== 'string') throw new OptionError('system', 'must be a string');
    if (text) this.checkSystem(text);
    this.history = this.history.filter((m) => m.role !== 'system');
    if (text) this.history.unshift({ role: 'system', content: text });
    this.tokens = [];
    this.text = '';
  }

  /** Forgets the conversation (keeps the system prompt). */
  reset(): void {
    this.history = this.history.filter((m) => m.role === 'system');
    this.tokens = [];
    this.text = '';
  }

  /** Sends a user message; the stream yields the reply, which joins the history when it ends. */
  send(content: string, opts: GenerateOptions = {}): GenerationStream {
    if (this.busy) throw new Fairy2iError('state', 'a reply is still being generated in this session');
    if (typeof content !== 'string') throw new Fairy2iError('input', 'a chat message must be a string');
    checkGenerateOptions(opts); // before opts.maxTokens is read below
    const ctx = this.runner.contextLength;
    // Room for the reply: its maxTokens, but at most a quarter of the context.
    const reserve = Math.min(opts.maxTokens ?? 256, Math.floor(ctx / 4));
    let turn = this.render(content);
    let dropped = 0;
    while (turn.prompt.length + reserve > ctx && this.dropOldestTurn()) { dropped++; turn = this.render(content); }
    if (turn.prompt.length >= ctx) {
      throw new Fairy2iError('input', `the message does not fit: with ${this.history.length ? 'the system prompt and ' : ''}the chat format it takes ${turn.prompt.length} tokens, and the context holds ${ctx}`);
    }
    if (dropped && !this.noticed) {
      this.noticed = true;
      this.onNotice(`fairy2i-wasm: the conversation outgrew the context of ${ctx} tokens; its oldest turns are dropped from now on (the system prompt is kept)`);
    }
    const { prompt, rendered } = turn;
    const sys = this.history.find((m) => m.role === 'system');
    const keepTokens = sys ? this.systemTokens(sys.content) : 1;
    const stop = [...(opts.stop ?? []), ...(this.format === 'plain' ? PLAIN_STOPS : [])];
    this.busy = true;
    let commit: Commit | null = null;
    let stream: GenerationStream;
    try {
      stream = generateTokens(this.runner, this.tokenizer, prompt, { keepTokens, sequence: this.sequence, ...opts, stop }, (c) => (commit = c));
    } catch (e) {
      this.busy = false;
      throw e;
    }
    stream.result.then(
      () => {
        this.busy = false;
        const c = commit!;
        const said = this.cont.decode(c.generated);
        this.history.push({ role: 'user', content }, { role: 'assistant', content: said + c.pendingText });
        this.tokens = c.tokens;
        this.text = rendered + said;
      },
      () => { this.busy = false; },
    );
    return stream;
  }

  /** The prompt of a turn sending `content`: the conversation's tokens continued where they still match its render. */
  private render(content: string): { prompt: number[]; rendered: string } {
    const rendered = renderChat(this.format, [...this.history, { role: 'user', content }], this.tokenizer);
    // Continue the exact tokens of the conversation when the new render extends their text (so the
    // sequence holds everything before this turn); otherwise encode the whole render again.
    const prompt = this.tokens.length && rendered.startsWith(this.text)
      ? [...this.tokens, ...encodeWithControls(this.cont, rendered.slice(this.text.length))]
      : encodeWithControls(this.tokenizer, rendered);
    return { prompt, rendered };
  }

  /** Removes the oldest user turn and its reply; false when there is none. */
  private dropOldestTurn(): boolean {
    const i = this.history.findIndex((m) => m.role !== 'system');
    if (i < 0) return false;
    const n = this.history[i].role === 'user' && this.history[i + 1]?.role === 'assistant' ? 2 : 1;
    this.history.splice(i, n);
    this.tokens = [];
    this.text = '';
    return true;
  }

  private systemTokens(text: string): number {
    return encodeWithControls(this.tokenizer, renderChat(this.format, [{ role: 'system', content: text }], this.tokenizer)).length;
  }

  /** `text` if a system prompt of it leaves room for a turn in the context, else an option error. */
  private checkSystem(text: string): string {
    const ctx = this.runner.contextLength;
    const n = this.systemTokens(text);
    const room = Math.min(MIN_TURN_TOKENS, Math.floor(ctx / 4));
    if (n + room > ctx) throw new OptionError('system', `the system prompt takes ${n} tokens; with room for a turn (${room}) it must fit in the context of ${ctx} tokens`);
    return text;
  }
}
