// Bad input to `convert`: each case is a one-line error naming the file and what was wrong, a
// non-zero exit, and no output file (nor a leftover temporary) — exactly as a user would see it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, TINY, writeTinyCheckpoint } from './fixtures.ts';

const CLI = 'bin/fairy2i-wasm.js';
const root = tempDir();
let k = 0;

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** Runs convert on `input` and checks the error: exit code, one line, and the expected fragments. */
function expectError(input: string, fragments: (string | RegExp)[], extra: string[] = []) {
  const out = join(root, `out-${k++}.gguf`);
  const r = cli(['convert', input, '-o', out, ...extra]);
  assert.is.not(r.status, 0, `expected failure, got exit 0 (${r.stdout})`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  for (const f of fragments) assert.match(r.stderr, f);
  assert.not.ok(existsSync(out), 'no output file');
  assert.ok(!readdirSync(root).some((f) => f.includes('.tmp-')), 'no temporary left behind');
  return r.stderr;
}

function ck(name: string, opts: Parameters<typeof writeTinyCheckpoint>[1] = {}): string {
  return writeTinyCheckpoint(join(root, name), opts);
}

const bad = suite('convert: bad input');

bad('a good tiny checkpoint converts (the baseline the bad cases corrupt)', () => {
  const out = join(root, 'good.gguf');
  const r = cli(['convert', ck('good'), '-o', out, '--quiet']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(out));
});

bad('missing input', () => expectError(join(root, 'nope'), [/nope: no such file or directory/]));

bad('unknown architecture is named', () => {
  const d = ck('arch');
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...TINY, architectures: ['GPT2LMHeadModel'] }));
  expectError(d, [/config\.json/, /architectures/, /GPT2LMHeadModel/]);
});

bad('missing config field', () => {
  const d = ck('missing-field');
  const { hidden_size, ...rest } = TINY;
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...rest, architectures: ['LlamaForCausalLM'] }));
  expectError(d, [/config\.json/, /hidden_size/, /missing/]);
});

bad('non-numeric config field', () => expectError(ck('nonnum', { config: { num_hidden_layers: 'two' as any } }), [/config\.json/, /num_hidden_layers/, /positive integer/]));

bad('config.json that is not JSON', () => expectError(ck('notjson', { rawConfig: '{ hidden_size: ' }), [/config\.json/, /JSON/]));

bad('odd in/out sizes', () => expectError(ck('odd', { config: { intermediate_size: 47 } }), [/odd size/, /47/, /--stages 0/]));

bad('odd sizes are fine with --stages 0', () => {
  const out = join(root, 'odd-float.gguf');
  const r = cli(['convert', ck('odd0', { config: { intermediate_size: 47 } }), '-o', out, '--stages', '0', '--quiet']);
  assert.is(r.status, 0, r.stderr);
});

bad('unsupported dtype names the tensor', () => expectError(ck('dtype', { header: (h) => { h['model.norm.weight'].dtype = 'I64'; } }), [/model\.safetensors/, /model\.norm\.weight/, /I64/]));

bad('safetensors header longer than the file', () => {
  const d = ck('hdrlen');
  const p = join(d, 'model.safetensors');
  const b = readFileSync(p);
  b.writeBigUInt64LE(BigInt(b.length * 2), 0);
  writeFileSync(p, b);
  expectError(d, [/model\.safetensors/, /header length/]);
});

bad('data offsets out of range', () => expectError(ck('offsets', { header: (h) => { h['model.norm.weight'].data_offsets = [0, 1 << 30]; } }), [/model\.norm\.weight/, /data_offsets/]));

bad('a shard named in the index but missing', () => {
  const d = ck('shards');
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors', 'lm_head.weight': 'model-00002-of-00002.safetensors' } }));
  expectError(d, [/model-00001-of-00002\.safetensors/, /missing/]);
});

bad('a tensor missing', () => expectError(ck('missing-t', { tensors: (t) => { delete t['model.layers.1.mlp.up_proj.weight']; } }), [/model\.layers\.1\.mlp\.up_proj\.weight/, /missing/]));

bad('a tensor with the wrong shape', () => expectError(ck('shape', { tensors: (t) => { t['model.layers.0.self_attn.k_proj.weight'].shape = [8, 32]; t['model.layers.0.self_attn.k_proj.weight'].data = t['model.layers.0.self_attn.k_proj.weight'].data.subarray(0, 8 * 32 * 4); } }), [/k_proj\.weight/, /\[8,32\]/, /\[16,32\]/]));

bad('NaN and Inf in a weight name the tensor', () => {
  for (const v of [NaN, Infinity]) {
    const d = ck(`nan-${v}`, { tensors: (t) => { new Float32Array(t['model.layers.0.mlp.gate_proj.weight'].data.buffer)[5] = v; } });
    expectError(d, [/model\.layers\.0\.mlp\.gate_proj\.weight/, new RegExp(String(v)), /finite/]);
  }
});

