// Bad input to `convert`: each case is a one-line error naming the file and what was wrong, a
// non-zero exit, and no output file (nor a leftover temporary) — exactly as a user would see it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, TINY, writeTinyCheckpoint, writeTinyLlama2c } from './fixtures.ts';

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

bad.run();

/** Runs convert with `args`, expects a one-line refusal with `fragments`, and `kept` files byte-identical. */
function expectRefused(args: string[], fragments: (string | RegExp)[], kept: string[]) {
  const before = kept.map((f) => readFileSync(f));
  const r = cli(['convert', ...args]);
  assert.is.not(r.status, 0, `expected failure, got exit 0 (${r.stderr})`);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  for (const f of fragments) assert.match(r.stderr, f);
  kept.forEach((f, i) => assert.ok(readFileSync(f).equals(before[i]), `${f} is unchanged`));
  return r.stderr;
}

const target = suite('convert: the output target');

target('-o equal to an input is refused before anything is written (safetensors, config, tokenizer files, hard link, symlink)', () => {
  const d = ck('same-hf');
  writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: true }));
  const st = join(d, 'model.safetensors');
  expectRefused([d, '-o', st], [/model\.safetensors is the same file as the input/, /-o\/--output/], [st]);
  expectRefused([d, '-o', join(d, 'config.json')], [/same file as the input .*config\.json/], [join(d, 'config.json')]);
  expectRefused([d, '-o', join(d, 'tokenizer_config.json')], [/same file as the input .*tokenizer_config\.json/], [join(d, 'tokenizer_config.json')]);
  // Other names of the same file: a hard link and a symlink (compared by device and inode).
  linkSync(st, join(root, 'hardlink.gguf'));
  expectRefused([d, '-o', join(root, 'hardlink.gguf')], [/same file as the input/], [st]);
  symlinkSync(st, join(root, 'symlink.gguf'));
  expectRefused([d, '-o', join(root, 'symlink.gguf')], [/same file as the input/], [st]);
  expectRefused([d, '-o', `${d}/./../${d.split('/').pop()}/model.safetensors`], [/same file as the input/], [st]);
  assert.ok(!readdirSync(d).some((f) => f.includes('.tmp-')), 'no temporary left in the checkpoint');
});

target('-o equal to an input is refused for llama2.c: the .bin, the tokenizer beside it and --tokenizer', () => {
  const { bin, tok } = writeTinyLlama2c(join(root, 'same-l2c'));
  expectRefused([bin, '-o', bin], [/model\.bin is the same file as the input/], [bin]);
  expectRefused([bin, '-o', tok], [/tokenizer\.bin is the same file as the input/], [tok]);
  const other = join(root, 'other-tok.bin');
  writeFileSync(other, readFileSync(tok));
  expectRefused([bin, '--tokenizer', other, '-o', other], [/other-tok\.bin is the same file as the input/], [other]);
  // The good case still works.
  const r = cli(['convert', bin, '-o', join(root, 'l2c.gguf'), '--quiet']);
  assert.is(r.status, 0, r.stderr);
});

target('-o onto a directory, a FIFO or a device is refused and the node is left as it was', () => {
  const d = ck('special');
  const dirOut = join(root, 'a-dir');
  mkdirSync(dirOut);
  expectRefused([d, '-o', dirOut], [/a-dir is a directory, not a regular file/], []);
  assert.ok(statSync(dirOut).isDirectory());
  const fifo = join(root, 'a-fifo');
  assert.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  expectRefused([d, '-o', fifo], [/a-fifo is a pipe, not a regular file/], []);
  assert.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
  // A character device of our own (the null device's numbers), so that nothing of the system's is at stake.
  const dev = join(root, 'a-null');
  if (spawnSync('mknod', [dev, 'c', '1', '3']).status === 0) {
    expectRefused([d, '-o', dev], [/a-null is a character device, not a regular file/], []);
    assert.ok(lstatSync(dev).isCharacterDevice(), 'still a device');
  } else console.log('  (skipped the device case: mknod needs root)');
  // /dev/null itself: refused before any temporary is made in /dev.
  expectRefused([d, '-o', '/dev/null'], [/\/dev\/null is a character device/], []);
  assert.ok(statSync('/dev/null').isCharacterDevice());
});

