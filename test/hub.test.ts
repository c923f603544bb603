// `pull`, `hf:` sources, `models`, `rm` against a loopback emulator of the Hugging Face Hub
// (test/hub-emulator.ts) serving ../shared's stories260K checkpoints and a converted model file.
// The CLI cases run the real CLI with HF_ENDPOINT / HF_TOKEN / FAIRY2I_CACHE, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { convert } from '../src/convert/convert.ts';
import { pull } from '../src/hub/pull.ts';
import { loadModel } from '../src/node.ts';
import { tempDir } from './fixtures.ts';
import { HubEmulator } from './hub-emulator.ts';
import { sharedPath, sharedSuite } from './shared.ts';

const CLI = 'bin/fairy2i-wasm.js';
const TOKEN = 'hf_SECRETtoken0123456789';
const dir = tempDir('fairy2i-hub-');
const GGUF_REPO = join(dir, 'gguf-repo');
const LLAMA_REPO = join(dir, 'llama-gguf-repo');
let hub: HubEmulator;

function env(cache: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN, FAIRY2I_CACHE: cache, HF_HUB_OFFLINE: '', ...extra };
}
/** The CLI run asynchronously (the emulator lives in this process, so spawnSync would block it). */
function cli(args: string[], e: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: e });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.on('close', (status) => { clearTimeout(t); resolve({ status, stdout, stderr }); });
  });
}
const ggufBytes = () => hub.cdnBytes.get('stories260K-w2.gguf') ?? 0;
const hubOpts = (extra: Record<string, unknown> = {}) => ({ endpoint: hub.endpoint, token: TOKEN, offline: false, backoffMs: 1, ...extra });

const t = sharedSuite('hub: pull and hf: sources against a loopback Hub');

t.before(async () => {
  mkdirSync(GGUF_REPO);
  await convert(sharedPath('models/stories260K-hf'), { output: join(GGUF_REPO, 'stories260K-w2.gguf'), stages: 2, quiet: true });
  writeFileSync(join(GGUF_REPO, 'README.md'), '# a Fairy2i model file\n');
  // The same file with another architecture name (same length): what a llama.cpp repo holds.
  mkdirSync(LLAMA_REPO);
  const g = readFileSync(join(GGUF_REPO, 'stories260K-w2.gguf'));
  const at = g.indexOf('fairy2i', 0, 'latin1');
  writeFileSync(join(LLAMA_REPO, 'model.gguf'), Buffer.concat([g.subarray(0, at), Buffer.from('llama2x'), g.subarray(at + 7)]));
  hub = await new HubEmulator([
    { id: 'test/stories-gguf', dir: GGUF_REPO },
    { id: 'test/stories260K-hf', dir: sharedPath('models/stories260K-hf') },
    { id: 'test/stories260K-hf-bf16', dir: sharedPath('models/stories260K-hf-bf16') },
    { id: 'test/gated', dir: GGUF_REPO, gatedToken: 'hf_theRightOne' },
    { id: 'test/empty', dir: GGUF_REPO, files: ['README.md'] },
    { id: 'test/llama-gguf', dir: LLAMA_REPO },
  ]).start();
});
t.after(async () => { await hub?.stop().catch(() => {}); });

t('pull a model-file repo, run it through -m hf:, token only ever sent to the Hub itself', async () => {
  const cache = join(dir, 'c1');
  const p = await cli(['pull', 'test/stories-gguf'], env(cache));
  assert.is(p.status, 0, p.stderr);
  const path = p.stdout.trim();
  assert.ok(path.startsWith(cache), path);
  assert.equal(readFileSync(path), readFileSync(join(GGUF_REPO, 'stories260K-w2.gguf')), 'cached file is the repo file');
  const local = await cli(['run', '-m', join(GGUF_REPO, 'stories260K-w2.gguf'), '-p', 'Once upon', '-n', '12', '--temperature', '0'], env(cache));
  const viaHub = await cli(['run', '-m', 'hf:test/stories-gguf', '-p', 'Once upon', '-n', '12', '--temperature', '0'], env(cache));
  assert.is(viaHub.status, 0, viaHub.stderr);
  assert.is(viaHub.stdout, local.stdout);
  assert.ok(local.stdout.length > 10, local.stdout);
  // Hub requests carry the token, the CDN never sees it; it is in no output and no cache path.
  assert.ok(hub.log.some((r) => r.server === 'hub' && r.auth === `Bearer ${TOKEN}`));
  assert.ok(hub.log.filter((r) => r.server === 'cdn').length > 0);
  assert.ok(hub.log.every((r) => r.server === 'hub' || r.auth === undefined), 'Authorization sent to the CDN');
  for (const out of [p, viaHub]) assert.not.match(out.stdout + out.stderr, 'SECRET');
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => statSync(join(d, f)).isDirectory() ? [f, ...walk(join(d, f))] : [f]);
  assert.ok(walk(cache).every((f) => !f.includes('SECRET')));
  const models = await cli(['models', '--json'], env(cache));
  const list = JSON.parse(models.stdout);
  assert.is(list.length, 1);
  assert.equal([list[0].repo, list[0].revision, list[0].commit, list[0].kind, list[0].path], ['test/stories-gguf', 'main', hub.commitOf('test/stories-gguf'), 'file', path]);
});

