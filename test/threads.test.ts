// Threads and batched prefill. The split must not change a single bit: every output row (and
// attention head) is computed by the same code whichever thread claims it, so logits with 2 and 3
// threads equal those of 1 thread exactly. The tiny test models are below the size at which layers
// are worth splitting, so threadTuning.minChunkWork is 0 here: every linear and attention call is
// split into chunks of 8 (codes) or 16 (float) rows and 1 head.
// Batched prefill (forward_batch, matrix × matrix) gives the same bits as token-by-token decode:
// the code linears are the same sums, and the float matmuls sum each row in matvec's order.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as assert from 'uvu/assert';
import { OptionError } from '../src/errors.ts';
import { Model } from '../src/model.ts';
import { convert } from '../src/convert/convert.ts';
import { loadModel, toSource, wasmModule } from '../src/node.ts';
import { nodeThreads } from '../src/node/threads.ts';
import { NODE_WORKER_SOURCE, threadTuning, type ThreadPlatform, type WorkerMessage } from '../src/threads.ts';
import { tempDir, writeTinyCheckpoint } from './fixtures.ts';
import { compareLogits } from './runtimes/compare.mjs';
import { manifest, sharedPath, sharedSuite } from './shared.ts';

/** Batched vs token-by-token: float32 with other summation orders, far below the goldens' 1e-3. */
const MAX_REL_BATCH_ERR = 1e-4;

const dir = tempDir();
const files = new Map<string, Promise<string>>();
function modelFile(key: string, src: string, stages: number): Promise<string> {
  if (!files.has(key)) {
    files.set(key, (async () => {
      const out = join(dir, `${key}.gguf`);
      if (!existsSync(out)) await convert(sharedPath(src), { output: out, stages, quiet: true });
      return out;
    })());
  }
  return files.get(key)!;
}
const MODELS = {
  'stories260K V2': () => modelFile('s-v2', 'models/stories260K-hf', 2),
  'tiny-gqa V2': () => modelFile('gqa-v2', 'models/tiny-gqa-hf', 2),
  'tiny-gqa float': () => modelFile('gqa-fp', 'models/tiny-gqa-hf', 0),
};

// Splits on 3 and 4 threads are tested on machines with fewer cores (Model.load caps at the cores).
threadTuning.oversubscription = 4;

const tuned = threadTuning.minChunkWork;
const splitEverything = () => { threadTuning.minChunkWork = 0; };
const restore = () => { threadTuning.minChunkWork = tuned; };