target('a symlink target is followed: the file it points to is replaced, the link is kept', () => {
  const real = join(root, 'real.gguf');
  writeFileSync(real, 'old');
  const link = join(root, 'link.gguf');
  symlinkSync('real.gguf', link);
  const r = cli(['convert', ck('symlink-src'), '-o', link, '--quiet']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  assert.is(readlinkSync(link), 'real.gguf');
  assert.is(readFileSync(real).subarray(0, 4).toString(), 'GGUF');
  // A dangling link is written through too.
  const dangling = join(root, 'dangling.gguf');
  symlinkSync('made-by-convert.gguf', dangling);
  assert.is(cli(['convert', ck('symlink-src2'), '-o', dangling, '--quiet']).status, 0);
  assert.is(readFileSync(join(root, 'made-by-convert.gguf')).subarray(0, 4).toString(), 'GGUF');
});

target('a temporary left by a killed convert is removed by the next convert into that folder', () => {
  const dir = join(root, 'stale');
  mkdirSync(dir);
  const out = join(dir, 'm.gguf');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  writeFileSync(`${out}.tmp-${deadPid}`, 'GGUF partial data');
  writeFileSync(join(dir, `other.gguf.tmp-${deadPid}`), 'GGUF partial data');
  writeFileSync(join(dir, `notes.txt.tmp-${deadPid}`), 'not ours'); // not a GGUF: kept
  writeFileSync(join(dir, `live.gguf.tmp-${process.pid}`), 'GGUF of a running convert'); // its pid runs: kept
  const r = cli(['convert', ck('stale-src'), '-o', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`removed .*m\\.gguf\\.tmp-${deadPid}, left by a convert that was killed`));
  assert.equal(readdirSync(dir).sort(), ['live.gguf.tmp-' + process.pid, 'm.gguf', `notes.txt.tmp-${deadPid}`].sort());
});

const cfg = suite('convert: unsupported and out-of-range config');

cfg('settings LLaMA does not have are unsupported errors naming the field', () => {
  const cases: [Record<string, unknown>, RegExp[]][] = [
    [{ attention_bias: true }, [/attention_bias: is true/, /bias are not supported/]],
    [{ mlp_bias: true }, [/mlp_bias: is true/]],
    [{ hidden_act: 'gelu' }, [/hidden_act: is "gelu"; only "silu"/]],
    [{ rope_scaling: { type: 'linear', factor: 2 } }, [/rope_scaling: .*linear.* is not supported/]],
    [{ quantization_config: { quant_method: 'gptq' } }, [/quantization_config: is set/]],
  ];
  for (const [extra, fragments] of cases) expectError(ck(`unsup-${Object.keys(extra)[0]}`, { config: extra as any }), [/config\.json/, ...fragments]);
  // The LLaMA values themselves are fine.
  const out = join(root, 'llama-values.gguf');
  const r = cli(['convert', ck('llama-values', { config: { attention_bias: false, mlp_bias: false, hidden_act: 'silu', rope_scaling: null } as any }), '-o', out, '--quiet']);
  assert.is(r.status, 0, r.stderr);
});

cfg('bias tensors in the checkpoint are unsupported errors naming the tensor', () => {
  expectError(ck('bias-t', { tensors: (t) => { t['model.layers.1.self_attn.q_proj.bias'] = { shape: [32], data: new Uint8Array(128) }; } }),
    [/model\.safetensors: model\.layers\.1\.self_attn\.q_proj\.bias: bias tensors are not supported/]);
});

/** A good tiny checkpoint whose config.json then gets `patch` (the tensors stay those of TINY). */
function ckConfig(name: string, patch: Record<string, unknown>): string {
  const d = ck(name);
  writeFileSync(join(d, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], ...TINY, ...patch }));
  return d;
}