t('a second -m hf: uses the cache: one revision check online, none offline, and it works with the Hub down', async () => {
  const cache = join(dir, 'c1');
  const before = hub.log.length, bytes = ggufBytes();
  const r = await cli(['run', '-m', 'hf:test/stories-gguf', '-p', 'Once', '-n', '4', '--temperature', '0'], env(cache));
  assert.is(r.status, 0, r.stderr);
  assert.equal(hub.log.slice(before).map((x) => x.path), ['/api/models/test/stories-gguf/revision/main']);
  assert.is(ggufBytes(), bytes, 'no file bytes fetched again');
  const off = await cli(['run', '-m', 'hf:test/stories-gguf', '-p', 'Once', '-n', '4', '--temperature', '0'], env(cache, { HF_HUB_OFFLINE: '1' }));
  assert.is(off.status, 0, off.stderr);
  assert.is(off.stdout, r.stdout);
  assert.is(hub.log.length, before + 1, 'offline: no request at all');
  // The library takes hf: sources too (the same cache, the same environment variables).
  const saved = { ...process.env };
  Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, FAIRY2I_CACHE: cache, HF_HUB_OFFLINE: '1' });
  try {
    const lib = await loadModel('hf:test/stories-gguf', {});
    assert.is((await lib.complete('Once', { temperature: 0, maxTokens: 4 })).text.length > 0, true);
    lib.dispose();
  } finally {
    for (const k of ['HF_ENDPOINT', 'FAIRY2I_CACHE', 'HF_HUB_OFFLINE']) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
});

t('the Hub stopped: a cached -m hf: still runs (after one failed revision check), with a note', async () => {
  const hub2 = await new HubEmulator([{ id: 'test/stories-gguf', dir: GGUF_REPO }]).start();
  const cache = join(dir, 'c7');
  const e = { ...process.env, HF_ENDPOINT: hub2.endpoint, FAIRY2I_CACHE: cache, HF_TOKEN: '', HF_HUB_OFFLINE: '' };
  const p = await cli(['pull', 'test/stories-gguf', '-q'], e);
  assert.is(p.status, 0, p.stderr);
  await hub2.stop();
  const r = await cli(['run', '-m', 'hf:test/stories-gguf', '-p', 'Once', '-n', '4', '--temperature', '0'], e);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /test\/stories-gguf: the Hub cannot be reached .*; using the cached [0-9a-f]{12}/);
  assert.ok(r.stdout.length > 4);
});

t('the connection dropped mid-file: resumed from the byte, nothing re-sent', async () => {
  const size = statSync(join(GGUF_REPO, 'stories260K-w2.gguf')).size;
  const cut = Math.floor(size / 3) + 7;
  hub.dropAfter.set('stories260K-w2.gguf', cut);
  const before = ggufBytes(), logAt = hub.log.length;
  const r = await pull('test/stories-gguf', { hub: hubOpts(), cacheDir: join(dir, 'c2'), quiet: true });
  assert.equal(readFileSync(r.path), readFileSync(join(GGUF_REPO, 'stories260K-w2.gguf')));
  // The second request starts where the client's file ended (at most the cut: bytes in flight when
  // the connection closed may be lost), and the CDN sends the rest once: nothing before it again.
  // (After the 4 KiB look at the header that checks the architecture.)
  const [check, ...cdn] = hub.log.slice(logAt).filter((x) => x.server === 'cdn');
  assert.is(check.range, 'bytes=0-4095');
  assert.is(cdn.length, 2, JSON.stringify(cdn));
  assert.is(cdn[0].range, undefined);
  const resumeAt = Number(/^bytes=(\d+)-$/.exec(cdn[1].range ?? '')?.[1]);
  assert.ok(resumeAt > 0 && resumeAt <= cut, `resumed at ${resumeAt}, cut at ${cut}`);
  assert.is(ggufBytes() - before - 4096, cut + (size - resumeAt), 'bytes served: the cut, then the rest from the resume point');
});

