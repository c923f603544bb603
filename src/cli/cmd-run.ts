import { AbortError, OptionError } from '../errors.js';
import type { GenerateOptions } from '../generate.js';
import type { CommandSpec, FlagSpec, Parsed } from './args.js';
import { modelFlags, openModel, openPromptFile, readPromptFile, readStdinPrompt } from './common.js';

export const samplingFlags: Record<string, FlagSpec> = {
  temperature: { type: 'number', alias: 't', min: 0, default: 0.8, help: 'sampling temperature, 0 = greedy' },
  'top-k': { type: 'int', min: 0, default: 40, help: 'keep the k most likely tokens, 0 = off' },
  'top-p': { type: 'number', min: 0, max: 1, default: 0.95, help: 'nucleus sampling, 1 = off' },
  'min-p': { type: 'number', min: 0, max: 1, default: 0.05, help: 'drop tokens below min-p x the top probability' },
  'repeat-penalty': { type: 'number', min: 0, default: 1, help: 'repetition penalty, 1 = off' },
  'presence-penalty': { type: 'number', default: 0, help: 'presence penalty' },
  'frequency-penalty': { type: 'number', default: 0, help: 'frequency penalty' },
  'repeat-last-n': { type: 'int', min: 0, default: 64, help: 'window of recent tokens the penalties look at' },
  seed: { type: 'int', alias: 's', help: 'random seed (default: random)' },
};

export function samplingFromFlags(f: Record<string, unknown>): GenerateOptions {
  return {
    temperature: f.temperature as number, topK: f['top-k'] as number, topP: f['top-p'] as number, minP: f['min-p'] as number,
    repetitionPenalty: f['repeat-penalty'] as number, presencePenalty: f['presence-penalty'] as number,
    frequencyPenalty: f['frequency-penalty'] as number, penaltyWindow: f['repeat-last-n'] as number, seed: f.seed as number | undefined,
  };
}

export const runSpec: CommandSpec = {
  name: 'run',
  summary: 'Complete a prompt and print the completion alone to stdout (for scripts).',
  usage: 'fairy2i-wasm run [-m FILE] -p TEXT [-n N] [--temperature T] [--seed S] [--json]   (or the prompt on stdin)',
  positionals: [],
  flags: {
    ...modelFlags,
    prompt: { type: 'string', alias: 'p', arg: 'text', allowEmpty: true, conflicts: ['file'], help: 'the prompt (default: read stdin)' },
    file: { type: 'string', alias: 'f', arg: 'file', help: 'read the prompt from a file' },
    'max-tokens': { type: 'int', alias: 'n', min: 0, default: 128, help: 'most new tokens' },
    stop: { type: 'string', arg: 'text', help: 'stop when the output contains this text' },
    ...samplingFlags,
    json: { type: 'bool', help: 'print {text, tokens, stopReason, timings, ...} as JSON' },
  },
};

export async function runRun(a: Parsed): Promise<void> {
  const f = a.flags;
  // A missing prompt file or prompt is reported before the model loads; the prompt itself is read
  // after, since how much of it can matter depends on the model's context.
  const file = f.file as string | undefined;
  const fd = file !== undefined ? openPromptFile(file) : undefined;
  if (f.prompt === undefined && fd === undefined && process.stdin.isTTY) throw new OptionError('-p/--prompt', 'is required (or pipe the prompt on stdin)');
  const model = await openModel(f, !!f.json);
  const prompt = (f.prompt as string | undefined) ?? (fd !== undefined ? readPromptFile(fd, file!, model) : await readStdinPrompt(model));
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const stream = model.generate(prompt, { ...samplingFromFlags(f), maxTokens: f['max-tokens'] as number, stop: f.stop ? [f.stop as string] : undefined, signal: ac.signal });
  if (f.json) {
    const r = await stream.done();
    process.stdout.write(JSON.stringify({ text: r.text, tokens: r.tokens, stopReason: r.stopReason, usage: r.usage, timings: r.timings, seed: r.seed }) + '\n');
  } else {
    for await (const piece of stream) process.stdout.write(piece.text);
    process.stdout.write('\n');
  }
  model.dispose();
  // What was generated is printed; the exit status still says it was interrupted (130, as shells do).
  if (ac.signal.aborted) throw new AbortError(`interrupted (SIGINT) after ${(await stream.result).tokens.length} tokens`);
}
