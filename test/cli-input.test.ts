// The CLI against input a user (or a script) can give it by mistake: flags that used to be taken
// silently (`-n 0x10`, `--stop ''`, `-p` with `-f`, a flag twice), prompts without end (/dev/zero on
// -f, stdin or chat), model "files" that are pipes or devices, file: URLs, output into a pipe that
// closes (`| head -c 10`), Ctrl-C during `run`, and `--threads` beyond the cores. The bundled model
// serves (no ../shared needed), except where a longer context is needed.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { convert } from '../src/convert/convert.ts';
import { tempDir } from './fixtures.ts';
import { sharedPath, sharedSuite } from './shared.ts';

const CLI = 'bin/fairy2i-wasm.js';
const dir = tempDir();
const cli = (args: string[], input?: string | Buffer) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 60_000, killSignal: 'SIGKILL' });
const sh = (script: string) => spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, CLI: `${process.execPath} ${CLI}` } });
/** One line on stderr matching `re`, and the exit status. */
function fails(r: ReturnType<typeof cli>, status: number, re: RegExp) {
  assert.is(r.signal, null, `killed (${r.signal}); stderr: ${r.stderr}`);
  assert.is(r.status, status, r.stderr);
  assert.match(r.stderr.trim(), re);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
}

const flags = suite('cli input: flags are taken as written or refused');

flags('integers are decimal: 0x10, 1e3, 0b1 and " 5" are errors', () => {
  for (const v of ['0x10', '1e3', '0b1', ' 5', '5.0']) fails(cli(['run', '-p', 'x', '-n', v]), 2, new RegExp(`--max-tokens: is '${v.replace('.', '\\.')}', expected an integer`));
  fails(cli(['run', '-p', 'x', '--temperature', '0x1']), 2, /--temperature: is '0x1', expected a number/);
  const ok = cli(['run', '-p', 'x', '-n', '2', '--temperature', '.5', '--top-p', '9e-1']);
  assert.is(ok.status, 0, ok.stderr);
});

flags("an empty value is refused where it would mean nothing (--stop '', -m ''); an empty prompt is a prompt", () => {
  fails(cli(['run', '-p', 'x', '--stop', '']), 2, /option --stop: is empty, expected text/);
  fails(cli(['run', '-p', 'x', '-m', '']), 2, /option --model: is empty, expected file/);
  const r = cli(['run', '-p', '', '-n', '3', '--temperature', '0']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().length > 0);
});

flags('a flag given twice, or -p with -f, or bench -m with --shape: an error, not one silently winning', () => {
  const f = join(dir, 'prompt.txt');
  writeFileSync(f, 'In the beginning');
  fails(cli(['run', '-p', 'a', '-p', 'b']), 2, /option --prompt: is given twice/);
  fails(cli(['run', '-p', 'a', '--prompt=b']), 2, /option --prompt: is given twice/);
  fails(cli(['run', '-p', 'a', '-f', f]), 2, /option --prompt: cannot be given together with --file/);
  fails(cli(['bench', '-m', 'models/default.gguf', '--shape', 'tinyllama-1.1b']), 2, /option --shape: cannot be given together with --model/);
  const byFile = cli(['run', '-f', f, '-n', '4', '--temperature', '0']);
  const byFlag = cli(['run', '-p', 'In the beginning', '-n', '4', '--temperature', '0']);
  assert.is(byFile.status, 0, byFile.stderr);
  assert.is(byFile.stdout, byFlag.stdout);
});

flags.run();

const reads = suite('cli input: a prompt is read only as far as the context can hold');

reads('run -f /dev/zero, a long file and a long stdin: the context error, at once', () => {
  // The bundled model: context 256, longest piece 32 bytes → 8448 bytes at most.
  const big = join(dir, 'big.txt');
  writeFileSync(big, Buffer.alloc(1 << 20, 'a'));
  fails(cli(['run', '-f', '/dev/zero', '-n', '1']), 2, /^fairy2i-wasm run: the prompt file \/dev\/zero has more than \d+ bytes, more than the context of 256 tokens can hold; shorten it or give a longer --ctx$/);
  fails(cli(['run', '-f', big, '-n', '1']), 2, /the prompt file .*big\.txt has more than \d+ bytes, more than the context of 256 tokens/);
  fails(cli(['run', '-n', '1'], readFileSync(big)), 2, /the prompt on stdin has more than \d+ bytes, more than the context of 256 tokens/);
  fails(sh('$CLI run -n 1 < /dev/zero'), 2, /the prompt on stdin has more than \d+ bytes/);
  // A smaller context reads less: the limit follows --ctx.
  const at64 = cli(['run', '-f', big, '-n', '1', '--ctx', '64']).stderr;
  const at256 = cli(['run', '-f', big, '-n', '1']).stderr;
  assert.ok(Number(/more than (\d+) bytes/.exec(at64)?.[1]) < Number(/more than (\d+) bytes/.exec(at256)?.[1]), `${at64} vs ${at256}`);
});

