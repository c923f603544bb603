import { Fairy2iError } from '../errors.js';
import { perplexity } from '../perplexity.js';
import type { CommandSpec, Parsed } from './args.js';
import { bundledPath } from '../node.js';
import { modelFlags, openModel, readTextArg } from './common.js';

export const pplSpec: CommandSpec = {
  name: 'ppl',
  summary: "Perplexity of a text file with the paper's protocol (lines = documents, BOS-started windows).",
  usage: 'fairy2i-wasm ppl [-m FILE] [TEXTFILE] [--ctx N] [--json]   (default: the bundled held-out text)',
  positionals: [{ name: 'textfile', required: false, help: 'text file, one document per non-empty line' }],
  flags: {
    ...modelFlags,
    json: { type: 'bool', help: 'print {ppl, loss, count, windows} as JSON' },
  },
};

export async function runPpl(a: Parsed): Promise<void> {
  const file = a.positionals[0] ?? (a.flags.model ? undefined : bundledPath('heldout.txt'));
  if (!file) throw new Fairy2iError('option', 'ppl needs a TEXTFILE when -m is given');
  const text = readTextArg(undefined, file, 'text')!;
  const model = await openModel(a.flags, !!a.flags.json);
  if (!model.tokenizer) throw new Fairy2iError('unsupported', 'this model file has no tokenizer, so it cannot read text');
  const tty = !a.flags.json && process.stderr.isTTY;
  const r = perplexity(model, text, { ctx: a.flags.ctx as number | undefined, onWindow: tty ? (d, t) => process.stderr.write(`\rwindow ${d}/${t}`) : undefined });
  if (tty) process.stderr.write('\r\x1b[K');
  if (a.flags.json) process.stdout.write(JSON.stringify({ ppl: r.ppl, loss: r.loss, count: r.count, windows: r.windows, documents: r.documents, skippedDocuments: r.skippedDocuments, seconds: r.seconds }) + '\n');
  else process.stdout.write(`perplexity ${r.ppl.toFixed(4)} over ${r.count} predicted tokens in ${r.windows} windows of ${model.contextLength} (${r.documents} documents, ${r.skippedDocuments} skipped as too long) in ${r.seconds.toFixed(1)} s\n`);
  model.dispose();
}
