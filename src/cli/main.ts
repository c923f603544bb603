// The `fairy2i-wasm` command: dispatch, --help, and the one place that turns errors into a
// one-line message and an exit code (a stack only for unexpected errors, with --debug).

import { Fairy2iError } from '../errors.js';
import { VERSION } from '../version.js';
import { parseArgs, usage, type CommandSpec, type Parsed } from './args.js';
import { convertSpec, runConvert } from './cmd-convert.js';
import { benchSpec, runBench } from './cmd-bench.js';
import { chatSpec, runChat } from './cmd-chat.js';
import { infoSpec, runInfo } from './cmd-info.js';
import { pplSpec, runPpl } from './cmd-ppl.js';
import { runRun, runSpec } from './cmd-run.js';
import { runServe, serveSpec } from './cmd-serve.js';
import { runTokenize, tokenizeSpec } from './cmd-tokenize.js';
import { pullSpec, runPull } from './cmd-pull.js';
import { modelsSpec, runModels } from './cmd-models.js';
import { rmSpec, runRm } from './cmd-rm.js';
import { exitQuietlyOnClosedOutput } from './common.js';
import { runWeb, webSpec } from './cmd-web.js';

type Command = { spec: CommandSpec; run: (a: Parsed) => Promise<void> | void };

const COMMANDS: Record<string, Command> = {
  chat: { spec: chatSpec, run: runChat },
  run: { spec: runSpec, run: runRun },
  tokenize: { spec: tokenizeSpec, run: runTokenize },
  ppl: { spec: pplSpec, run: runPpl },
  bench: { spec: benchSpec, run: runBench },
  serve: { spec: serveSpec, run: runServe },
  convert: { spec: convertSpec, run: runConvert },
  info: { spec: infoSpec, run: runInfo },
  web: { spec: webSpec, run: runWeb },
  pull: { spec: pullSpec, run: runPull },
  models: { spec: modelsSpec, run: runModels },
  rm: { spec: rmSpec, run: runRm },
};

function mainUsage(): string {
  const lines = [`fairy2i-wasm ${VERSION} — Fairy2i (2-bit complex {±1,±i}) LLaMA models in WebAssembly`, '', 'usage: fairy2i-wasm <command> [options]   (fairy2i-wasm <command> --help for details)', ''];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.spec.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedOutput();
  const debug = argv.includes('--debug');
  argv = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage() + '\n');
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`fairy2i-wasm: unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage(cmd.spec) + '\n');
    return 0;
  }
  try {
    await cmd.run(parseArgs(cmd.spec, rest));
    return 0;
  } catch (e) {
    if (e instanceof Fairy2iError) {
      process.stderr.write(`fairy2i-wasm ${name}: ${e.message}\n`);
      return e.code === 'option' ? 2 : 1;
    }
    if (e instanceof Error && e.name === 'AbortError') {
      process.stderr.write(`fairy2i-wasm ${name}: ${e.message}\n`);
      return 130;
    }
    process.stderr.write(`fairy2i-wasm ${name}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (debug && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('(run again with --debug for a stack trace, and please report it)\n');
    return 70;
  }
}
