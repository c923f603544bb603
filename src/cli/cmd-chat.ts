import { createInterface } from 'node:readline';
import { Fairy2iError } from '../errors.js';
import type { CommandSpec, Parsed } from './args.js';
import { samplingFlags, samplingFromFlags } from './cmd-run.js';
import { boundedLines, modelFlags, openModel, promptByteLimit } from './common.js';

export const chatSpec: CommandSpec = {
  name: 'chat',
  summary: 'Chat interactively with a model (streamed; /reset, /system TEXT, /exit; Ctrl-C stops a reply).',
  usage: 'fairy2i-wasm chat [-m FILE] [--system TEXT] [--verbose] [sampling flags]',
  positionals: [],
  flags: {
    ...modelFlags,
    system: { type: 'string', arg: 'text', allowEmpty: true, help: 'system prompt' },
    'max-tokens': { type: 'int', alias: 'n', min: 1, default: 256, help: 'most tokens per reply' },
    ...samplingFlags,
    verbose: { type: 'bool', alias: 'v', help: 'show tokens/s after each reply' },
  },
};

export async function runChat(a: Parsed): Promise<void> {
  const f = a.flags;
  const model = await openModel(f);
  const session = model.chat({ system: f.system as string | undefined, onNotice: (m) => process.stderr.write(`${m}\n`) });
  const tty = !!process.stdin.isTTY;
  // On a terminal, readline edits the line and turns Ctrl-C into 'SIGINT'; piped input is split into
  // lines here, none longer than the context can hold (chat < /dev/zero must not fill the memory).
  const rl = tty ? createInterface({ input: process.stdin, output: process.stdout, terminal: true }) : null;
  const out = process.stdout;
  let current: AbortController | null = null;
  rl?.on('SIGINT', () => {
    if (current) current.abort();
    else rl.close();
  });
  if (tty) out.write(`${model.config.name || 'model'} (${model.config.stages ? `Fairy2i V${model.config.stages}` : 'float'}, ${session.format} chat format). /reset, /system TEXT, /exit; Ctrl-C stops a reply.\n`);
  const lines = rl ? rl[Symbol.asyncIterator]() : boundedLines(process.stdin, model, 'a chat message on stdin');
  const limit = promptByteLimit(model);
  for (;;) {
    if (tty) out.write('> ');
    const next = await lines.next();
    if (next.done) break; // end of input (lines already read are still answered)
    const line = next.value.trim();
    if (!line) continue;
    if (Buffer.byteLength(line) > limit) { out.write(`(not sent: the message has more than ${limit} bytes, more than the context of ${model.contextLength} tokens can hold)\n`); continue; }
    if (line === '/exit' || line === '/quit') break;
    if (line === '/reset') { session.reset(); out.write('(conversation cleared)\n'); continue; }
    // A system prompt or a message that cannot fit is said in one line; the conversation goes on.
    if (line.startsWith('/system')) {
      try { session.setSystem(line.slice(7).trim()); out.write('(system prompt set)\n'); } catch (e) { if (!(e instanceof Fairy2iError)) throw e; process.stderr.write(`fairy2i-wasm: ${e.message}\n`); }
      continue;
    }
    current = new AbortController();
    // A long chat keeps going past the context: the oldest turns are dropped (ChatSession says so
    // once), the system prompt kept; a reply that fills the context shifts it.
    let stream;
    try {
      stream = session.send(line, { ...samplingFromFlags(f), maxTokens: f['max-tokens'] as number, signal: current.signal, onContextFull: 'shift' });
    } catch (e) {
      if (!(e instanceof Fairy2iError)) throw e;
      process.stderr.write(`fairy2i-wasm: ${e.message}\n`);
      current = null;
      continue;
    }
    for await (const piece of stream) out.write(piece.text);
    const r = await stream.result;
    current = null;
    out.write(r.stopReason === 'abort' ? ' [stopped]\n' : '\n');
    if (f.verbose) out.write(`[${r.usage.completionTokens} tokens, ${r.timings.generateTokensPerSecond.toFixed(1)} tok/s; prompt ${r.usage.evaluatedPromptTokens} new tokens at ${r.timings.promptTokensPerSecond.toFixed(1)} tok/s]\n`);
  }
  rl?.close();
  model.dispose();
}
