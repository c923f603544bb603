import type { CommandSpec, Parsed } from './args.js';

export const modelsSpec: CommandSpec = {
  name: 'models',
  summary: 'List the models in the cache (pulled from the Hugging Face Hub).',
  usage: 'fairy2i-wasm models [--json]',
  positionals: [],
  flags: { json: { type: 'bool', help: 'one JSON array instead of a table' } },
};

export async function runModels(a: Parsed): Promise<void> {
  const { ModelCache } = await import('../hub/cache.js');
  const cache = new ModelCache();
  const list = cache.list();
  if (a.flags.json) {
    process.stdout.write(JSON.stringify(list) + '\n');
    return;
  }
  if (!list.length) {
    process.stdout.write(`no models in ${cache.root} (fetch one with 'fairy2i-wasm pull OWNER/REPO')\n`);
    return;
  }
  for (const e of list) {
    const what = e.kind === 'file' ? e.file : `converted ${Object.entries(e.options ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    process.stdout.write(`${`${e.repo}@${e.revision}`.padEnd(40)} ${e.commit.slice(0, 12)}  ${`${(e.size / 1e6).toFixed(1)} MB`.padStart(10)}  ${what}  ${e.path}\n`);
  }
}
