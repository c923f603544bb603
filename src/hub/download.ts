// Downloads one repo file into the cache: into `<dest>.partial`, resumed with an HTTP Range from
// the byte it holds after a dropped connection (this run) or an interrupted run (next time), then
// checked against the size and the LFS sha256 and renamed into place. A wrong sha256 or a full disk
// leaves nothing behind; other failures leave the partial for the next attempt.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, statSync, unlinkSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Fairy2iError } from '../errors.js';
import { Progress } from '../convert/progress.js';
import { describe, sleep, type HubHttp, type RequestContext } from './http.js';
import { fileUrl, type RepoFile } from './repo.js';

export interface DownloadOptions {
  quiet?: boolean;
  signal?: AbortSignal;
}

export async function downloadFile(http: HubHttp, repo: string, commit: string, file: RepoFile, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const ctx: RequestContext = { repo, revision: commit.slice(0, 12), file: file.path };
  const partial = `${dest}.partial`;
  let hash = createHash('sha256');
  let have = existsSync(partial) ? statSync(partial).size : 0;
  if (file.size >= 0 && have > file.size) { unlinkSync(partial); have = 0; }
  if (have > 0) await hashFile(partial, hash);
  const fh = await open(partial, have > 0 ? 'r+' : 'w');
  let ok = false, discard = false;
  try {
    const progress = new Progress(file.size > 0 ? file.size : 0, 1, !!opts.quiet, `${file.path} `);
    progress.add(have);
    let expectedSha = file.sha256;
    let size = file.size;
    const attempts = http.config.attempts ?? 5;
    for (let attempt = 1; size < 0 || have < size; attempt++) {
      const { res, hubHeaders } = await http.get(fileUrl(repo, commit, file.path), ctx, { start: have > 0 ? have : undefined, signal: opts.signal });
      const linked = hubHeaders.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '');
      if (!expectedSha && linked && /^[0-9a-f]{64}$/.test(linked)) expectedSha = linked;
      if (size < 0) size = Number(hubHeaders.get('x-linked-size') ?? res.headers.get('content-length') ?? -1);
      if (have > 0 && res.status !== 206) {
        // The server ignored the range and sent the whole file: take it from the start.
        hash = createHash('sha256');
        have = 0;
        await fh.truncate(0);
      }
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          await writeAll(fh, chunk, have, dest);
          hash.update(chunk);
          have += chunk.length;
          progress.add(chunk.length, '');
        }
        if (size < 0) size = have;
      } catch (e) {
        if (e instanceof Fairy2iError) throw e;
        if ((e as Error).name === 'AbortError') throw e;
        // The connection dropped mid-file: continue from the byte we hold.
        if (attempt >= attempts) throw new Fairy2iError('io', `${describe(ctx)}: the connection dropped at byte ${have} of ${size} (gave up after ${attempts} attempts; run again to resume)`);
        await sleep(http.backoff(attempt), opts.signal);
        continue;
      }
      if (have < size) {
        if (attempt >= attempts) throw new Fairy2iError('io', `${describe(ctx)}: the server sent ${have} of ${size} bytes (gave up after ${attempts} attempts; run again to resume)`);
        await sleep(http.backoff(attempt), opts.signal);
      }
    }
    progress.done();
    if (have !== size) {
      discard = true;
      throw new Fairy2iError('input', `${describe(ctx)}: got ${have} bytes, the Hub says ${size}; nothing was cached`);
    }
    const got = hash.digest('hex');
    if (expectedSha && got !== expectedSha) {
      discard = true;
      throw new Fairy2iError('input', `${describe(ctx)}: sha256 mismatch (got ${got}, the Hub's LFS pointer says ${expectedSha}); nothing was cached`);
    }
    await fh.sync();
    await fh.close();
    await rename(partial, dest);
    ok = true;
  } catch (e) {
    if (e instanceof Fairy2iError && e.code === 'io' && /disk is full|cannot write/.test(e.message)) discard = true;
    throw e;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      if (discard) try { unlinkSync(partial); } catch { /* already gone */ }
    }
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

async function writeAll(fh: import('node:fs/promises').FileHandle, data: Uint8Array, pos: number, dest: string): Promise<void> {
  let done = 0;
  while (done < data.length) {
    try {
      done += (await fh.write(data, done, data.length - done, pos + done)).bytesWritten;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const what = code === 'ENOSPC' ? 'the disk is full' : code ?? (e as Error).message;
      throw new Fairy2iError('io', `${dest}: cannot write (${what}); nothing partial was kept`);
    }
  }
}

/** A small file (config, tokenizer) fetched into memory, checked against the git blob sha1 in its ETag. */
export async function fetchSmallFile(http: HubHttp, repo: string, commit: string, path: string, maxBytes = 64 << 20): Promise<Uint8Array> {
  const ctx: RequestContext = { repo, revision: commit.slice(0, 12), file: path };
  const { res, hubHeaders } = await http.get(fileUrl(repo, commit, path), ctx);
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > maxBytes) throw new Fairy2iError('input', `${describe(ctx)}: ${len} bytes is larger than ${maxBytes} for a config or tokenizer file`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const etag = (hubHeaders.get('x-linked-etag') ?? hubHeaders.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  const want = /^[0-9a-f]{64}$/.test(etag) ? createHash('sha256').update(bytes).digest('hex')
    : /^[0-9a-f]{40}$/.test(etag) ? createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex') : etag;
  if (etag && want !== etag) throw new Fairy2iError('input', `${describe(ctx)}: content does not match its ETag ${etag}`);
  return bytes;
}
