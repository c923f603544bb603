// Where model bytes come from. The loader pulls bytes straight into wasm memory through `read`, so
// no second whole copy of the model is staged (a caller-supplied buffer is copied once, into wasm).

import { Fairy2iError } from './errors.js';

export interface ByteSource {
  /** Shown in errors: a path, a URL, or "(buffer)". */
  name: string;
  /** Total bytes, when known in advance. */
  size?: number;
  /** Fills `dst` from the current position; returns the bytes written, 0 at the end. */
  read(dst: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** The sources loadModel takes, for the error that names what it got instead. */
export const ACCEPTED_SOURCES = 'a path or URL string, a URL, an ArrayBuffer, a Uint8Array or a Response';

/** What `v` is, in words for an error message (never the value itself: it may be a whole model). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v !== 'object') return `a ${typeof v}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'a plain object';
}

export function bytesSource(bytes: ArrayBuffer | Uint8Array, name = '(buffer)'): ByteSource {
  const shared = typeof SharedArrayBuffer !== 'undefined' && bytes instanceof SharedArrayBuffer;
  if (!(bytes instanceof Uint8Array || bytes instanceof ArrayBuffer || shared)) {
    throw new Fairy2iError('input', `loadModel: the source is ${describeValue(bytes)}; expected ${ACCEPTED_SOURCES}`);
  }
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let pos = 0;
  return {
    name,
    size: u8.length,
    read: async (dst) => {
      const n = Math.min(dst.length, u8.length - pos);
      dst.set(u8.subarray(pos, pos + n));
      pos += n;
      return n;
    },
    close: async () => {},
  };
}

/** A fetch Response: its body is streamed; Content-Length (when sent) gives the size up front. */
export function responseSource(res: Response, name = res.url || '(response)'): ByteSource {
  if (!res.ok) throw new Fairy2iError('input', `${name}: HTTP ${res.status} ${res.statusText}`);
  if (!res.body) throw new Fairy2iError('input', `${name}: the response has no body`);
  const reader = res.body.getReader();
  const len = Number(res.headers.get('content-length'));
  let rest: Uint8Array | null = null;
  return {
    name,
    size: Number.isFinite(len) && len > 0 && !res.headers.get('content-encoding') ? len : undefined,
    read: async (dst) => {
      let n = 0;
      while (n < dst.length) {
        if (!rest || rest.length === 0) {
          const { done, value } = await reader.read();
          if (done) break;
          rest = value;
        }
        const k = Math.min(dst.length - n, rest.length);
        dst.set(rest.subarray(0, k), n);
        rest = rest.subarray(k);
        n += k;
      }
      return n;
    },
    close: async () => { try { await reader.cancel(); } catch { /* already done */ } },
  };
}

export async function urlSource(url: string | URL, signal?: AbortSignal): Promise<ByteSource> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new Fairy2iError('input', `${String(url)}: cannot fetch (${(e as Error).message})`);
  }
  return responseSource(res, String(url));
}
