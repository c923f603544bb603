// A Hugging Face checkpoint read over HTTP ranges, so `pull` converts it while it streams: the
// config and tokenizer files are fetched first (into the cache, they are small), then each shard's
// safetensors header by two Range requests, then each tensor's bytes only when the converter asks
// for it (Checkpoint.prefetch), held in memory until it has been read once. Disk: none for the
// checkpoint; memory: one tensor's source bytes beside the converter's own bound.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fairy2iError, FormatError } from '../errors.js';
import type { Checkpoint } from '../convert/checkpoint.js';
import { openHfCheckpoint, type Shard } from '../convert/checkpoint-hf.js';
import { parseSafetensorsHeader, readTensorF32, safetensorsHeaderLength, type SafeTensor } from '../convert/safetensors.js';
import { describe, sleep, type HubHttp, type RequestContext } from './http.js';
import { fetchSmallFile } from './download.js';
import { fileUrl, type RepoInfo } from './repo.js';

/** The small files a checkpoint is described by; fetched whole, before any weight. */
export const CHECKPOINT_META = ['config.json', 'model.safetensors.index.json', 'tokenizer.model', 'tokenizer.json', 'tokenizer_config.json'];

export function isCheckpoint(info: RepoInfo): boolean {
  const names = new Set(info.files.map((f) => f.path));
  return names.has('config.json') && (names.has('model.safetensors') || names.has('model.safetensors.index.json'));
}

export async function openRemoteCheckpoint(http: HubHttp, info: RepoInfo, metaDir: string): Promise<Checkpoint> {
  const names = new Set(info.files.map((f) => f.path));
  mkdirSync(metaDir, { recursive: true });
  for (const f of CHECKPOINT_META) {
    if (!names.has(f)) continue;
    const bytes = await fetchSmallFile(http, info.repo, info.commit, f);
    try {
      writeFileSync(join(metaDir, f), bytes);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Fairy2iError('io', `${join(metaDir, f)}: cannot write (${code === 'ENOSPC' ? 'the disk is full' : code ?? (e as Error).message})`);
    }
  }
  let shardNames = ['model.safetensors'];
  if (names.has('model.safetensors.index.json')) {
    const { readFileSync } = await import('node:fs');
    const idx = JSON.parse(readFileSync(join(metaDir, 'model.safetensors.index.json'), 'utf8'));
    const map = idx?.weight_map;
    if (typeof map !== 'object' || map === null) throw new FormatError(`${info.repo}: model.safetensors.index.json`, 'weight_map', 'missing or not an object');
    shardNames = [...new Set(Object.values(map as Record<string, string>).filter((v) => typeof v === 'string'))];
  }
  const shards = new Map<string, RemoteShard>();
  for (const name of shardNames) {
    const file = info.files.find((f) => f.path === name);
    if (!file) continue; // openHfCheckpoint reports the missing shard
    shards.set(name, await RemoteShard.open(http, info, name, file.size));
  }
  const ck = openHfCheckpoint(metaDir, { has: (f) => shards.has(f), open: (f) => shards.get(f)! });
  return { ...ck, hyper: { ...ck.hyper, name: info.repo.split('/')[1] } };
}

class RemoteShard implements Shard {
  private readonly held = new Map<string, Uint8Array>();

  private constructor(private readonly http: HubHttp, private readonly ctx: RequestContext, private readonly url: string,
    readonly path: string, readonly tensors: Map<string, SafeTensor>) {}

  static async open(http: HubHttp, info: RepoInfo, name: string, size: number): Promise<RemoteShard> {
    const ctx = { repo: info.repo, revision: info.commit.slice(0, 12), file: name };
    const url = fileUrl(info.repo, info.commit, name);
    const path = `hf:${info.repo}@${info.commit.slice(0, 12)}/${name}`;
    if (size < 8) throw new FormatError(path, 'header length', `file is ${size} bytes, too short for a safetensors header`);
    const n = safetensorsHeaderLength(await fetchRange(http, ctx, url, 0, 8), size, path);
    const tensors = parseSafetensorsHeader(await fetchRange(http, ctx, url, 8, 8 + n), size, path);
    return new RemoteShard(http, ctx, url, path, tensors);
  }

  async prefetch(name: string): Promise<void> {
    const t = this.tensors.get(name);
    if (!t || this.held.has(name)) return;
    this.held.set(name, await fetchRange(this.http, { ...this.ctx, file: `${this.ctx.file} (${name})` }, this.url, t.begin, t.end));
  }

  readF32(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(this.path, name, 'tensor missing');
    const bytes = this.held.get(name);
    if (!bytes) throw new Error(`internal: ${this.path}: ${name} read before prefetch`);
    this.held.delete(name);
    return readTensorF32(t, (dst, pos) => dst.set(bytes.subarray(pos - t.begin, pos - t.begin + dst.length)), this.path);
  }

  close(): void {
    this.held.clear();
  }
}

/** Bytes [start, end) of a repo file by Range requests, continuing from the byte held after a drop. */
async function fetchRange(http: HubHttp, ctx: RequestContext, url: string, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let got = 0;
  const attempts = http.config.attempts ?? 5;
  for (let attempt = 1; got < out.length; attempt++) {
    const { res } = await http.get(url, ctx, { start: start + got, end });
    if (res.status !== 206) {
      await res.body?.cancel();
      throw new Fairy2iError('unsupported', `${describe(ctx)}: the server ignored the byte range (HTTP ${res.status}); streamed conversion needs Range support`);
    }
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (got + chunk.length > out.length) throw new Fairy2iError('input', `${describe(ctx)}: the server sent more than the ${out.length} bytes asked for`);
        out.set(chunk, got);
        got += chunk.length;
      }
    } catch (e) {
      if (e instanceof Fairy2iError || (e as Error).name === 'AbortError') throw e;
    }
    if (got < out.length) {
      if (attempt >= attempts) throw new Fairy2iError('io', `${describe(ctx)}: the connection dropped at byte ${start + got} (gave up after ${attempts} attempts; run again to resume)`);
      await sleep(http.backoff(attempt));
    }
  }
  return out;
}
