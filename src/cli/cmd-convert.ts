import { convert } from '../convert/convert.js';
import type { CommandSpec, Parsed } from './args.js';

export const convertSpec: CommandSpec = {
  name: 'convert',
  summary: 'Convert a Hugging Face (safetensors) or llama2.c checkpoint into a Fairy2i model file.',
  usage: 'fairy2i-wasm convert <input> -o <file> [--stages 0..4] [--keep-lm-head-float] [--float f32|f16] [--arithmetic bf16|f32]',
  positionals: [{ name: 'input', required: true, help: 'checkpoint directory (config.json + *.safetensors) or llama2.c model .bin' }],
  flags: {
    output: { type: 'string', alias: 'o', arg: 'file', help: 'output model file (written atomically)' },
    stages: { type: 'int', min: 0, max: 4, default: 2, help: 'residual PhaseQuant stages: 2 = Fairy2i-W2, 1 = W1, 0 = keep linears in float' },
    'keep-lm-head-float': { type: 'bool', help: 'keep lm_head in float (the paper quantizes it too)' },
    float: { type: 'string', choices: ['f32', 'f16'], default: 'f32', help: 'storage of the embedding and float linears' },
    arithmetic: { type: 'string', choices: ['bf16', 'f32'], help: "quantizer arithmetic: bf16 = the authors' bfloat16 inference codes, f32 = float32 PhaseQuant (default: bf16 for BF16 checkpoints, else f32)" },
    tokenizer: { type: 'string', arg: 'file', help: 'llama2.c tokenizer .bin when it is not beside the model' },
    quiet: { type: 'bool', alias: 'q', help: 'no progress display' },
  },
};

export async function runConvert(a: Parsed): Promise<void> {
  const out = a.flags.output as string | undefined;
  if (!out) {
    const { OptionError } = await import('../errors.js');
    throw new OptionError('-o/--output', 'is required: the file to write');
  }
  const r = await convert(a.positionals[0], {
    output: out,
    stages: a.flags.stages as number,
    keepLmHeadFloat: !!a.flags['keep-lm-head-float'],
    float: a.flags.float as 'f32' | 'f16',
    arithmetic: a.flags.arithmetic as 'f32' | 'bf16' | undefined,
    tokenizer: a.flags.tokenizer as string | undefined,
    quiet: !!a.flags.quiet,
    onNotice: (m) => process.stderr.write(`fairy2i-wasm convert: ${m}\n`),
  });
  if (!a.flags.quiet) {
    const c = r.config;
    process.stderr.write(`wrote ${r.output}: ${(r.bytes / 1e6).toFixed(2)} MB, ${c.stages ? `${c.stages} stage(s) in ${c.arithmetic} arithmetic` : 'float'}${c.stages && !c.lmHeadQuantized ? ', lm_head float' : ''}, in ${r.seconds.toFixed(1)} s\n`);
  }
}
