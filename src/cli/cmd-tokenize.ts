import type { CommandSpec, Parsed } from './args.js';
import { modelFlags, openModel } from './common.js';

export const tokenizeSpec: CommandSpec = {
  name: 'tokenize',
  summary: "Print the token ids (and pieces) the model's tokenizer gives for a text.",
  usage: 'fairy2i-wasm tokenize [-m FILE] TEXT [--json] [--no-bos]',
  positionals: [{ name: 'text', required: true, help: 'the text to tokenize' }],
  flags: {
    model: modelFlags.model,
    json: { type: 'bool', help: 'print {ids, pieces} as JSON' },
    'no-bos': { type: 'bool', help: 'do not add BOS even if the model file says so' },
  },
};

export async function runTokenize(a: Parsed): Promise<void> {
  const model = await openModel(a.flags, true);
  const ids = model.tokenize(a.positionals[0], a.flags['no-bos'] ? { addBos: false } : {});
  const pieces = ids.map((id) => model.tokenizer!.piece(id));
  if (a.flags.json) process.stdout.write(JSON.stringify({ ids, pieces }) + '\n');
  else process.stdout.write(ids.map((id, i) => `${String(id).padStart(6)}  ${JSON.stringify(pieces[i])}`).join('\n') + '\n');
  model.dispose();
}