/** Token ids of a sequence of two batches and more where the context allows (batches end at 64 and 128). */
function ids(V: number, n = 150): number[] {
  const story: number[] = manifest().stories260K.sequences.story64.ids;
  const out: number[] = [];
  for (let i = 0; out.length < n; i++) out.push(i < story.length ? story[i] % V : (i * 37 + 11) % V);
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Everything a run produces: batched logits of every position, decode logits, greedy tokens. */
async function runAll(file: string, threads: number, kvCache?: 'f16') {
  const model = await loadModel(file, { threads, kvCache });
  try {
    assert.is(model.threads, threads);
    const V = model.config.vocabSize;
    const seq = ids(V, Math.min(150, model.contextLength));
    const batched = model.evaluate(seq);
    const decode = new Float32Array(40 * V);
    for (let t = 0; t < 40; t++) decode.set(model.step(seq[t], t)!, t * V);
    const greedy = (await model.complete(seq.slice(0, 70), { temperature: 0, maxTokens: 12, stopAtEos: false })).tokens;
    return { batched, decode, greedy, V };
  } finally {
    model.dispose();
  }
}

const bits = sharedSuite('threads: 2 and 3 threads give the same bits as 1');
bits.before(splitEverything);
bits.after(restore);
for (const [name, file] of Object.entries(MODELS)) {
  bits(`${name}: batched logits, decode logits and greedy tokens`, async () => {
    const one = await runAll(await file(), 1);
    for (const n of [2, 3]) {
      const r = await runAll(await file(), n);
      assert.ok(sameBits(r.batched, one.batched), `${n} threads: batched logits differ`);
      assert.ok(sameBits(r.decode, one.decode), `${n} threads: decode logits differ`);
      assert.equal(r.greedy, one.greedy, `${n} threads: greedy tokens`);
    }
  });
}
bits('stories260K V2 with an f16 KV cache', async () => {
  const f = await MODELS['stories260K V2']();
  const one = await runAll(f, 1, 'f16');
  const two = await runAll(f, 2, 'f16');
  assert.ok(sameBits(two.batched, one.batched));
  assert.ok(sameBits(two.decode, one.decode));
});
bits('workers and the poster that sleep before every job (threadTuning.workerSpin and spin 0) give the same bits', async () => {
  // The wake-up path (notify on the job word and on `done`) on every job instead of now and then.
  const f = await MODELS['stories260K V2']();
  const one = await runAll(f, 1);
  const spins = { spin: threadTuning.spin, workerSpin: threadTuning.workerSpin };
  Object.assign(threadTuning, { spin: 0, workerSpin: 0 });
  try {
    const two = await runAll(f, 2);
    assert.ok(sameBits(two.batched, one.batched));
    assert.ok(sameBits(two.decode, one.decode));
    assert.equal(two.greedy, one.greedy);
  } finally {
    Object.assign(threadTuning, spins);
  }
});
bits('the reference kernel (set_kernel(0), a setting of the calling thread\'s instance only) on 3 threads', async () => {
  const f = await MODELS['stories260K V2']();
  const run = async (threads: number) => {
    const model = await loadModel(f, { threads });
    try {
      (model as unknown as { ex: { set_kernel(k: number): void } }).ex.set_kernel(0);
      return model.evaluate(ids(512, 100));
    } finally {
      model.dispose();
    }
  };
  assert.ok(sameBits(await run(3), await run(1)));
});
bits.run();

const batch = sharedSuite('prefill: batched forward passes match token-by-token decode');
batch.before(splitEverything);
batch.after(restore);
function compare(what: string, got: Float32Array, want: Float32Array, V: number) {
  const { problems } = compareLogits(what, got, want, V, MAX_REL_BATCH_ERR);
  assert.equal(problems.slice(0, 5), [], `${problems.length} positions fail`);
  assert.ok(sameBits(got, want), `${what}: not the same bits`);
}
for (const [name, file] of Object.entries(MODELS)) {
  batch(`${name}: evaluate (batches of 64, 64 and the rest) and prefill from a cached prefix vs step`, async () => {
    for (const threads of [1, 2]) {
      const model = await loadModel(await file(), { threads });
      try {
        const V = model.config.vocabSize;
        const seq = ids(V, Math.min(150, model.contextLength));
        const stepped = new Float32Array(seq.length * V);
        for (let t = 0; t < seq.length; t++) stepped.set(model.step(seq[t], t)!, t * V);
        compare(`${name} ${threads}T evaluate`, model.evaluate(seq), stepped, V);
        // Prefill positions 100.. on top of a cache filled for 0..99 by evaluate above.
        const last = model.prefill(seq.slice(100), 100)!;
        compare(`${name} ${threads}T prefill from 100`, last, stepped.subarray((seq.length - 1) * V), V);
        assert.is(model.prefill(seq.slice(0, 10), 0, false), null);
      } finally {
        model.dispose();
      }
    }
  });
}
batch('stories260K V2 with an f16 KV cache: evaluate vs step', async () => {
  const model = await loadModel(await MODELS['stories260K V2'](), { threads: 2, kvCache: 'f16' });
  try {
    const V = model.config.vocabSize;
    const seq = ids(V, 130);
    const stepped = new Float32Array(seq.length * V);
    for (let t = 0; t < seq.length; t++) stepped.set(model.step(seq[t], t)!, t * V);
    compare('f16 KV evaluate', model.evaluate(seq), stepped, V);
  } finally {
    model.dispose();
  }
});
batch('a prompt is ingested in batches: usage counts and greedy tokens as with one token at a time', async () => {
  const model = await loadModel(await MODELS['stories260K V2'](), { threads: 2 });
  try {
    const seq = ids(512).slice(0, 140);
    const r = await model.complete(seq, { temperature: 0, maxTokens: 16, stopAtEos: false });
    assert.is(r.usage.evaluatedPromptTokens, 140);
    // The same continuation from logits computed one step at a time.
    let logits: Float32Array = new Float32Array(0);
    for (let t = 0; t < seq.length; t++) logits = model.step(seq[t], t)!;
    const tokens: number[] = [];
    for (let i = 0; i < 16; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      tokens.push(best);
      logits = model.step(best, seq.length + i)!;
    }
    assert.equal(r.tokens, tokens);
  } finally {
    model.dispose();
  }
});
batch('bad spans are refused by name', async () => {
  const model = await loadModel(await MODELS['stories260K V2'](), { threads: 1 });
  try {
    assert.throws(() => model.prefill([1, 2, 9999], 0), /token id 9999 is outside the vocabulary/);
    assert.throws(() => model.evaluate([1, 2], model.contextLength - 1), /exceed the context/);
    assert.throws(() => model.prefill([1], -1), /start position -1/);
  } finally {
    model.dispose();
  }
});
batch.run();

const pool = sharedSuite('threads: options, fallback, dispose');

/** node:worker_threads as src/node.ts uses them, keeping the Worker objects to watch them exit. */
function watchedPlatform(): { platform: ThreadPlatform; workers: Worker[] } {
  const workers: Worker[] = [];
  const platform: ThreadPlatform = {
    ...nodeThreads,
    spawn(init, onMessage) {
      const w = new Worker(NODE_WORKER_SOURCE, { eval: true });
      workers.push(w);
      w.on('message', (m: WorkerMessage) => onMessage(m));
      w.on('error', (e: Error) => onMessage({ error: e.message }));
      w.postMessage(init);
      return { terminate: () => void w.terminate() };
    },
  };
  return { platform, workers };
}

pool('threads is checked: an integer from 1 to 256', async () => {
  const f = await MODELS['stories260K V2']();
  for (const bad of [0, 1.5, -2, 300]) {
    let err: unknown = null;
    try { await loadModel(f, { threads: bad }); } catch (e) { err = e; }
    assert.instance(err, OptionError, `threads: ${bad}`);
    assert.match((err as Error).message, /option threads: is .*, expected an integer from 1 to 256/);
  }
});

pool('the default: all cores for models worth splitting, 1 for the tiny ones', async () => {
  const model = await loadModel(await MODELS['stories260K V2']());
  assert.is(model.threads, 1);
  model.dispose();
  splitEverything();
  try {
    const big = await loadModel(await MODELS['stories260K V2']());
    assert.is(big.threads, nodeThreads.cores());
    big.dispose();
  } finally {
    restore();
  }
});

pool('dispose ends every worker thread', async () => {
  const { platform, workers } = watchedPlatform();
  const model = await Model.load(await toSource(await MODELS['stories260K V2']()), await wasmModule(), { threads: 3 }, platform);
  assert.is(model.threads, 3);
  assert.is(workers.length, 2);
  const exited = workers.map((w) => new Promise<number>((ok) => w.once('exit', ok)));
  model.evaluate([1, 2, 3]);
  model.dispose();
  let timer: NodeJS.Timeout | undefined;
  const codes = await Promise.race([Promise.all(exited), new Promise<never>((_, fail) => { timer = setTimeout(() => fail(new Error('workers still running 5 s after dispose')), 5000); })]);
  clearTimeout(timer);
  assert.is(codes.length, 2);
  assert.ok(model.disposed);
});

pool('a process that loads with threads exits by itself (after dispose, and when the model is left undisposed)', async () => {
  const f = await MODELS['stories260K V2']();
  for (const dispose of [true, false]) {
    const script = join(dir, `exit-${dispose}.mts`);
    writeFileSync(script, `
      import { loadModel, _threadTuning } from ${JSON.stringify(new URL('../src/node.ts', import.meta.url).pathname)};
      _threadTuning.oversubscription = 4;
      const model = await loadModel(${JSON.stringify(f)}, { threads: 3 });
      const r = await model.complete([1, 2, 3], { temperature: 0, maxTokens: 8 });
      ${dispose ? 'model.dispose();' : ''}
      process.stdout.write(model.threads + ' ' + r.tokens.length + '\\n');
    `);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    assert.is(r.signal, null, `dispose ${dispose}: still running after 30 s (killed)`);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), '3 8');
    assert.ok(Date.now() - t0 < 20_000);
  }
});

