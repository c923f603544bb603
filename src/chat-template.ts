// A model file's chat template (tokenizer.chat_template, Jinja) parsed and rendered by
// @huggingface/jinja, bounded: the template comes from whoever made the file, and
// `{% for i in range(100000000) %}` would otherwise build a 3.6 GB list and hang the chat. Rendering
// stops with a one-line error past MAX_STEPS evaluated nodes (a list counts its length), MAX_MS of time, a range() longer
// than MAX_RANGE, one value longer than MAX_VALUE characters or MAX_TOTAL characters of strings in
// all. A real template renders a long conversation in a few thousand steps and well under those.
//
// The library has no hooks for this, so the bound counts its Interpreter's `evaluate` (every node
// goes through it) and Environment's `setVariable` (every loop item goes through it) by wrapping
// the prototype methods for the duration of one render: rendering is
// synchronous, so no other render can run meanwhile, and the original is always put back.

import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { Fairy2iError, FormatError } from './errors.js';

export const TEMPLATE_LIMITS = { MAX_STEPS: 2_000_000, MAX_MS: 2000, MAX_RANGE: 100_000, MAX_VALUE: 1 << 20, MAX_TOTAL: 1 << 26 };

const FIELD = 'tokenizer.chat_template';

/** Thrown inside the interpreter when a bound is hit (turned into a Fairy2iError by render). */
class TemplateLimit extends Error {}
/** Thrown by the template's own raise_exception(). */
class TemplateRaised extends Error {}

const cache = new Map<string, Template>();

/** Parses a chat template; a syntax error is a 'format' error naming `file` and the template field. */
export function compileChatTemplate(source: string, file: string, field = FIELD): Template {
  let t = cache.get(source);
  if (t) return t;
  try {
    t = new Template(source);
  } catch (e) {
    throw new FormatError(file, field, `is not a valid Jinja template (${oneLine(e)})`);
  }
  if (cache.size >= 8) cache.delete(cache.keys().next().value!);
  cache.set(source, t);
  return t;
}

/**
 * Renders `source` with `context` within TEMPLATE_LIMITS. `model` names the template's owner in
 * errors. raise_exception() in the template (a conversation it refuses, e.g. roles that do not
 * alternate) is an 'input' error with the template's message; other failures are 'format' errors.
 */
export function renderChatTemplate(source: string, context: Record<string, unknown>, model: string): string {
  const template = compileChatTemplate(source, model);
  const proto = Interpreter.prototype as unknown as {
    evaluate: (stmt: unknown, env: unknown) => { type: string; value: unknown };
    run: (program: unknown) => unknown;
  };
  const evaluate = proto.evaluate, run = proto.run;
  const L = TEMPLATE_LIMITS;
  const t0 = Date.now();
  let steps = 0, total = 0;
  const tick = () => {
    if (++steps > L.MAX_STEPS) throw new TemplateLimit(`took more than ${L.MAX_STEPS} steps`);
    if ((steps & 1023) === 0 && Date.now() - t0 > L.MAX_MS) throw new TemplateLimit(`took more than ${L.MAX_MS} ms`);
  };
  // A for loop sets its variables per item even when its body evaluates nothing.
  const envProto = Environment.prototype as unknown as { setVariable: (name: string, value: unknown) => unknown };
  const setVariable = envProto.setVariable;
  envProto.setVariable = function (name, value) {
    tick();
    return setVariable.call(this, name, value);
  };
  proto.evaluate = function (stmt, env) {
    tick();
    const v = evaluate.call(this, stmt, env);
    if (v && typeof v.value === 'string') {
      if (v.value.length > L.MAX_VALUE) throw new TemplateLimit(`made a string of more than ${L.MAX_VALUE} characters`);
      if ((total += v.value.length) > L.MAX_TOTAL) throw new TemplateLimit(`made more than ${L.MAX_TOTAL} characters of text`);
    } else if (v && Array.isArray(v.value)) {
      if (v.value.length > L.MAX_RANGE) throw new TemplateLimit(`made a list of more than ${L.MAX_RANGE} items`);
      // A list costs its length: a loop over it may run an empty body (no evaluate call) per item.
      if ((steps += v.value.length) > L.MAX_STEPS) throw new TemplateLimit(`took more than ${L.MAX_STEPS} steps`);
    }
    return v;
  };
  proto.run = function (program) {
    // range() builds its whole list in one step: check its length before it is built.
    const globals = (this as unknown as { global: { variables: Map<string, { value: unknown }> } }).global.variables;
    const raise = globals.get('raise_exception');
    if (raise) raise.value = (args: { value: unknown }[]) => { throw new TemplateRaised(args.map((x) => String(x.value)).join(' ')); };
    const range = globals.get('range');
    if (range && typeof range.value === 'function') {
      const make = range.value as (args: { value: unknown }[], scope: unknown) => unknown;
      range.value = (args: { value: unknown }[], scope: unknown) => {
        const [a, b, c] = args.map((x) => Number(x.value));
        const [start, stop, step] = args.length < 2 ? [0, a, 1] : [a, b, args.length > 2 ? c : 1];
        const n = step ? Math.ceil((stop - start) / step) : 0;
        if (!(n <= L.MAX_RANGE)) throw new TemplateLimit(`called range() for ${Number.isFinite(n) ? n : 'too many'} items (at most ${L.MAX_RANGE})`);
        return make(args, scope);
      };
    }
    return run.call(this, program);
  };
  try {
    return template.render(context);
  } catch (e) {
    if (e instanceof TemplateLimit) throw new Fairy2iError('format', `${model}: ${FIELD}: rendering ${e.message}; the template is broken or hostile`);
    if (e instanceof Fairy2iError) throw e;
    if (e instanceof TemplateRaised) throw new Fairy2iError('input', `${model}: ${FIELD} refused the conversation: ${oneLine(e)}`);
    throw new Fairy2iError('format', `${model}: ${FIELD}: rendering failed (${oneLine(e)})`);
  } finally {
    proto.evaluate = evaluate;
    proto.run = run;
    envProto.setVariable = setVariable;
  }
}

function oneLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const line = m.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
