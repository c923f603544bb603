import { Fairy2iError } from '../errors.js';
import type { CommandSpec, Parsed } from './args.js';

export const rmSpec: CommandSpec = {
  name: 'rm',
  summary: 'Remove a pulled model from the cache (every entry of the repo, or of one revision).',
  usage: 'fairy2i-wasm rm OWNER/REPO[@REVISION]',
  positionals: [{ name: 'repo', required: true, help: 'Hub repo as given to pull; with @REVISION only that commit' }],
  flags: {},
};

export async function runRm(a: Parsed): Promise<void> {
  const { ModelCache } = await import('../hub/cache.js');
  const { parseRepoRef } = await import('../hub/repo.js');
  const spec = a.positionals[0];
  const ref = parseRepoRef(spec);
  const cache = new ModelCache();
  const explicit = /@/.test(spec);
  const commit = explicit ? cache.commitOf(ref.repo, ref.revision) : undefined;
  if (explicit && !commit) throw new Fairy2iError('input', `${spec}: not in the cache (${cache.root})`);
  const gone = cache.remove(ref.repo, commit ?? undefined);
  if (!gone.length) throw new Fairy2iError('input', `${spec}: not in the cache (${cache.root})`);
  for (const p of gone) process.stdout.write(`removed ${p}\n`);
}
