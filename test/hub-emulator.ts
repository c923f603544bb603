// A loopback emulator of the Hugging Face Hub, for the hub tests and bench/pull.ts. It behaves like
// the real service where our client depends on it:
//  - GET /api/models/{repo}/revision/{rev}[?blobs=true]: {id, sha, siblings: [{rfilename, size,
//    lfs?: {sha256, size, pointerSize}}]}; 401 + X-Error-Code: RepoNotFound for an unknown repo,
//    404 + RevisionNotFound for an unknown revision.
//  - GET /{repo}/resolve/{rev}/{path}: small (git) files inline with ETag = git blob sha1; LFS files
//    (.safetensors, .gguf, .model) a 302 to a CDN on another origin (a second server, another port)
//    with X-Repo-Commit, X-Linked-Etag (the sha256) and X-Linked-Size, as the Hub does; 404 +
//    EntryNotFound for an unknown file; gated repos 401 (no token) / 403 (a token without access)
//    + X-Error-Code: GatedRepo.
//  - the CDN: Range requests (206 + Content-Range), counting every body byte it sends and recording
//    any Authorization header it receives (it must never get one).
// Faults for the tests: drop the connection after N bytes of a file (once), lie about a sha256.

import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface EmulatedRepo {
  id: string;
  dir: string;
  /** Only these files of dir (default: all). */
  files?: string[];
  /** Needs this token to download files. */
  gatedToken?: string;
}

interface FileRec { path: string; abs: string; size: number; lfs: boolean; sha256: string; gitSha: string }
interface RepoRec { id: string; commit: string; files: Map<string, FileRec>; gatedToken?: string }

const LFS = /\.(safetensors|gguf|model|bin)$/;

export class HubEmulator {
  readonly repos = new Map<string, RepoRec>();
  /** Body bytes the CDN sent, per file path. */
  readonly cdnBytes = new Map<string, number>();
  /** Every request: which server, its path, its Range header, and whether it carried a token. */
  readonly log: { server: 'hub' | 'cdn'; path: string; range?: string; auth?: string }[] = [];
  /** file path → drop the connection after this many body bytes of the next response for it that is longer. */
  readonly dropAfter = new Map<string, number>();
  /** file path → sha256 to announce instead of the real one. */
  readonly fakeSha = new Map<string, string>();
  /** When set, every model-info request answers this status (e.g. 500s for retry tests). */
  failInfo: number[] = [];
  private hub!: Server;
  private cdn!: Server;
  endpoint = '';
  private cdnOrigin = '';

  constructor(repos: EmulatedRepo[]) {
    for (const r of repos) {
      const files = new Map<string, FileRec>();
      for (const name of r.files ?? readdirSync(r.dir)) {
        const abs = join(r.dir, name);
        const size = statSync(abs).size;
        const lfs = LFS.test(name);
        const data = size < (256 << 20) ? readFileSync(abs) : null;
        const sha256 = data ? createHash('sha256').update(data).digest('hex') : hashBig(abs);
        const gitSha = data ? createHash('sha1').update(`blob ${size}\0`).update(data).digest('hex') : sha256.slice(0, 40);
        files.set(name, { path: name, abs, size, lfs, sha256, gitSha });
      }
      const commit = createHash('sha1').update(r.id + [...files.values()].map((f) => f.sha256).join()).digest('hex');
      this.repos.set(r.id, { id: r.id, commit, files, gatedToken: r.gatedToken });
    }
  }

