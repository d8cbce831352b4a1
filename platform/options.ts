/**
 * One options table per program (server, bridge, CLI, bench, fuzz): each row is a flag with
 * its value check, default, environment variable and help text. From the table come the
 * `node:util` parseArgs config, the environment fallback (flags win, then the variable,
 * then older names of it with a deprecation warning, then the default) and the --help text.
 * Every environment variable is named SFT_...; a part other than the server adds its own
 * word (SFT_BRIDGE_LISTEN), so one environment can configure every part at once.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { OptionError, type Validator } from './validators';

interface OptionBase {
  /** Placeholder in --help (PORT, HOST:PORT, SECONDS ...); none for a switch. */
  readonly arg?: string;
  /** One-letter alias (`-h`). */
  readonly short?: string;
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
  /** Earlier names of that variable, still read with a warning naming `env`. */
  readonly oldEnv?: readonly string[];
  /** One line for --help (say the default there). */
  readonly help: string;
}

/** A flag with one value: `--port 0`, `--port=0`. */
export interface ValueOption<T> extends OptionBase {
  readonly kind: 'value';
  readonly parse: Validator<T>;
  readonly default: T;
}

/** A repeatable flag (`--origin a --origin b`, or `--origin a,b`); the variable is comma-separated. */
export interface ListOption<T> extends OptionBase {
  readonly kind: 'list';
  readonly parse: Validator<T>;
  readonly default: readonly T[];
}

/** A flag without a value (`--trust-proxy`); the variable is on when 1, true or yes. */
export interface SwitchOption extends OptionBase {
  readonly kind: 'switch';
}

export type Option = ValueOption<unknown> | ListOption<unknown> | SwitchOption;
/** Flag name without the leading dashes (`max-payload`) -> its row. */
export type OptionsTable = Readonly<Record<string, Option>>;

export type OptionValues<T extends OptionsTable> = {
  -readonly [K in keyof T]: T[K] extends ValueOption<infer V>
    ? V
    : T[K] extends ListOption<infer V>
      ? V[]
      : boolean;
};

type Spec = Omit<OptionBase, 'arg'> & { arg: string };

export function value<T>(parse: Validator<T>, spec: Spec & { default: T }): ValueOption<T>;
export function value<T>(
  parse: Validator<T>,
  spec: Spec & { default?: undefined },
): ValueOption<T | undefined>;
export function value<T>(parse: Validator<T>, spec: Spec & { default?: T }): ValueOption<T | undefined> {
  return { kind: 'value', parse, ...spec, default: spec.default };
}

export function list<T>(parse: Validator<T>, spec: Spec & { default?: readonly T[] }): ListOption<T> {
  return { kind: 'list', parse, ...spec, default: spec.default ?? [] };
}

export function flag(spec: Omit<OptionBase, 'arg'>): SwitchOption {
  return { kind: 'switch', ...spec };
}

/** Every program takes -h / --help. */
const HELP = flag({ short: 'h', help: 'show this text' });

function withHelp(table: OptionsTable): OptionsTable {
  return { ...table, help: HELP };
}

/** The `node:util` parseArgs options for a table (with --help). */
export function parseArgsOptions(table: OptionsTable): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(withHelp(table))) {
    options[name] = {
      type: o.kind === 'switch' ? 'boolean' : 'string',
      ...(o.kind === 'list' ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    };
  }
  return options;
}

export interface ParsedOptions<T extends OptionsTable> {
  /** -h or --help was given: nothing else was checked. */
  help: boolean;
  values: OptionValues<T>;
  /** Where each value came from; absent = the default. */
  source: Partial<Record<keyof T, 'flag' | 'env'>>;
  positionals: string[];
  /** Sentences for the operator (a deprecated variable was read). */
  warnings: string[];
}

export interface ParseOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Arguments that are not options are allowed (files, a command word). */
  positionals?: boolean;
  /** Wraps a usage or value error in the program's own error type (with its code). */
  fail?: (message: string) => Error;
}

const SEE_HELP = 'Run with --help to see the options.';

/**
 * Parses `argv` (without node and script) against `table`, then fills what no flag set
 * from the environment. Throws OptionError (or what `fail` makes of its sentence).
 */
export function parseOptions<T extends OptionsTable>(
  table: T,
  argv: readonly string[],
  opts: ParseOptions = {},
): ParsedOptions<T> {
  try {
    return parse(table, argv, opts);
  } catch (e) {
    if (e instanceof OptionError && opts.fail) throw opts.fail(e.message);
    throw e;
  }
}

