// Request prompts as token ids: chat messages through the library's chat formatting (the file's
// chat template, LLaMA-2's [INST] format or a plain transcript, as `model.chat()` renders them), a
// completion prompt as text or ids. Tokens of earlier turns come out the same each time, which is
// what lets the engine find the sequence that already holds them.

import { chooseFormat, encodeWithControls, PLAIN_STOPS, renderChat, type ChatMessage } from '../chat.js';
import type { Model } from '../model.js';
import type { Tokenizer } from '../tokenizer.js';
import { ApiError, badField } from './api-error.js';

export function requireTokenizer(model: Model, what: string): Tokenizer {
  if (!model.tokenizer) throw new ApiError(400, `this model file has no tokenizer, so ${what} is not available (send token ids to /v1/completions)`, 'invalid_request_error', null, 'no_tokenizer');
  return model.tokenizer;
}

/** The prompt of a chat request and the stop strings its format needs. */
export function chatPrompt(model: Model, messages: ChatMessage[]): { tokens: number[]; stop: string[] } {
  const tok = requireTokenizer(model, 'chat');
  const format = chooseFormat(model.config.name, tok);
  let text: string;
  try {
    text = renderChat(format, messages, tok);
  } catch (e) {
    // A chat template may refuse a conversation (e.g. roles that do not alternate).
    throw badField('messages', `the model's chat template refused them: ${(e as Error).message}`);
  }
  return { tokens: encodeWithControls(tok, text), stop: format === 'plain' ? PLAIN_STOPS : [] };
}

export function completionPrompt(model: Model, prompt: string | number[]): number[] {
  if (typeof prompt !== 'string') return prompt;
  const bos = requireTokenizer(model, 'a text prompt').bosId;
  const ids = model.tokenize(prompt);
  if (ids.length === 0 && bos >= 0) ids.push(bos);
  return ids;
}

/** Checks that `tokens` leave room for at least one new token; the largest max_tokens that fits. */
export function roomFor(model: Model, tokens: number[], param: 'messages' | 'prompt'): number {
  if (tokens.length === 0) throw badField(param, 'is empty (and the model has no BOS token to start from)');
  const room = model.contextLength - tokens.length;
  if (room < 1) {
    throw new ApiError(400, `the prompt has ${tokens.length} tokens; this server's context holds ${model.contextLength}, so no room is left for a reply`, 'invalid_request_error', param, 'context_length_exceeded');
  }
  return room;
}
