// The package's types as a TypeScript user gets them: `npm pack`, install the tarball into a scratch
// project (strict, "module": "nodenext"), and type-check the README's library examples against it;
// then the browser condition (a bundler resolving 'fairy2i-wasm' with "browser") and the README's
// page script. Misuse must be a type error, so the types cannot be `any` in disguise.
//
// Offline: the tarball's runtime dependencies and @types/node are installed from this checkout's
// node_modules (npm ci caches tarballs, not the registry metadata a fresh install would ask for).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { tempDir } from './fixtures.ts';

const repo = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const dir = tempDir('fairy2i-types-');
const app = join(dir, 'app');
const tsc = (project: string, ...extra: string[]) => spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', project, '--pretty', 'false', ...extra], { cwd: app, encoding: 'utf8', timeout: 120_000 });
// As from a user's shell: without the npm_* variables of an enclosing `npm test`, and without the
// node_modules/.bin it puts first on PATH (a devDependency brings an npm of its own there).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
env.PATH = (process.env.PATH ?? '').split(':').filter((p) => !/node_modules[\\/]\.bin|node-gyp-bin/.test(p)).join(':');
const npm = (args: string[], cwd: string) => {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-progress', '--ignore-scripts'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `npm ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};

/** The bodies of the README's fenced blocks of one language. */
function readmeBlocks(lang: string): string[] {
  const md = readFileSync('README.md', 'utf8');
  return [...md.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]);
}

/** Writes `files` into the scratch project, type-checks them with `config` and returns tsc's output. */
function check(config: object, files: Record<string, string>, ...extra: string[]) {
  const name = `tsconfig.${Object.keys(files)[0]}.json`;
  writeFileSync(join(app, name), JSON.stringify({ compilerOptions: { noEmit: true, strict: true, target: 'es2022', ...config }, files: Object.keys(files) }));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(app, f), text);
  const r = tsc(name, ...extra);
  return { code: r.status, out: r.stdout + r.stderr };
}

const nodeConfig = { module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] };
const browserConfig = { module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'], lib: ['es2022', 'dom'], types: [] };

const s = suite('types: the packed package in a strict TypeScript project');

s.before(() => {
  const tarball = npm(['pack', '--pack-destination', dir, '--silent'], repo).trim().split('\n').pop()!;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const local = [...Object.keys(pkg.dependencies ?? {}), '@types/node'].map((d) => join(repo, 'node_modules', d));
  npm(['install', '--offline', join(dir, tarball), ...local], app);
});

s('the tarball carries a declaration beside each entry, and package.json points at them', () => {
  const dist = readdirSync(join(app, 'node_modules/fairy2i-wasm/dist'));
  for (const f of ['node.d.ts', 'browser.d.ts', 'types.d.ts']) assert.ok(dist.includes(f), `dist/${f} missing from the package: ${dist.join(', ')}`);
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/fairy2i-wasm/package.json'), 'utf8'));
  for (const t of [installed.types, installed.exports['.'].types, installed.exports['.'].browser.types]) assert.ok(dist.includes(t.replace('./dist/', '')), t);
});

s("the README's library examples type-check (nodenext, strict), and so does every public type name", () => {
  const blocks = readmeBlocks('ts');
  assert.ok(blocks.length >= 1, 'no ```ts block in README.md');
  const files: Record<string, string> = {};
  blocks.forEach((b, i) => (files[`readme-${i + 1}.ts`] = b));
  files['names.ts'] = `import type { GenerateOptions, GenerationStream, GenerateResult, GeneratePiece, StopReason, ChatSession, ChatOptions, ChatMessage,
  ModelLoadOptions, LoadOptions, LoadProgress, Precision, ModelSource, SamplingOptions, KvType, ModelConfig, Fairy2iErrorCode } from 'fairy2i-wasm';
import { loadModel, Model, Tokenizer, Fairy2iError, FormatError, OptionError, AbortError } from 'fairy2i-wasm';
export async function f(src: ModelSource, o: LoadOptions & ModelLoadOptions, p: Precision, k: KvType, g: GenerateOptions & SamplingOptions): Promise<[GenerateResult, StopReason]> {
  const m: Model = await loadModel(src, { ...o, precision: p, kvCache: k, onProgress: (x: LoadProgress) => void x.loaded });
  const c: ChatSession = m.chat({ system: 'x' } satisfies ChatOptions);
  const msgs: readonly ChatMessage[] = c.messages;
  const st: GenerationStream = m.generate('x', g);
  for await (const piece of st) { const q: GeneratePiece = piece; void q; }
  const cfg: ModelConfig = m.config;
  const code: Fairy2iErrorCode | undefined = new Fairy2iError('input', 'x').code;
  void [msgs, cfg, code, Tokenizer, FormatError, OptionError, AbortError];
  const r = await st.result;
  return [r, r.stopReason];
}
`;
  const r = check(nodeConfig, files);
  assert.is(r.code, 0, r.out);
});

s('misuse is a type error (the types are real, not any)', () => {
  const r = check({ ...nodeConfig, skipLibCheck: true }, {
    'misuse.ts': `import { loadModel } from 'fairy2i-wasm';
const m = await loadModel('m.gguf', { contextLenght: 2048 });
m.generate('x', { maxTokens: '64' });
const t: number = (await m.complete('x')).text;
`,
  });
  assert.ok(r.code !== 0, r.out);
  assert.match(r.out, /misuse\.ts\(2,\d+\): error TS2561: .*'contextLenght' does not exist in type 'LoadOptions'/);
  assert.match(r.out, /misuse\.ts\(3,\d+\): error TS2322/);
  assert.match(r.out, /misuse\.ts\(4,\d+\): error TS2322/);
});

s("with the browser condition (a bundler, DOM only, no Node types) 'fairy2i-wasm' is dist/browser.d.ts; the README's page script type-checks", () => {
  const page = readmeBlocks('html').map((b) => /<script type="module">([\s\S]*?)<\/script>/.exec(b)?.[1]).find(Boolean);
  assert.ok(page, 'no <script type="module"> in a ```html block of README.md');
  const r = check(browserConfig, {
    'page.ts': page!,
    'bundled.ts': `import { loadModel, type GenerateResult } from 'fairy2i-wasm';\nexport const r: Promise<GenerateResult> = loadModel(new Uint8Array(8)).then((m) => m.complete('x'));\n`,
  }, '--listFiles');
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /node_modules\/fairy2i-wasm\/dist\/browser\.d\.ts/);
  assert.not.match(r.out, /node_modules\/fairy2i-wasm\/dist\/node\.d\.ts/);
});

s.run();