function parse<T extends OptionsTable>(
  table: T,
  argv: readonly string[],
  opts: ParseOptions,
): ParsedOptions<T> {
  // Not strict: the tokens let us word every mistake the same way in every program.
  const { tokens } = parseArgs({
    args: [...argv],
    options: parseArgsOptions(table),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = new Map<string, string[] | true>();
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (!opts.positionals) throw usage(`Unexpected argument "${t.value}". ${SEE_HELP}`);
      positionals.push(t.value);
      continue;
    }
    if (t.name === 'help') return { help: true, ...defaults(table), positionals, warnings: [] };
    const o = Object.hasOwn(table, t.name) ? table[t.name] : undefined;
    if (!o) throw usage(`Unknown option ${t.rawName}. ${SEE_HELP}`);
    if (o.kind === 'switch') {
      if (t.value !== undefined) throw usage(`Option ${t.rawName} takes no value. ${SEE_HELP}`);
      given.set(t.name, true);
      continue;
    }
    if (t.value === undefined || t.value === '') {
      throw usage(`Option ${t.rawName} needs a value (${o.arg}). ${SEE_HELP}`);
    }
    const prev = given.get(t.name);
    given.set(t.name, o.kind === 'list' && Array.isArray(prev) ? [...prev, t.value] : [t.value]);
  }

  const { values, source } = defaults(table);
  const warnings: string[] = [];
  const env = opts.env ?? {};
  const set = values as Record<string, unknown>;
  for (const [name, o] of Object.entries(table)) {
    const flagText = given.get(name);
    const key = name as keyof T;
    if (flagText !== undefined) {
      source[key] = 'flag';
      set[name] = convert(o, flagText === true ? [] : flagText, `--${name}`);
      continue;
    }
    if (!o.env) continue;
    const fromEnv = readEnv(env, o.env, o.oldEnv ?? [], warnings);
    if (fromEnv === undefined) continue;
    source[key] = 'env';
    if (o.kind === 'switch') set[name] = /^(1|true|yes)$/i.test(fromEnv.text);
    else set[name] = convert(o, [fromEnv.text], fromEnv.name);
  }
  return { help: false, values, source, positionals, warnings };
}

function convert(o: Option, texts: string[], what: string): unknown {
  if (o.kind === 'switch') return true;
  if (o.kind === 'value') return o.parse(texts[texts.length - 1]!, what);
  return texts
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => o.parse(t, what));
}

function defaults<T extends OptionsTable>(
  table: T,
): { values: OptionValues<T>; source: ParsedOptions<T>['source'] } {
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(table)) {
    values[name] = o.kind === 'switch' ? false : o.kind === 'list' ? [...o.default] : o.default;
  }
  return { values: values as OptionValues<T>, source: {} };
}

function usage(message: string): OptionError {
  return new OptionError('OPTION_ERR_USAGE', message);
}

/**
 * A variable by its current name, else by an older one (adding a warning that names the
 * new one). Empty counts as unset.
 */
export function readEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  oldNames: readonly string[],
  warnings: string[],
): { name: string; text: string } | undefined {
  const current = env[name];
  if (current !== undefined && current !== '') return { name, text: current };
  for (const old of oldNames) {
    const text = env[old];
    if (text === undefined || text === '') continue;
    warnings.push(`${old} is deprecated and will stop working; use ${name} instead.`);
    return { name: old, text };
  }
  return undefined;
}

export interface HelpLayout {
  /** The lines above the options (usage and what the program does). */
  usage: string;
  /** The lines below them. */
  footer?: string;
}

const HELP_WIDTH = 100;

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** The --help text: usage, one entry per option (with its variable), footer. */
export function helpText(table: OptionsTable, layout: HelpLayout): string {
  const rows: [string, string][] = [];
  const all = withHelp(table);
  for (const [name, o] of Object.entries(all)) {
    const names = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    const env = o.env ? ` [${o.env}${o.kind === 'list' ? ', comma-separated' : ''}]` : '';
    rows.push([names, o.help + env]);
  }
  const width = Math.min(26, Math.max(...rows.map(([n]) => n.length)) + 2);
  const anyEnv = Object.values(all).some((o) => o.env);
  const lines = [
    layout.usage,
    '',
    anyEnv ? 'Options (environment variable in brackets; flags win):' : 'Options:',
  ];
  for (const [n, h] of rows) {
    const text = wrap(h, HELP_WIDTH - width - 2);
    const first =
      n.length + 2 > width
        ? [`  ${n}`, `  ${' '.repeat(width)}${text[0]}`]
        : [`  ${n.padEnd(width)}${text[0]}`];
    lines.push(...first, ...text.slice(1).map((t) => `  ${' '.repeat(width)}${t}`));
  }
  if (layout.footer) lines.push('', layout.footer);
  return lines.join('\n');
}

/** Exit status of a usage error, in every program. */
export const EXIT_USAGE = 2;

/**
 * For a script's entry point: parses `process.argv`; on --help prints the help text and
 * exits 0, on a bad command line prints the sentence and exits 2.
 */
export function parseCommandLine<T extends OptionsTable>(
  table: T,
  layout: HelpLayout,
  opts: Omit<ParseOptions, 'fail'> = {},
): ParsedOptions<T> {
  let parsed: ParsedOptions<T>;
  try {
    parsed = parseOptions(table, process.argv.slice(2), opts);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (parsed.help) {
    process.stdout.write(`${helpText(table, layout)}\n`);
    process.exit(0);
  }
  return parsed;
}