bad('NaN and Inf in a BF16 or F16 weight name the tensor (checked while widening)', () => {
  const SPECIAL = { BF16: { NaN: 0x7fc0, Infinity: 0x7f80, one: 0x3f80 }, F16: { NaN: 0x7e00, Infinity: 0x7c00, one: 0x3c00 } } as const;
  for (const dtype of ['BF16', 'F16'] as const) {
    for (const v of ['NaN', 'Infinity'] as const) {
      const d = ck(`nan16-${dtype}-${v}`, { tensors: (t) => {
        const g = t['model.layers.1.mlp.gate_proj.weight'];
        const h = new Uint16Array(g.shape[0] * g.shape[1]).fill(SPECIAL[dtype].one);
        h[37] = SPECIAL[dtype][v];
        t['model.layers.1.mlp.gate_proj.weight'] = { dtype, shape: g.shape, data: new Uint8Array(h.buffer) };
      } });
      expectError(d, [/model\.layers\.1\.mlp\.gate_proj\.weight/, new RegExp(`contains ${v} at element 37 `), /finite/]);
    }
  }
});

bad('unwritable output path', () => {
  const r = cli(['convert', ck('unwritable'), '-o', join(root, 'no-such-dir', 'x.gguf')]);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /no-such-dir\/x\.gguf: cannot write/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

bad('an unknown flag and a bad --stages are named', () => {
  let r = cli(['convert', ck('flags'), '-o', join(root, 'f.gguf'), '--stage', '2']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--stage: unknown flag/);
  r = cli(['convert', ck('flags2'), '-o', join(root, 'f.gguf'), '--stages', '7']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--stages: is 7, must be <= 4/);
});

bad('an existing target is untouched when conversion fails', () => {
  const out = join(root, 'keep.gguf');
  writeFileSync(out, 'precious');
  const r = cli(['convert', ck('keep', { tensors: (t) => { delete t['model.norm.weight']; } }), '-o', out]);
  assert.is.not(r.status, 0);
  assert.is(readFileSync(out, 'utf8'), 'precious');
});

// Mounting a tmpfs needs root (CAP_SYS_ADMIN): probed once, so that where it is not permitted the
// case is registered as skipped (and counted so) rather than passing without running.
const canMount = (() => {
  const probe = join(root, 'mount-probe');
  mkdirSync(probe);
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  else console.log('skipped: convert: bad input: the disk-full case: cannot mount a tmpfs here (it needs root)');
  return ok;
})();

(canMount ? bad : bad.skip)('the disk filling up while writing (a 64 KiB tmpfs)', () => {
  const mnt = join(root, 'full');
  mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  assert.is(m.status, 0, `mount: ${m.stderr}`);
  try {
    const out = join(mnt, 'x.gguf');
    const r = cli(['convert', ck('full-src', { config: { hidden_size: 64, intermediate_size: 128 } }), '-o', out, '--stages', '0']);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /x\.gguf: cannot write \(the disk is full, ENOSPC\)/);
    assert.equal(readdirSync(mnt), [], 'nothing left on the full disk');
  } finally {
    spawnSync('umount', [mnt]);
  }
});

bad('Ctrl-C (SIGINT) during conversion leaves no partial file', async () => {
  // A checkpoint big enough that conversion takes a while.
  const d = ck('big', { config: { hidden_size: 512, intermediate_size: 1536, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 512 } });
  const dir = join(root, 'sigint');
  mkdirSync(dir);
  const out = join(dir, 'big.gguf');
  writeFileSync(out, 'old');
  const child = spawn(process.execPath, [CLI, 'convert', d, '-o', out, '--stages', '4'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  // Wait for the temporary file to appear, then interrupt.
  const t0 = Date.now();
  while (!readdirSync(dir).some((f) => f.includes('.tmp-')) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.is(code, 130, `exit code (stderr: ${err})`);
  assert.match(err, /interrupted by SIGINT/);
  assert.equal(readdirSync(dir), ['big.gguf']);
  assert.is(readFileSync(out, 'utf8'), 'old');
});

bad('progress shows on a terminal (bytes, rate, ETA) and not in a pipe or with --quiet', () => {
  const d = ck('progress');
  const piped = cli(['convert', d, '-o', join(root, 'p1.gguf')]);
  assert.is(piped.status, 0);
  assert.not.match(piped.stderr, /ETA/);
  assert.match(piped.stderr, /^wrote .*p1\.gguf/);
  const tty = spawnSync('script', ['-qfec', `${process.execPath} ${CLI} convert ${d} -o ${join(root, 'p2.gguf')}`, '/dev/null'], { encoding: 'utf8' });
  assert.is(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /100\.0%\s+[\d.]+ MB \/ [\d.]+ MB\s+[\d.]+ MB\/s\s+ETA/);
  const quiet = spawnSync('script', ['-qfec', `${process.execPath} ${CLI} convert ${d} -o ${join(root, 'p3.gguf')} --quiet`, '/dev/null'], { encoding: 'utf8' });
  assert.is(quiet.status, 0);
  assert.not.match(quiet.stdout, /ETA|wrote/);
});

bad.after(() => rmSync(root, { recursive: true, force: true }));
bad.run();
