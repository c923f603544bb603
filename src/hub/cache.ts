// The model cache: $FAIRY2I_CACHE (default ~/.cache/fairy2i-wasm), one folder per repo and commit.
//   hub/<owner>--<repo>/refs/<revision>          the commit the revision last resolved to
//   hub/<owner>--<repo>/<commit>/<key>.gguf      a model file, downloaded or converted
//   hub/<owner>--<repo>/<commit>/<key>.json      what it is (repo, revision, commit, source, options)
//   hub/<owner>--<repo>/<commit>/<key>.gguf.partial (+ .state)  an interrupted pull, resumed next time
//   hub/<owner>--<repo>/<commit>/checkpoint/     config and tokenizer files of a streamed checkpoint
// Every path is made of the repo name, the commit and file names only (never a token).

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CacheEntry {
  repo: string;
  revision: string;
  commit: string;
  /** 'file': a model file of the repo; 'converted': a checkpoint converted while it streamed. */
  kind: 'file' | 'converted';
  /** The repo file it came from (kind 'file'). */
  file?: string;
  /** Conversion options (kind 'converted'). */
  options?: Record<string, unknown>;
  size: number;
  path: string;
  created: string;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FAIRY2I_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fairy2i-wasm');
}

export class ModelCache {
  constructor(readonly root: string = cacheRoot()) {}

  repoDir(repo: string): string {
    return join(this.root, 'hub', repo.replace('/', '--'));
  }

  commitDir(repo: string, commit: string): string {
    return join(this.repoDir(repo), commit);
  }

  modelPath(repo: string, commit: string, key: string): string {
    return join(this.commitDir(repo, commit), `${key}.gguf`);
  }

  /** The commit a revision resolved to last time (offline use), or the revision itself if a commit. */
  commitOf(repo: string, revision: string): string | null {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    try {
      const c = readFileSync(join(this.repoDir(repo), 'refs', revision), 'utf8').trim();
      return /^[0-9a-f]{40}$/.test(c) ? c : null;
    } catch {
      return null;
    }
  }

  setRef(repo: string, revision: string, commit: string): void {
    if (revision === commit) return;
    const dir = join(this.repoDir(repo), 'refs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${revision}.tmp`), commit);
    renameSync(join(dir, `${revision}.tmp`), join(dir, revision));
  }

  /** The cached model of this key, if complete. */
  get(repo: string, commit: string, key: string): CacheEntry | null {
    const path = this.modelPath(repo, commit, key);
    if (!existsSync(path)) return null;
    try {
      return { ...JSON.parse(readFileSync(path.replace(/\.gguf$/, '.json'), 'utf8')), path, size: statSync(path).size };
    } catch {
      return null;
    }
  }

  /** Records a finished model (written after the model file is renamed into place). */
  put(e: Omit<CacheEntry, 'created' | 'size'>, key: string): CacheEntry {
    const entry = { ...e, size: statSync(e.path).size, created: new Date().toISOString() };
    const meta = this.modelPath(e.repo, e.commit, key).replace(/\.gguf$/, '.json');
    writeFileSync(`${meta}.tmp`, JSON.stringify(entry, null, 1));
    renameSync(`${meta}.tmp`, meta);
    return entry;
  }

  list(): CacheEntry[] {
    const out: CacheEntry[] = [];
    const hub = join(this.root, 'hub');
    for (const r of safeDir(hub)) {
      for (const c of safeDir(join(hub, r))) {
        if (c === 'refs') continue;
        for (const f of safeDir(join(hub, r, c))) {
          if (!f.endsWith('.json')) continue;
          const e = this.get(r.replace('--', '/'), c, f.slice(0, -5));
          if (e) out.push(e);
        }
      }
    }
    return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.created.localeCompare(b.created));
  }

  /** Removes a repo's entries (all, or those of one commit), with partials and fetched files. */
  remove(repo: string, commit?: string): string[] {
    const dir = commit ? this.commitDir(repo, commit) : this.repoDir(repo);
    if (!existsSync(dir)) return [];
    const gone = this.list().filter((e) => e.repo === repo && (!commit || e.commit === commit)).map((e) => e.path);
    rmSync(dir, { recursive: true, force: true });
    return gone;
  }
}

function safeDir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}
