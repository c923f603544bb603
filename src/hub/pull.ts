// `pull` and `hf:` sources: a Hub repo to a cached Fairy2i model file. A repo holding a .gguf model
// file is downloaded (resumable, sha256-checked); a repo holding a Hugging Face LLaMA/Mistral
// checkpoint is converted while it streams (remote-checkpoint.ts) through convert's resumable
// partial file: an interrupted pull continues after the last complete tensor, fetching nothing it
// already converted. Entries are keyed by repo, resolved commit and conversion options; a cached
// entry costs one revision check (model info), none offline or when the Hub cannot be reached.

import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Fairy2iError } from '../errors.js';
import { convert } from '../convert/convert.js';
import { HubHttp, hubConfigFromEnv, type HubConfig } from './http.js';
import { fileUrl, modelInfo, parseRepoRef, type RepoInfo, type RepoRef } from './repo.js';
import { ModelCache, type CacheEntry } from './cache.js';
import { downloadFile } from './download.js';
import { isCheckpoint, openRemoteCheckpoint } from './remote-checkpoint.js';

export interface PullOptions {
  /** @default from HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE */
  hub?: Partial<HubConfig>;
  /** @default $FAIRY2I_CACHE or ~/.cache/fairy2i-wasm */
  cacheDir?: string;
  /** Conversion options for checkpoint repos (as `convert`). */
  stages?: number;
  arithmetic?: 'f32' | 'bf16';
  float?: 'f32' | 'f16';
  keepLmHeadFloat?: boolean;
  quiet?: boolean;
  /** Where notes go (e.g. "using the cache: the Hub is unreachable"). @default stderr unless quiet */
  log?: (line: string) => void;
}

export interface PullResult extends CacheEntry {
  /** True when nothing was downloaded or converted. */
  cached: boolean;
}

/** The cache key of a conversion: the options that change the output's bytes. */
function convertKey(o: PullOptions): { key: string; options: Record<string, unknown> } {
  const options = { stages: o.stages ?? 2, arithmetic: o.arithmetic ?? 'auto', float: o.float ?? 'f32', keepLmHeadFloat: !!o.keepLmHeadFloat };
  return { key: `fairy2i-s${options.stages}-${options.arithmetic}-${options.float}${options.keepLmHeadFloat ? '-lmfloat' : ''}`, options };
}

function fileKey(file: string): string {
  return `file-${file.replace(/\//g, '--')}`;
}

export async function pull(spec: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseRepoRef(spec);
  const config = { ...hubConfigFromEnv(), ...opts.hub };
  const http = new HubHttp(config);
  const cache = new ModelCache(opts.cacheDir);
  const log = opts.log ?? ((l: string) => { if (!opts.quiet) process.stderr.write(l + '\n'); });
  const conv = convertKey(opts);

  const lastCommit = cache.commitOf(ref.repo, ref.revision);
  const cachedAt = (commit: string | null): CacheEntry | null => {
    if (!commit) return null;
    if (ref.file) return cache.get(ref.repo, commit, fileKey(ref.file));
    return cache.get(ref.repo, commit, conv.key) ?? cache.list().find((e) => e.repo === ref.repo && e.commit === commit && e.kind === 'file') ?? null;
  };

  if (config.offline) {
    const hit = cachedAt(lastCommit);
    if (!hit) throw new Fairy2iError('input', `${spec}: not in the cache (${cache.root}) and HF_HUB_OFFLINE is set`);
    return { ...hit, cached: true };
  }

  let info: RepoInfo;
  try {
    // With a cached entry to fall back on, one attempt: an unreachable Hub must not hold up a run.
    info = await modelInfo(cachedAt(lastCommit) ? new HubHttp({ ...config, attempts: 1 }) : http, ref);
  } catch (e) {
    const hit = cachedAt(lastCommit);
    if (hit && e instanceof Fairy2iError && e.code === 'io') {
      log(`note: ${ref.repo}: the Hub cannot be reached (${e.message.replace(/^.*?: /, '')}); using the cached ${hit.commit.slice(0, 12)}`);
      return { ...hit, cached: true };
    }
    throw e;
  }
  cache.setRef(ref.repo, ref.revision, info.commit);
  const hit = cachedAt(info.commit);
  if (hit) return { ...hit, cached: true };
  mkdirSync(cache.commitDir(ref.repo, info.commit), { recursive: true });
  return { ...(await fetchModel(http, cache, ref, info, opts, conv)), cached: false };
}

