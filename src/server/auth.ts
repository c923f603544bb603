// The API key check. Both keys are hashed (SHA-256, Web Crypto) and the digests compared in full
// with no early exit, so the time taken says nothing about how much of a guess was right — the
// same property as node:crypto's timingSafeEqual on hashes, in the web-standard API every runtime
// the handler serves under (Node, Deno, Bun, workerd) has.

const enc = new TextEncoder();

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(s)));
}

export function keyChecker(key: string): (authorization: string | null) => Promise<boolean> {
  const want = digest(key);
  return async (authorization) => {
    const m = authorization ? /^Bearer\s+(.+)$/i.exec(authorization.trim()) : null;
    const got = await digest(m ? m[1] : '');
    const w = await want;
    let diff = m ? 0 : 1;
    for (let i = 0; i < w.length; i++) diff |= w[i] ^ got[i];
    return diff === 0;
  };
}