reads('chat: a piped line without end is the context error; lines before it are answered', () => {
  fails(sh('$CLI chat -n 2 < /dev/zero'), 2, /^fairy2i-wasm chat: a chat message on stdin has more than \d+ bytes, more than the context of 256 tokens can hold/);
  const r = cli(['chat', '-n', '2', '--temperature', '0', '--verbose'], Buffer.concat([Buffer.from('Hello.\n'), Buffer.alloc(1 << 20, 'a')]));
  assert.is(r.status, 2, r.stderr);
  assert.is((r.stdout.match(/^\[\d+ tokens, /gm) ?? []).length, 1, r.stdout);
  assert.match(r.stderr, /a chat message on stdin has more than \d+ bytes/);
  const last = cli(['chat', '-n', '2', '--temperature', '0', '--verbose'], 'Hello.\nAnd a last line without newline');
  assert.is(last.status, 0, last.stderr);
  assert.is((last.stdout.match(/^\[\d+ tokens, /gm) ?? []).length, 2, last.stdout);
});

reads.run();

const files = suite('cli input: model files that are not files, and file: URLs');

files('-m a pipe, a device or a directory says what it is (run and info)', () => {
  fails(cli(['run', '-m', '/dev/zero', '-p', 'x']), 1, /^fairy2i-wasm run: \/dev\/zero: is a character device, expected a model file/);
  fails(sh('$CLI run -m <(cat models/default.gguf) -p x'), 1, /^fairy2i-wasm run: \/dev\/fd\/\d+: is a pipe, expected a model file \(.*save the model to a file first\)$/);
  fails(cli(['info', '/dev/zero']), 1, /^fairy2i-wasm info: \/dev\/zero: is a character device, expected a model file$/);
  fails(sh('$CLI info <(cat models/default.gguf)'), 1, /is a pipe, expected a model file$/);
});

files('-m file:///… (percent-encoded) is the file it names', () => {
  const d = join(dir, 'with space');
  mkdirSync(d);
  copyFileSync('models/default.gguf', join(d, 'm.gguf'));
  const byUrl = cli(['run', '-m', pathToFileURL(join(d, 'm.gguf')).href, '-p', 'x', '-n', '3', '--temperature', '0']);
  const byPath = cli(['run', '-m', join(d, 'm.gguf'), '-p', 'x', '-n', '3', '--temperature', '0']);
  assert.is(byUrl.status, 0, byUrl.stderr);
  assert.is(byUrl.stdout, byPath.stdout);
});

files.run();

const out = suite('cli input: output closed early, Ctrl-C, threads');

out('output piped into head -c 10: run, chat and info stop quietly (no stack, exit 0)', () => {
  for (const cmd of ['$CLI run -p x -n 250', "printf 'Hi\\nMore\\nAgain\\n' | $CLI chat -n 250", '$CLI info models/default.gguf --tensors', '$CLI tokenize "$(head -c 20000 models/heldout.txt)"']) {
    const r = sh(`${cmd} | head -c 10 > /dev/null; exit \${PIPESTATUS[\${#PIPESTATUS[@]}-2]}`);
    assert.is(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.is(r.stderr, '', cmd);
  }
});

out('--threads beyond the cores: runs on the cores, says so in one line', () => {
  const cores = availableParallelism();
  const r = cli(['run', '-p', 'x', '-n', '2', '--threads', String(cores * 8)]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, `fairy2i-wasm: running on ${cores} thread${cores > 1 ? 's' : ''} instead of ${cores * 8}: ${cores} core${cores > 1 ? 's are' : ' is'} available\n`);
});

out.run();

const sig = sharedSuite('cli input: Ctrl-C during run (stories260K with a long context)');

sig('SIGINT during run: what was generated is printed, then exit 130', async () => {
  // A context long enough that generation is still running when the signal comes.
  const src = join(dir, 'long');
  mkdirSync(src);
  for (const f of ['model.safetensors', 'tokenizer.model', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) copyFileSync(sharedPath(`models/stories260K-hf/${f}`), join(src, f));
  const config = JSON.parse(readFileSync(sharedPath('models/stories260K-hf/config.json'), 'utf8'));
  writeFileSync(join(src, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: 1 << 16 }));
  const file = join(dir, 'long.gguf');
  await convert(src, { output: file, stages: 2, quiet: true });
  const child = spawn(process.execPath, [CLI, 'run', '-m', file, '-p', 'Once upon a time', '-n', '60000', '--temperature', '0', '--stop', '@@never@@'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const exited = new Promise<number | null>((ok) => child.on('exit', ok));
  const t0 = Date.now();
  while (stdout.length < 20 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  assert.is(code, 130, stderr);
  assert.ok(stdout.length >= 20, stdout);
  assert.ok(stdout.endsWith('\n'));
  assert.match(stderr, /^fairy2i-wasm run: interrupted \(SIGINT\) after \d+ tokens\n$/);
});

sig.run();