t('errors: unknown repo (401), gated without and with a wrong token, unknown file and revision (404), neither model nor checkpoint', async () => {
  const c = join(dir, 'c3');
  const e1 = await cli(['pull', 'nobody/nothing'], env(c));
  assert.is(e1.status, 1);
  assert.match(e1.stderr, /nobody\/nothing: repository not found, or private or gated/);
  const e2 = await cli(['pull', 'test/gated'], env(c, { HF_TOKEN: '' }));
  assert.match(e2.stderr, /test\/gated is gated: accept its licence at http:\/\/127\.0\.0\.1:\d+\/test\/gated and set HF_TOKEN/);
  const e3 = await cli(['pull', 'test/gated'], env(c));
  assert.match(e3.stderr, /test\/gated is gated: .*\(HTTP 403\)/, e3.stderr);
  assert.not.match(e3.stderr, 'SECRET');
  const ok = await pull('test/gated', { hub: hubOpts({ token: 'hf_theRightOne' }), cacheDir: c, quiet: true });
  assert.ok(existsSync(ok.path));
  const e4 = await cli(['pull', 'test/stories-gguf/missing.gguf'], env(c));
  assert.match(e4.stderr, /test\/stories-gguf@main: no file 'missing\.gguf'/);
  const e5 = await cli(['pull', 'test/stories-gguf@v9'], env(c));
  assert.match(e5.stderr, /revision 'v9' not found/);
  const e6 = await cli(['pull', 'test/empty'], env(c));
  assert.match(e6.stderr, /holds neither a Fairy2i model file \(\.gguf\) nor a Hugging Face checkpoint/);
  const before = hub.cdnBytes.get('model.gguf') ?? 0;
  const e9 = await cli(['pull', 'test/llama-gguf'], env(c));
  assert.match(e9.stderr, /test\/llama-gguf: model\.gguf is a GGUF model of architecture 'llama2x', not a Fairy2i model file/);
  assert.ok((hub.cdnBytes.get('model.gguf') ?? 0) - before <= 4096, 'refused after its first bytes');
  const e7 = await cli(['pull', 'not a repo'], env(c));
  assert.is(e7.status, 2);
  const e8 = await cli(['run', '-m', 'hf:test/stories-gguf', '-p', 'x'], env(join(dir, 'empty-cache'), { HF_HUB_OFFLINE: '1' }));
  assert.match(e8.stderr, /not in the cache .* HF_HUB_OFFLINE is set/);
});

