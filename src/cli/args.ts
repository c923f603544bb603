// Strict command-line parsing: every flag is declared with its type, range and default; unknown
// flags and bad values are errors that name the flag (a misspelled option must never be ignored).

import { OptionError } from '../errors.js';

export interface FlagSpec {
  type: 'string' | 'int' | 'number' | 'bool';
  alias?: string;
  default?: string | number | boolean;
  min?: number;
  max?: number;
  choices?: string[];
  help: string;
  /** Shown in usage instead of the type. */
  arg?: string;
  /** A string flag that may be '' (otherwise an empty value is an error: `--stop ''` would mean nothing). */
  allowEmpty?: boolean;
  /** Flags that cannot be given together with this one (one of them would win without a word). */
  conflicts?: string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Names of positional arguments; a trailing '...' name takes the rest. */
  positionals: { name: string; required: boolean; help: string }[];
}

export type Parsed = { flags: Record<string, string | number | boolean | undefined>; positionals: string[] };

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const flags: Parsed['flags'] = {};
  const positionals: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [k, f] of Object.entries(spec.flags)) if (f.alias) byAlias.set(f.alias, k);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      let name: string, value: string | undefined;
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        name = eq > 0 ? a.slice(2, eq) : a.slice(2);
        value = eq > 0 ? a.slice(eq + 1) : undefined;
      } else {
        const alias = a.slice(1);
        const full = byAlias.get(alias);
        if (!full) throw new OptionError(a, `unknown flag for '${spec.name}'; see 'fairy2i-wasm ${spec.name} --help'`);
        name = full;
      }
      const f = spec.flags[name];
      if (!f) throw new OptionError(`--${name}`, `unknown flag for '${spec.name}' (known: ${Object.keys(spec.flags).map((k) => '--' + k).join(', ')})`);
      if (f.type === 'bool') {
        if (value !== undefined && value !== 'true' && value !== 'false') throw new OptionError(`--${name}`, `takes no value or true/false, got '${value}'`);
        flags[name] = value !== 'false';
        continue;
      }
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new OptionError(`--${name}`, `needs a value (${f.arg ?? f.type})`);
        value = argv[++i];
      }
      if (flags[name] !== undefined) throw new OptionError(`--${name}`, 'is given twice (only one value is used)');
      flags[name] = convertValue(name, f, value);
    } else {
      positionals.push(a);
    }
  }
  for (const [k, f] of Object.entries(spec.flags)) {
    for (const other of f.conflicts ?? []) {
      if (flags[k] !== undefined && flags[other] !== undefined) throw new OptionError(`--${k}`, `cannot be given together with --${other} (give one)`);
    }
  }
  for (const [k, f] of Object.entries(spec.flags)) if (flags[k] === undefined && f.default !== undefined) flags[k] = f.default;
  const required = spec.positionals.filter((p) => p.required).length;
  const variadic = spec.positionals.some((p) => p.name.endsWith('...'));
  if (positionals.length < required) throw new OptionError(`<${spec.positionals[positionals.length].name}>`, `missing; usage: ${spec.usage}`);
  if (!variadic && positionals.length > spec.positionals.length) throw new OptionError(`'${positionals[spec.positionals.length]}'`, `unexpected argument; usage: ${spec.usage}`);
  return { flags, positionals };
}

function convertValue(name: string, f: FlagSpec, v: string): string | number {
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(v)) throw new OptionError(`--${name}`, `is '${v}', expected one of ${f.choices.join(', ')}`);
    if (v === '' && !f.allowEmpty) throw new OptionError(`--${name}`, `is empty, expected ${f.arg ?? 'a value'}`);
    return v;
  }
  // Decimal only: Number() would also take '0x10', '0b1', '1e3' for an int, and ' 12 '.
  const n = Number(v);
  if (!(f.type === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i).test(v) || !Number.isFinite(n) || (f.type === 'int' && !Number.isSafeInteger(n))) {
    throw new OptionError(`--${name}`, `is '${v}', expected ${f.type === 'int' ? 'an integer' : 'a number'}`);
  }
  if (f.min !== undefined && n < f.min) throw new OptionError(`--${name}`, `is ${n}, must be >= ${f.min}`);
  if (f.max !== undefined && n > f.max) throw new OptionError(`--${name}`, `is ${n}, must be <= ${f.max}`);
  return n;
}

export function usage(spec: CommandSpec): string {
  const lines = [`${spec.summary}`, '', `usage: ${spec.usage}`, ''];
  for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(24)} ${p.help}`);
  if (spec.positionals.length) lines.push('');
  const flags = Object.entries(spec.flags).map(([k, f]) => {
    const left = `${f.alias ? `-${f.alias}, ` : '    '}--${k}${f.type === 'bool' ? '' : ` <${f.arg ?? f.type}>`}`;
    const range = f.min !== undefined || f.max !== undefined ? ` in [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]` : '';
    const def = f.default !== undefined && f.type !== 'bool' ? ` (default ${f.default})` : '';
    return `  ${left.padEnd(28)} ${f.help}${range}${def}`;
  });
  lines.push(...flags, '    --help                   show this help');
  return lines.join('\n');
}
