import type { CommandSpec, Parsed } from './args.js';

export const pullSpec: CommandSpec = {
  name: 'pull',
  summary: 'Fetch a model from the Hugging Face Hub into the cache (a checkpoint is converted while it streams).',
  usage: 'fairy2i-wasm pull OWNER/REPO[@REVISION][/FILE] [--stages 0..4] [--arithmetic bf16|f32] [--float f32|f16] [--keep-lm-head-float]',
  positionals: [{ name: 'repo', required: true, help: 'Hub repo (e.g. PKU-DS-LAB/Fairy2i-W2), optionally @revision and /file.gguf' }],
  flags: {
    stages: { type: 'int', min: 0, max: 4, default: 2, help: 'checkpoint repos: residual PhaseQuant stages (2 = Fairy2i-W2)' },
    arithmetic: { type: 'string', choices: ['bf16', 'f32'], help: 'checkpoint repos: quantizer arithmetic (default: bf16 for BF16 checkpoints, else f32)' },
    float: { type: 'string', choices: ['f32', 'f16'], default: 'f32', help: 'checkpoint repos: storage of the embedding and float linears' },
    'keep-lm-head-float': { type: 'bool', help: 'checkpoint repos: keep lm_head in float' },
    quiet: { type: 'bool', alias: 'q', help: 'no progress display' },
  },
};

export async function runPull(a: Parsed): Promise<void> {
  const { pull } = await import('../hub/pull.js');
  const r = await pull(a.positionals[0], {
    stages: a.flags.stages as number,
    arithmetic: a.flags.arithmetic as 'bf16' | 'f32' | undefined,
    float: a.flags.float as 'f32' | 'f16',
    keepLmHeadFloat: !!a.flags['keep-lm-head-float'],
    quiet: !!a.flags.quiet,
  });
  if (!a.flags.quiet) process.stderr.write(`${r.cached ? 'cached' : r.kind === 'converted' ? 'converted' : 'downloaded'}: ${r.repo}@${r.revision} (${r.commit.slice(0, 12)}), ${(r.size / 1e6).toFixed(2)} MB\n`);
  process.stdout.write(r.path + '\n');
}
