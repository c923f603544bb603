// HTTP to the Hugging Face Hub: redirects followed by hand so the token never leaves the Hub's
// origin, retries with backoff on dropped connections and 5xx/429, and the Hub's error statuses
// turned into one-line Fairy2iErrors that say what to do. The token is only ever put in the
// Authorization header of requests to the endpoint's own origin; it is never part of a message.

import { Fairy2iError } from '../errors.js';

export interface HubConfig {
  /** Base URL of the Hub or a mirror (HF_ENDPOINT). @default https://huggingface.co */
  endpoint: string;
  /** Access token for gated or private repos (HF_TOKEN). */
  token?: string;
  /** Never touch the network (HF_HUB_OFFLINE=1): only what is cached can be used. */
  offline: boolean;
  /** Attempts per request before giving up on a dropped connection or a 5xx. @default 5 */
  attempts?: number;
  /** First retry delay in ms, doubled each time (capped at 8 s). @default 500 */
  backoffMs?: number;
}

export function hubConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;
  const offline = ['1', 'true', 'yes', 'on'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
  return { endpoint, token, offline };
}

/** What a failed request was for, to word its error. */
export interface RequestContext {
  repo: string;
  revision: string;
  file?: string;
}

const MAX_REDIRECTS = 10;

export class HubHttp {
  private readonly origin: string;

  constructor(readonly config: HubConfig) {
    this.origin = new URL(config.endpoint).origin;
  }

  /**
   * GETs a URL (relative ones are taken from the endpoint), following redirects, and returns the
   * final 2xx response with its body unread. `headers` of the Hub's own response before a redirect
   * (X-Repo-Commit, X-Linked-Etag, X-Linked-Size) are merged into `hubHeaders`.
   */
  async get(path: string, ctx: RequestContext, opts: { start?: number; end?: number; signal?: AbortSignal } = {}): Promise<{ res: Response; hubHeaders: Headers }> {
    if (this.config.offline) throw new Fairy2iError('input', `${ctx.repo}: HF_HUB_OFFLINE is set and ${ctx.file ?? 'the repo'} is not in the cache`);
    const attempts = this.config.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(path, ctx, opts);
      } catch (e) {
        if (!(e instanceof Retryable) || attempt >= attempts) {
          if (e instanceof Retryable) throw new Fairy2iError('io', `${describe(ctx)}: ${e.message} (gave up after ${attempts} attempts)`);
          throw e;
        }
        await sleep(this.backoff(attempt), opts.signal);
      }
    }
  }

  backoff(attempt: number): number {
    return Math.min(8000, (this.config.backoffMs ?? 500) * 2 ** (attempt - 1));
  }

  private async once(path: string, ctx: RequestContext, opts: { start?: number; end?: number; signal?: AbortSignal }) {
    let url = new URL(path, this.config.endpoint + '/');
    const hubHeaders = new Headers();
    let withToken = true;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { 'user-agent': 'fairy2i-wasm' };
      // Once a redirect has left the Hub's origin (its CDN), the token stays behind for good.
      if (withToken && this.config.token && url.origin === this.origin) headers.authorization = `Bearer ${this.config.token}`;
      else withToken = false;
      if (opts.start !== undefined) headers.range = `bytes=${opts.start}-${opts.end !== undefined ? opts.end - 1 : ''}`;
      let res: Response;
      try {
        res = await fetch(url, { headers, redirect: 'manual', signal: opts.signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw new Retryable(`cannot reach ${url.host} (${causeOf(e)})`);
      }
      for (const h of ['x-repo-commit', 'x-linked-etag', 'x-linked-size', 'etag']) {
        const v = res.headers.get(h);
        if (v !== null && !hubHeaders.has(h)) hubHeaders.set(h, v);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        await res.body?.cancel();
        url = new URL(res.headers.get('location')!, url);
        continue;
      }
      if (res.ok) return { res, hubHeaders };
      const code = res.headers.get('x-error-code') ?? '';
      await res.body?.cancel();
      if (res.status >= 500 || res.status === 429 || res.status === 408) throw new Retryable(`HTTP ${res.status} from ${url.host}`);
      throw this.statusError(res.status, code, ctx);
    }
    throw new Fairy2iError('input', `${describe(ctx)}: more than ${MAX_REDIRECTS} redirects`);
  }

  private statusError(status: number, code: string, ctx: RequestContext): Fairy2iError {
    const page = `${this.config.endpoint}/${ctx.repo}`;
    const tokenHint = this.config.token ? 'the token in HF_TOKEN was not accepted for it' : 'set HF_TOKEN to a token of an account that has access';
    if (status === 401 || status === 403) {
      if (code === 'GatedRepo' || status === 403) {
        return new Fairy2iError('input', `${ctx.repo} is gated: accept its licence at ${page} and ${this.config.token ? 'use a token of that account in HF_TOKEN' : 'set HF_TOKEN to a token of that account'} (HTTP ${status})`);
      }
      return new Fairy2iError('input', `${ctx.repo}: repository not found, or private or gated (${tokenHint}; HTTP ${status})`);
    }
    if (status === 404) {
      if (code === 'RevisionNotFound') return new Fairy2iError('input', `${ctx.repo}: revision '${ctx.revision}' not found`);
      if (code === 'RepoNotFound') return new Fairy2iError('input', `${ctx.repo}: repository not found on ${this.config.endpoint}`);
      return new Fairy2iError('input', `${describe(ctx)}: not found (HTTP 404)`);
    }
    if (status === 416) return new Fairy2iError('input', `${describe(ctx)}: the server refused the byte range (HTTP 416)`);
    return new Fairy2iError('input', `${describe(ctx)}: HTTP ${status}`);
  }
}

/** A failure worth another attempt: a dropped connection, a 5xx, a 429. */
export class Retryable extends Error {}

export function describe(ctx: RequestContext): string {
  return `${ctx.repo}@${ctx.revision}${ctx.file ? `: ${ctx.file}` : ''}`;
}

function causeOf(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}