cfg('stored fields are range-checked: no u32 wrap, no allocation from a huge count', () => {
  expectError(ckConfig('ctx-1e12', { max_position_embeddings: 1e12 }), [/config\.json: max_position_embeddings: is 1000000000000, more than the 1073741824/]);
  const t0 = Date.now();
  expectError(ckConfig('layers-1e9', { num_hidden_layers: 1e9 }), [/num_hidden_layers: is 1000000000, more than the 1024/]);
  assert.ok(Date.now() - t0 < 60000, 'fails at once, not after running out of heap');
  expectError(ckConfig('vocab-big', { vocab_size: 2 ** 31 }), [/vocab_size: is 2147483648, more than/]);
  expectError(ck('eps-inf', { rawConfig: JSON.stringify({ architectures: ['LlamaForCausalLM'], ...TINY }).replace(/}$/, ', "rms_norm_eps": 1e999}') }), [/rms_norm_eps: is Infinity, expected a positive number|rms_norm_eps: is Infinity, expected a finite number/]);
  expectError(ck('tie-str', { config: { tie_word_embeddings: 'yes' as any } }), [/tie_word_embeddings: is "yes", expected true or false/]);
});

cfg('llama2.c header fields are range-checked too', () => {
  const { bin } = writeTinyLlama2c(join(root, 'l2c-range'));
  const b = readFileSync(bin);
  b.writeInt32LE(2 ** 31 - 1, 24); // seq_len
  writeFileSync(bin, b);
  expectError(bin, [/model\.bin: seq_len: is 2147483647, more than the 1073741824/]);
});

cfg('an index naming a shard outside the checkpoint folder is refused', () => {
  const d = ck('escape');
  for (const name of ['../../etc/passwd', '/etc/passwd', '..']) {
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': name } }));
    expectError(d, [/model\.safetensors\.index\.json: weight_map\.model\.norm\.weight: names .* outside the checkpoint folder/]);
  }
});

cfg('a null (or non-object) safetensors header entry names the tensor', () => {
  expectError(ck('null-entry', { header: (h) => { h['model.norm.weight'] = null; } }), [/model\.safetensors: model\.norm\.weight: is null, expected \{"dtype"/]);
  expectError(ck('num-entry', { header: (h) => { h['model.norm.weight'] = 5; } }), [/model\.norm\.weight: is 5, expected/]);
});

cfg('a shard or tokenizer that is a directory is an input error, not an internal one', () => {
  const d = ck('dir-shard');
  mkdirSync(join(d, 'shard-dir.safetensors'));
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'shard-dir.safetensors' } }));
  expectError(d, [/shard-dir\.safetensors: the safetensors file is a directory/]);
  const { bin } = writeTinyLlama2c(join(root, 'dir-tok'));
  expectError(bin, [/a-dir-tok: the llama2\.c tokenizer is a directory/], ['--tokenizer', (mkdirSync(join(root, 'a-dir-tok')), join(root, 'a-dir-tok'))]);
});

cfg('deeply nested JSON values (found by fuzzing) give one-line errors, not a stack overflow', () => {
  const deep = '['.repeat(200000) + ']'.repeat(200000);
  const d = ck('deep-config');
  writeFileSync(join(d, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], ...TINY, rope_scaling: 0 }).replace('"rope_scaling":0', `"rope_scaling":${deep}`));
  expectError(d, [/config\.json: rope_scaling: \[…\] is not supported/]);
  const t = ck('deep-tokenizer');
  writeFileSync(join(t, 'tokenizer.json'), `{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Bad", "x": ${deep}}}`);
  expectError(t, [/tokenizer\.json: normalizer\.type: is the string "Bad" \(\{…\}\)/]);
});

cfg('a broken chat template in tokenizer_config.json fails at convert, naming the file and field', () => {
  const d = ck('tpl');
  writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{% for m in messages %}{{ m.content }' }));
  expectError(d, [/tokenizer_config\.json: chat_template: is not a valid Jinja template/]);
  writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ chat_template: [{ name: 'default', template: '{% if %}' }] }));
  expectError(d, [/tokenizer_config\.json: chat_template\[0\]\.template: is not a valid Jinja template/]);
});

target.run();
cfg.after(() => rmSync(root, { recursive: true, force: true }));
cfg.run();