  async start(): Promise<this> {
    this.hub = createServer((q, s) => this.onHub(q, s));
    this.cdn = createServer((q, s) => this.onCdn(q, s));
    await Promise.all([listen(this.hub), listen(this.cdn)]);
    this.endpoint = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnOrigin = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    // Never keep a test process alive.
    this.hub.unref();
    this.cdn.unref();
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  commitOf(id: string): string {
    return this.repos.get(id)!.commit;
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    this.log.push({ server: 'hub', path: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    const err = (status: number, code: string, msg: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': msg });
      res.end(JSON.stringify({ error: msg }));
    };
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const fail = this.failInfo.shift();
      if (fail) return err(fail, 'Internal', 'emulated failure');
      const repo = this.repos.get(decodeURIComponent(m[1]));
      if (!repo) return err(401, 'RepoNotFound', 'Repository not found');
      const rev = decodeURIComponent(m[2]);
      if (rev !== 'main' && rev !== repo.commit) return err(404, 'RevisionNotFound', 'Invalid rev id');
      const siblings = [...repo.files.values()].map((f) => ({
        rfilename: f.path, blobId: f.gitSha, size: f.size,
        ...(f.lfs ? { lfs: { sha256: this.fakeSha.get(f.path) ?? f.sha256, size: f.size, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ _id: repo.commit.slice(0, 24), id: repo.id, modelId: repo.id, sha: repo.commit, private: false, gated: repo.gatedToken ? 'manual' : false, siblings }));
      return;
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return err(404, 'NotFound', 'no such endpoint');
    const repo = this.repos.get(decodeURIComponent(m[1]));
    if (!repo) return err(401, 'RepoNotFound', 'Repository not found');
    const rev = decodeURIComponent(m[2]);
    if (rev !== 'main' && rev !== repo.commit) return err(404, 'RevisionNotFound', 'Invalid rev id');
    if (repo.gatedToken) {
      const auth = req.headers.authorization;
      if (!auth) return err(401, 'GatedRepo', 'Access to this model is restricted');
      if (auth !== `Bearer ${repo.gatedToken}`) return err(403, 'GatedRepo', 'Access to this model is restricted');
    }
    const path = m[3].split('/').map(decodeURIComponent).join('/');
    const f = repo.files.get(path);
    if (!f) return err(404, 'EntryNotFound', 'Entry not found');
    const sha = this.fakeSha.get(f.path) ?? f.sha256;
    if (f.lfs) {
      res.writeHead(302, {
        location: `${this.cdnOrigin}/repos/${repo.commit.slice(0, 8)}/${sha}?repo=${encodeURIComponent(repo.id)}&file=${encodeURIComponent(f.path)}&X-Amz-Signature=emulated`,
        'x-repo-commit': repo.commit, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(f.size), etag: `"${f.gitSha}"`,
      });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': f.size, etag: `"${f.gitSha}"`, 'x-repo-commit': repo.commit });
    res.end(readFileSync(f.abs));
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    this.log.push({ server: 'cdn', path: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    const file = url.searchParams.get('file') ?? '';
    const rec = this.repos.get(url.searchParams.get('repo') ?? '')?.files.get(file);
    if (!rec) { res.writeHead(404); res.end(); return; }
    let start = 0, end = rec.size; // [start, end)
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(rec.size, Number(range[2]) + 1) : rec.size;
      if (start >= rec.size || start >= end) { res.writeHead(416, { 'content-range': `bytes */${rec.size}` }); res.end(); return; }
      res.writeHead(206, { 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${rec.size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': rec.size, 'accept-ranges': 'bytes' });
    }
    // A pending drop hits the first response long enough to reach it.
    let drop = this.dropAfter.get(file);
    if (drop !== undefined && end - start > drop) this.dropAfter.delete(file);
    else drop = undefined;
    let sent = 0;
    const stream = createReadStream(rec.abs, { start, end: end - 1, highWaterMark: 1 << 16 });
    stream.on('data', (chunk: Buffer | string) => {
      let c = chunk as Buffer;
      if (drop !== undefined && sent + c.length > drop) c = c.subarray(0, drop - sent);
      sent += c.length;
      this.cdnBytes.set(file, (this.cdnBytes.get(file) ?? 0) + c.length);
      const cut = drop !== undefined && sent >= drop;
      // The bytes before the cut are flushed, then the connection closes before the body is complete.
      if (cut) { stream.destroy(); res.write(c, () => res.socket?.end()); } else if (c.length) res.write(c);
    });
    stream.on('end', () => res.end());
  }
}

function listen(s: Server): Promise<void> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r()));
}

function hashBig(path: string): string {
  // Synchronous chunked sha256 for files too large to read at once (bench checkpoints).
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(16 << 20);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  closeSync(fd);
  return h.digest('hex');
}