async function fetchModel(http: HubHttp, cache: ModelCache, ref: RepoRef, info: RepoInfo, opts: PullOptions, conv: ReturnType<typeof convertKey>): Promise<CacheEntry> {
  const base = { repo: ref.repo, revision: ref.revision, commit: info.commit };
  const where = `${ref.repo}@${ref.revision}`;
  const ggufs = info.files.filter((f) => f.path.endsWith('.gguf'));
  let pick = ref.file;
  if (pick) {
    if (!info.files.some((f) => f.path === pick)) throw new Fairy2iError('input', `${where}: no file '${pick}' (files: ${info.files.map((f) => f.path).slice(0, 12).join(', ')})`);
    if (!pick.endsWith('.gguf')) throw new Fairy2iError('input', `${where}: '${pick}' is not a model file (.gguf); name the repo without a file to convert its checkpoint`);
  } else if (!isCheckpoint(info)) {
    if (ggufs.length === 1) pick = ggufs[0].path;
    else if (ggufs.length > 1) throw new Fairy2iError('input', `${where} holds ${ggufs.length} model files; pick one: ${ggufs.map((f) => `${ref.repo}/${f.path}`).join(', ')}`);
    else throw new Fairy2iError('input', `${where} holds neither a Fairy2i model file (.gguf) nor a Hugging Face checkpoint (config.json + *.safetensors)`);
  }
  if (pick) {
    const file = info.files.find((f) => f.path === pick)!;
    const key = fileKey(pick);
    const dest = cache.modelPath(ref.repo, info.commit, key);
    await checkModelFile(http, ref.repo, info.commit, pick);
    await downloadFile(http, ref.repo, info.commit, file, dest, { quiet: opts.quiet });
    return cache.put({ ...base, kind: 'file', file: pick, path: dest }, key);
  }
  const dest = cache.modelPath(ref.repo, info.commit, conv.key);
  const ck = await openRemoteCheckpoint(http, info, join(cache.commitDir(ref.repo, info.commit), 'checkpoint'));
  await convert(`hf:${where}`, {
    output: dest, partial: `${dest}.partial`, checkpoint: ck,
    stages: opts.stages, arithmetic: opts.arithmetic, float: opts.float, keepLmHeadFloat: opts.keepLmHeadFloat,
    quiet: opts.quiet, source: `hf:${ref.repo}@${info.commit}`,
  });
  return cache.put({ ...base, kind: 'converted', options: conv.options, path: dest }, conv.key);
}

/**
 * Reads a .gguf's first bytes by a Range request before downloading it: a GGUF of another
 * architecture (a llama.cpp model) is refused at once instead of after gigabytes. GGUF v2/v3 put
 * general.architecture first (magic, version, counts, then key, type 8 = string, value).
 */
async function checkModelFile(http: HubHttp, repo: string, commit: string, path: string): Promise<void> {
  const ctx = { repo, revision: commit.slice(0, 12), file: path };
  const { res } = await http.get(fileUrl(repo, commit, path), ctx, { start: 0, end: 4096 });
  const head = new Uint8Array(await res.arrayBuffer()).subarray(0, 4096);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const text = (at: number, n: number) => new TextDecoder().decode(head.subarray(at, at + n));
  if (head.length < 4 || text(0, 4) !== 'GGUF') throw new Fairy2iError('input', `${repo}: ${path} is not a GGUF file (no GGUF magic)`);
  if (head.length < 32) return;
  const keyLen = Number(dv.getBigUint64(24, true));
  if (keyLen !== 20 || text(32, 20) !== 'general.architecture' || dv.getUint32(52, true) !== 8 || head.length < 64) return;
  const arch = text(64, Math.min(64, Number(dv.getBigUint64(56, true))));
  if (arch !== 'fairy2i') {
    throw new Fairy2iError('unsupported', `${repo}: ${path} is a GGUF model of architecture '${arch}', not a Fairy2i model file (convert its source checkpoint instead: pull the checkpoint repo)`);
  }
}
