// Typed errors. Library users branch on `code`; the CLI prints `message` (one line) and exits
// non-zero for these, and shows a stack only for unknown errors behind --debug.

export type Fairy2iErrorCode =
  | 'format' // a model or checkpoint file is malformed or not what was expected
  | 'input' // a missing or unreadable input (file, directory, URL)
  | 'option' // an option or flag has a wrong name, type or value
  | 'memory' // the model does not fit in wasm32 memory
  | 'unsupported' // valid input that this engine does not handle
  | 'state' // an API call in the wrong state (e.g. after dispose)
  | 'io'; // writing failed (disk full, unwritable path)

export class Fairy2iError extends Error {
  readonly code: Fairy2iErrorCode;
  constructor(code: Fairy2iErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'Fairy2iError';
  }
}

/** A file whose content is wrong: names the file, the field (or tensor) and what was expected. */
export class FormatError extends Fairy2iError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, problem: string) {
    super('format', `${file}: ${field}: ${problem}`);
    this.name = 'FormatError';
    this.file = file;
    this.field = field;
  }
}

/** A bad option value or name: names the option and what it must be. */
export class OptionError extends Fairy2iError {
  readonly option: string;
  constructor(option: string, problem: string) {
    super('option', `option ${option}: ${problem}`);
    this.name = 'OptionError';
    this.option = option;
  }
}

/** Thrown when an AbortSignal stops work; `name` matches fetch's abort. */
export class AbortError extends Error {
  constructor(message = 'The operation was aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

/**
 * A value from a user's file as it appears in a message: JSON, cut at `max` characters; never a
 * stack overflow (a 200000-deep array) nor a megabyte of text in a one-line error.
 */
export function preview(v: unknown, max = 80): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? '[…]' : typeof v === 'object' && v !== null ? '{…}' : String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * A JSON field's value in words for an error (`the string "…"`, `number 3`, `an array`): short
 * strings and numbers are shown so the user can find them; containers are only named.
 */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing'; // a missing field, or a missing key inside one
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