pool('workers start under `node --input-type=module -e` (an eval worker inherits the input type)', async () => {
  const f = await MODELS['stories260K V2']();
  const code = `import { loadModel, _threadTuning } from ${JSON.stringify(new URL('../dist/node.js', import.meta.url).pathname)};
    _threadTuning.oversubscription = 4;
    const notices = [];
    const model = await loadModel(${JSON.stringify(f)}, { threads: 2, onNotice: (m) => notices.push(m) });
    process.stdout.write(JSON.stringify({ threads: model.threads, notices }));
    model.dispose();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { threads: 2, notices: [] });
});

pool('no shared memory for workers: one thread and a one-line notice; the model still works', async () => {
  const f = await MODELS['stories260K V2']();
  const reference = await loadModel(f, { threads: 1 });
  const want = reference.evaluate([1, 2, 3, 4]);
  reference.dispose();
  const cases: [string, ThreadPlatform, RegExp][] = [
    ['unavailable', { ...nodeThreads, unavailable: () => 'the page is not cross-origin isolated' }, /running on 1 thread instead of 4: the page is not cross-origin isolated$/],
    ['postMessage throws', { ...nodeThreads, spawn: () => { throw new Error("DataCloneError: Failed to execute 'postMessage' on 'Worker'"); } }, /running on 1 thread instead of 4: a worker thread did not start \(DataCloneError/],
    ['the worker reports an error', { ...nodeThreads, spawn: (_init, onMessage) => { queueMicrotask(() => onMessage({ error: 'CompileError: bad module\n  at stack' })); return { terminate() {} }; } }, /a worker thread did not start \(CompileError: bad module\)$/],
  ];
  for (const [what, platform, re] of cases) {
    const notices: string[] = [];
    const model = await Model.load(await toSource(f), await wasmModule(), { threads: 4, onNotice: (m) => notices.push(m) }, platform);
    try {
      assert.is(model.threads, 1, what);
      assert.is(notices.length, 1, what);
      assert.match(notices[0], re, what);
      assert.not.match(notices[0], /\n/);
      assert.ok(sameBits(model.evaluate([1, 2, 3, 4]), want), `${what}: results`);
    } finally {
      model.dispose();
    }
  }
  // No platform at all (a runtime without workers) and threads asked for.
  const notices: string[] = [];
  const model = await Model.load(await toSource(f), await wasmModule(), { threads: 2, onNotice: (m) => notices.push(m) });
  assert.is(model.threads, 1);
  assert.equal(notices, ['fairy2i-wasm: running on 1 thread instead of 2: this runtime has no worker threads']);
  model.dispose();
});

pool('the CLI takes --threads', async () => {
  const f = await MODELS['stories260K V2']();
  const run = (t: string) => spawnSync(process.execPath, ['bin/fairy2i-wasm.js', 'run', '-m', f, '-p', 'Once upon a time', '-n', '16', '--temperature', '0', '--json', '--threads', t], { encoding: 'utf8', timeout: 60_000 });
  const a = run('1'), b = run('3');
  assert.is(a.status, 0, a.stderr);
  assert.is(b.status, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).tokens, JSON.parse(a.stdout).tokens);
  const bad = run('0');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--threads/);
});

pool('the control block above 2 GiB (a long context): the workers still take part', async () => {
  // TINY with a 2^24-token f16 KV cache (2 GiB) puts the scratch, and so the control block, above
  // 2^31, where a signed JavaScript shift (>> 2) would give a negative index and quietly leave the
  // pool's configuration unwritten (1 thread in effect).
  const src = writeTinyCheckpoint(join(dir, 'long-ctx'), { config: { max_position_embeddings: 1 << 24 } });
  const f = join(dir, 'long-ctx.gguf');
  await convert(src, { output: f, stages: 2, quiet: true });
  splitEverything();
  try {
    const one = await loadModel(f, { threads: 1, kvCache: 'f16' });
    const want = one.evaluate([1, 2, 3, 4, 5]);
    one.dispose();
    const model = await loadModel(f, { threads: 2, kvCache: 'f16' });
    try {
      const internals = model as unknown as { plan: { scratch: { ctrl: number } }; ex: { memory: WebAssembly.Memory } };
      const ctrl = internals.plan.scratch.ctrl;
      assert.ok(ctrl > 2 ** 31, `control block at ${ctrl}`);
      const words = new Uint32Array(internals.ex.memory.buffer, ctrl, 64);
      assert.is(words[192 / 4], 2, 'threads in the control block');
      assert.ok(sameBits(model.evaluate([1, 2, 3, 4, 5]), want));
      assert.ok(words[1] > 0, 'jobs were posted (the job word\'s epoch)');
    } finally {
      model.dispose();
    }
  } finally {
    restore();
  }
});

pool.run();