t('a wrong sha256 caches nothing', async () => {
  const c = join(dir, 'c4');
  hub.fakeSha.set('stories260K-w2.gguf', 'ab'.repeat(32));
  try {
    const r = await cli(['pull', 'test/stories-gguf'], env(c));
    assert.is(r.status, 1);
    assert.match(r.stderr, /stories260K-w2\.gguf: sha256 mismatch \(got [0-9a-f]{64}, the Hub's LFS pointer says abab.*\); nothing was cached/);
  } finally {
    hub.fakeSha.delete('stories260K-w2.gguf');
  }
  const files = readdirSync(join(c, 'hub', 'test--stories-gguf', hub.commitOf('test/stories-gguf')));
  assert.equal(files, []);
});

t('a full disk: a clear error and nothing partial left (download and streamed conversion)', async () => {
  const mnt = join(dir, 'full');
  mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=100k', 'tmpfs', mnt]);
  if (m.status !== 0) {
    console.log('  (skipped the full-disk case: cannot mount a tmpfs here; it needs root)');
    return;
  }
  try {
    const r = await cli(['pull', 'test/stories-gguf'], env(mnt));
    assert.is(r.status, 1);
    assert.match(r.stderr, /cannot write \(the disk is full\); nothing partial was kept/);
    const r2 = await cli(['pull', 'test/stories260K-hf'], env(mnt));
    assert.is(r2.status, 1);
    assert.match(r2.stderr, /cannot write \(the disk is full, ENOSPC\)/);
    const left = spawnSync('find', [mnt, '-type', 'f', '-name', '*.gguf*'], { encoding: 'utf8' }).stdout.trim();
    assert.is(left, '', 'no model file or partial left');
  } finally {
    spawnSync('umount', [mnt]);
  }
});

for (const [name, arithmetic] of [['stories260K-hf', 'f32'], ['stories260K-hf-bf16', 'bf16']] as const) {
  t(`streamed conversion of ${name} is byte-identical to convert of the checkpoint on disk (${arithmetic})`, async () => {
    const repo = `test/${name}`;
    const local = join(dir, `${name}-local.gguf`);
    await convert(sharedPath(`models/${name}`), { output: local, quiet: true, source: `hf:${repo}@${hub.commitOf(repo)}` });
    const before = hub.cdnBytes.get('model.safetensors') ?? 0;
    const r = await pull(repo, { hub: hubOpts(), cacheDir: join(dir, 'c5'), quiet: true });
    assert.is(r.kind, 'converted');
    assert.ok(Buffer.compare(readFileSync(r.path), readFileSync(local)) === 0, 'same bytes');
    const { readModelHeaderFromFile } = await import('../src/node/read-header.ts');
    assert.is(readModelHeaderFromFile(r.path).config.arithmetic, arithmetic);
    // Fetched: 8 + header bytes by Range, then each tensor once (the tied embedding twice).
    const served = (hub.cdnBytes.get('model.safetensors') ?? 0) - before;
    const st = statSync(sharedPath(`models/${name}/model.safetensors`)).size;
    assert.ok(served > st * 0.9 && served < st * 1.5, `served ${served} of ${st}`);
  });
}

t('an interrupted streamed conversion resumes after its last complete tensor', async () => {
  const repo = 'test/stories260K-hf';
  const cache = join(dir, 'c6');
  const st = statSync(sharedPath('models/stories260K-hf/model.safetensors')).size;
  // One attempt per request: a connection dropped once ~60 % of the checkpoint has been served
  // fails the pull, leaving the partial and its state.
  const before = hub.cdnBytes.get('model.safetensors') ?? 0;
  let fails = 0;
  const cutAt = Math.floor(st * 0.6);
  const watch = setInterval(() => {
    if ((hub.cdnBytes.get('model.safetensors') ?? 0) - before > cutAt && !fails) { hub.dropAfter.set('model.safetensors', 10); fails++; }
  }, 0);
  try {
    await pull(repo, { hub: hubOpts({ attempts: 1 }), cacheDir: cache, quiet: true, stages: 1 });
    assert.unreachable('the pull should have failed at the dropped connection');
  } catch (e) {
    assert.match((e as Error).message, /connection dropped/);
  } finally {
    clearInterval(watch);
  }
  const cdir = join(cache, 'hub', 'test--stories260K-hf', hub.commitOf(repo));
  assert.ok(readdirSync(cdir).some((f) => f.endsWith('.partial.state')), readdirSync(cdir).join());
  const mid = hub.cdnBytes.get('model.safetensors')! - before;
  const r = await pull(repo, { hub: hubOpts(), cacheDir: cache, quiet: true, stages: 1 });
  const total = hub.cdnBytes.get('model.safetensors')! - before;
  const local = join(dir, 'resume-local.gguf');
  await convert(sharedPath('models/stories260K-hf'), { output: local, stages: 1, quiet: true, source: `hf:${repo}@${hub.commitOf(repo)}` });
  assert.ok(Buffer.compare(readFileSync(r.path), readFileSync(local)) === 0, 'resumed output is the same file');
  // The second run fetched only what was not converted: far less than the whole checkpoint again.
  assert.ok(total - mid < st * 0.75, `second run fetched ${total - mid} of ${st}`);
  assert.ok(!readdirSync(cdir).some((f) => f.includes('.partial')), 'partial and state gone');
});

t('rm removes an entry; models then lists none of it', async () => {
  const cache = join(dir, 'c1');
  const r = await cli(['rm', 'test/stories-gguf'], env(cache));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /removed .*stories260K-w2\.gguf/);
  assert.equal(JSON.parse((await cli(['models', '--json'], env(cache))).stdout), []);
  const again = await cli(['rm', 'test/stories-gguf'], env(cache));
  assert.match(again.stderr, /not in the cache/);
});

t.run();
