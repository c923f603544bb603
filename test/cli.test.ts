// The CLI as a user types it: every command's --help, tokenize, run (flag and stdin), chat (piped
// and on a terminal with Ctrl-C), ppl, and the errors for a missing model, a bad flag, a bad file.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { loadModel } from '../src/node.ts';
import { convert } from '../src/convert/convert.ts';
import { packWindows, windowLoss } from '../src/perplexity.ts';
import { tempDir } from './fixtures.ts';
import { sharedPath, sharedSuite } from './shared.ts';
import { suite } from 'uvu';

const CLI = 'bin/fairy2i-wasm.js';
const dir = tempDir();
const file = join(dir, 's-v2.gguf');
const cli = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 60000 });

const basic = suite('cli: help and errors');
basic('every command has --help with its flags; unknown commands are named', () => {
  for (const c of ['chat', 'run', 'tokenize', 'ppl', 'convert', 'info']) {
    const r = cli([c, '--help']);
    assert.is(r.status, 0, c);
    assert.match(r.stdout, /usage: fairy2i-wasm/);
  }
  assert.match(cli(['run', '--help']).stdout, /--temperature <number>.*in \[0, inf\].*default 0\.8/);
  const r = cli(['chta']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown command 'chta'/);
});
basic('a missing model file and an unreadable prompt file are one-line errors', () => {
  let r = cli(['run', '-m', join(dir, 'nope.gguf'), '-p', 'x']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /nope\.gguf: cannot open the model file \(no such file\)/);
  assert.is(r.stderr.trim().split('\n').length, 1);
  r = cli(['run', '-m', join(dir, 'nope.gguf'), '-f', join(dir, 'no-prompt.txt')]);
  assert.match(r.stderr, /no-prompt\.txt: cannot read the prompt file/);
  r = cli(['run', '--temperature', 'hot', '-p', 'x']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--temperature: is 'hot', expected a number/);
});
basic.run();

const s = sharedSuite('cli: with the stories260K model');
s.before(async () => {
  await convert(sharedPath('models/stories260K-hf'), { output: file, stages: 2, quiet: true });
});

s('tokenize --json gives the ids and pieces of the tokenizer (BOS as the file says)', () => {
  const r = cli(['tokenize', '-m', file, 'Once upon a time', '--json']);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.ids[0], 1);
  assert.is(out.pieces[0], '<s>');
  assert.is(out.pieces.slice(1).join('').replace(/\u2581/g, ' '), ' Once upon a time');
  const nb = JSON.parse(cli(['tokenize', '-m', file, 'Once', '--json', '--no-bos']).stdout);
  assert.not.ok(nb.ids.includes(1));
});

s('run reads the prompt from stdin and prints the completion alone', () => {
  const a = cli(['run', '-m', file, '-n', '12', '--temperature', '0'], 'Once upon a time');
  const b = cli(['run', '-m', file, '-n', '12', '--temperature', '0', '-p', 'Once upon a time']);
  assert.is(a.status, 0, a.stderr);
  assert.is(a.stdout, b.stdout);
  assert.ok(a.stdout.trim().length > 10);
  assert.not.match(a.stdout, /^Once upon a time/);
});

s('chat with piped input: answers each line, /system, /reset and /exit work', () => {
  const r = cli(['chat', '-m', file, '--temperature', '0', '-n', '12', '--verbose'], 'Hello there.\n/system You tell stories.\nTell a story.\n/reset\n/exit\nnot reached\n');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\(system prompt set\)/);
  assert.match(r.stdout, /\(conversation cleared\)/);
  assert.is((r.stdout.match(/^\[12 tokens, /gm) ?? []).length, 2, r.stdout);
});

s('chat at a full context: drops the oldest turns (said once) and goes on; a system prompt that cannot fit is an error at /system', () => {
  const turns = Array.from({ length: 12 }, (_, i) => `Tell me about the ${['cat', 'dog', 'sun', 'tree'][i % 4]} number ${i}.`);
  const long = 'word '.repeat(200);
  const input = [...turns.slice(0, 6), `/system ${long}`, ...turns.slice(6), '/exit', ''].join('\n');
  const r = cli(['chat', '-m', file, '--temperature', '0', '-n', '16', '--ctx', '96', '--verbose', '--system', 'You are kind.'], input);
  assert.is(r.status, 0, r.stderr);
  assert.is((r.stdout.match(/^\[\d+ tokens, /gm) ?? []).length, 12, r.stdout + r.stderr);
  assert.is((r.stderr.match(/outgrew the context of 96 tokens/g) ?? []).length, 1, r.stderr);
  assert.match(r.stderr, /option system: the system prompt takes \d+ tokens/);
  assert.not.match(r.stdout, /\(system prompt set\)/);
});

s('chat on a terminal: Ctrl-C stops the current reply, not the program', async () => {
  // `script` gives the CLI a real pty, so readline sees a terminal and Ctrl-C arrives as a key.
  const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} chat -m ${file} --temperature 0 -n 100000 --ctx 512`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  const waitFor = async (re: RegExp, ms = 20000) => {
    const t0 = Date.now();
    while (!re.test(out)) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re} in:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await waitFor(/> $/);
    child.stdin.write('Tell me a long story.\r');
    await waitFor(/Tell me a long story\.[\s\S]{40,}/);
    child.stdin.write('\x03');
    await waitFor(/\[stopped\]/);
    await waitFor(/\[stopped\]\r?\n> $/);
    child.stdin.write('/exit\r');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.is(code, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

s('ppl --json equals the protocol computed from the library', async () => {
  const text = 'Lily went to the park.\n\nShe saw a big dog. The dog was happy.\nTom and Lily played with a ball all day long.\n';
  const tf = join(dir, 'docs.txt');
  writeFileSync(tf, text);
  const r = cli(['ppl', '-m', file, tf, '--ctx', '24', '--json']);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const m = await loadModel(file);
  const tok = m.tokenizer!;
  const docs = text.split('\n').filter((l) => l.trim()).map((l) => [...tok.encode(l, { addBos: false }), tok.eosId]);
  const { windows } = packWindows(docs, 24, tok.bosId);
  let loss = 0, count = 0;
  for (const w of windows) { loss += windowLoss(m.evaluate(w), w, 512, tok.eosId); count += w.length - 1; }
  m.dispose();
  assert.is(out.windows, windows.length);
  assert.ok(out.windows >= 2, 'several windows at ctx 24');
  assert.is(out.count, count);
  assert.ok(Math.abs(out.ppl - Math.exp(loss / count)) < 1e-9);
  assert.ok(out.ppl > 1 && Number.isFinite(out.ppl)); // PTQ W2 of this tiny model is poor (> vocab)
});

s.run();
