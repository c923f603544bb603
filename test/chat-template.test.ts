// Chat templates come from whoever made the model file: a broken one is a clear error naming the
// template, and a hostile one is stopped by the bounded renderer (steps, time, sizes) instead of
// growing to gigabytes or hanging `chat`.
import { Template } from '@huggingface/jinja';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileChatTemplate, renderChatTemplate, TEMPLATE_LIMITS } from '../src/chat-template.ts';
import { Fairy2iError } from '../src/errors.ts';
import { meta } from '../src/gguf.ts';
import { loadModel } from '../src/node.ts';
import { rewriteMetadata, tempDir } from './fixtures.ts';

// LLaMA-2 chat's template (from its tokenizer_config.json), the kind real files carry.
const LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

const HOSTILE: [string, string, RegExp][] = [
  ['a huge range()', '{% for i in range(100000000) %}x{% endfor %}', /called range\(\) for 100000000 items/],
  ['nested loops', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', /took more than \d+ (steps|ms)/],
  ['a doubling string', "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", /made a string of more than/],
  ['many big outputs', "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(16) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for i in range(2000) %}{{ ns.s }}{% endfor %}", /made more than \d+ characters of text/],
];

const ctx = { messages: [{ role: 'user', content: 'hi' }], bos_token: '<s>', eos_token: '</s>', add_generation_prompt: true };

const t = suite('chat template: bounded rendering');

t('a real template renders exactly as @huggingface/jinja renders it', () => {
  const msgs = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi.' }, { role: 'user', content: 'Bye' }];
  const c = { ...ctx, messages: msgs };
  assert.is(renderChatTemplate(LLAMA2, c, 'm.gguf'), new Template(LLAMA2).render(c));
});

for (const [what, src, re] of HOSTILE) {
  t(`${what} stops with a one-line format error`, () => {
    const t0 = Date.now();
    let err: unknown = null;
    try { renderChatTemplate(src, ctx, 'm.gguf'); } catch (e) { err = e; }
    assert.instance(err, Fairy2iError);
    assert.is((err as Fairy2iError).code, 'format');
    assert.match((err as Error).message, /^m\.gguf: tokenizer\.chat_template: rendering /);
    assert.match((err as Error).message, re);
    assert.not.match((err as Error).message, /\n/);
    // Not a timing assertion on speed: only that a bound, not the 100M-step loop, ended it.
    assert.ok(Date.now() - t0 < 30 * TEMPLATE_LIMITS.MAX_MS, 'ended by a bound');
  });
}

t('raise_exception is an input error carrying the template\'s message', () => {
  const msgs = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }];
  try { renderChatTemplate(LLAMA2, { ...ctx, messages: msgs }, 'm.gguf'); assert.unreachable(); } catch (e) {
    assert.instance(e, Fairy2iError);
    assert.is((e as Fairy2iError).code, 'input');
    assert.is((e as Error).message, 'm.gguf: tokenizer.chat_template refused the conversation: Conversation roles must alternate user/assistant/user/assistant/...');
  }
});

t('syntax and runtime errors are one-line format errors naming the template', () => {
  try { compileChatTemplate('{% if %}', 'x.gguf'); assert.unreachable(); } catch (e) {
    assert.instance(e, Fairy2iError);
    assert.match((e as Error).message, /^x\.gguf: tokenizer\.chat_template: is not a valid Jinja template \(/);
  }
  try { renderChatTemplate('{{ (1).x() }}', ctx, 'x.gguf'); assert.unreachable(); } catch (e) {
    assert.instance(e, Fairy2iError);
    assert.match((e as Error).message, /^x\.gguf: tokenizer\.chat_template: rendering failed \(Cannot call something that is not a function/);
  }
});

t('the library is left as it was after a bounded render fails', () => {
  try { renderChatTemplate(HOSTILE[0][1], ctx, 'm'); } catch { /* expected */ }
  assert.is(new Template('{% for i in range(3) %}{{ i }}{% endfor %}').render({}), '012');
});

const dir = tempDir();
t('chat with a hostile template in the model file: the API and the CLI give one-line errors', async () => {
  const p = join(dir, 'hostile.gguf');
  writeFileSync(p, rewriteMetadata(new Uint8Array(readFileSync('models/default.gguf')), (md) => md.set('tokenizer.chat_template', meta.str(HOSTILE[0][1]))));
  const m = await loadModel(p);
  try {
    let err: unknown = null;
    try { await m.chat().send('hi', { maxTokens: 2 }).done(); } catch (e) { err = e; }
    assert.instance(err, Fairy2iError);
    assert.match((err as Error).message, /tokenizer\.chat_template: rendering called range\(\) for 100000000 items/);
  } finally { m.dispose(); }
  const r = spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'chat', '-m', p, '-n', '2'], { input: 'hi\n', encoding: 'utf8', timeout: 60000 });
  // The turn fails with the message and chat goes on to the next line (here: the end of input).
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /^fairy2i-wasm: .*tokenizer\.chat_template: rendering called range\(\)/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

t.after(() => rmSync(dir, { recursive: true, force: true }));
t.run();
