// Naming a model on the Hub (`OWNER/REPO[@REVISION][/FILE]`, also as `hf:…`) and resolving it with
// the model-info API: GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true gives the commit
// the revision points to (`sha`) and every file with its size and, for LFS files, the sha256.

import { Fairy2iError } from '../errors.js';
import type { HubHttp } from './http.js';

export interface RepoRef {
  repo: string;
  revision: string;
  /** A file of the repo, when the name picked one. */
  file?: string;
}

export interface RepoFile {
  path: string;
  size: number;
  /** LFS files only: the sha256 of the content (the Hub's X-Linked-Etag). */
  sha256?: string;
}

export interface RepoInfo {
  repo: string;
  revision: string;
  /** The 40-hex commit the revision resolved to. */
  commit: string;
  files: RepoFile[];
}

const NAME = /^([A-Za-z0-9][\w.-]*)\/([\w.-]+)(?:@([\w.-]+))?(?:\/(.+))?$/;

/** Parses `OWNER/REPO[@REVISION][/FILE]` (with or without the `hf:` prefix). */
export function parseRepoRef(spec: string): RepoRef {
  const s = spec.startsWith('hf:') ? spec.slice(3) : spec;
  const m = NAME.exec(s);
  if (!m || m[2].endsWith('.') || (m[4] && m[4].split('/').some((p) => p === '..' || p === '.' || p === ''))) {
    throw new Fairy2iError('option', `'${spec}' is not a Hub model name (expected OWNER/REPO[@REVISION][/FILE], e.g. PKU-DS-LAB/Fairy2i-W2)`);
  }
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main', ...(m[4] ? { file: m[4] } : {}) };
}

export function fileUrl(repo: string, revision: string, path: string): string {
  return `${repo}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export async function modelInfo(http: HubHttp, ref: RepoRef): Promise<RepoInfo> {
  const ctx = { repo: ref.repo, revision: ref.revision };
  const { res } = await http.get(`api/models/${ref.repo}/revision/${encodeURIComponent(ref.revision)}?blobs=true`, ctx);
  let body: any;
  try {
    body = await res.json();
  } catch (e) {
    throw new Fairy2iError('input', `${ref.repo}@${ref.revision}: the model-info response is not JSON (${(e as Error).message})`);
  }
  if (typeof body?.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha) || !Array.isArray(body.siblings)) {
    throw new Fairy2iError('input', `${ref.repo}@${ref.revision}: the model-info response has no commit sha or file list`);
  }
  const files: RepoFile[] = [];
  for (const s of body.siblings) {
    if (typeof s?.rfilename !== 'string') continue;
    const size = typeof s.lfs?.size === 'number' ? s.lfs.size : typeof s.size === 'number' ? s.size : -1;
    const sha = typeof s.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.lfs.sha256) ? s.lfs.sha256 : undefined;
    files.push({ path: s.rfilename, size, ...(sha ? { sha256: sha } : {}) });
  }
  return { repo: ref.repo, revision: ref.revision, commit: body.sha, files };
}
