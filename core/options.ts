// Declarative command-line options: each option is declared once (name, type, bounds, default,
// help) and the same declaration parses, validates and documents it.
//
//   const spec = { qps: num({ default: 10, min: 0.001, help: 'target paired requests/s' }) };
//   const { values, positionals } = parseOptions(spec, argv);   // values.qps: number
//
// Keys are camelCase; flags are their kebab-case (`maxInflight` -> `--max-inflight`).

/** Bad command-line input: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface Common {
  help: string;
  /** Environment variable consulted when the flag is absent (never for secrets shown in help). */
  env?: string;
  /** Placeholder shown in help, e.g. URL. */
  meta?: string;
}

export interface Opt<T> extends Common {
  kind: 'number' | 'string' | 'boolean' | 'list';
  default: T;
  min?: number;
  max?: number;
  integer?: boolean;
  choices?: readonly string[];
  /** Marker for the value type; never read. */
  readonly __type?: T;
}

type NumInit = Common & { min?: number; max?: number; integer?: boolean };
export function num(init: NumInit & { default: number }): Opt<number>;
export function num(init: NumInit): Opt<number | undefined>;
export function num(init: NumInit & { default?: number }): Opt<number | undefined> {
  return { kind: 'number', ...init, default: init.default };
}

type StrInit<C extends string> = Common & { choices?: readonly C[] };
export function str<C extends string = string>(init: StrInit<C> & { default: C }): Opt<C>;
export function str<C extends string = string>(init: StrInit<C>): Opt<C | undefined>;
export function str<C extends string>(init: StrInit<C> & { default?: C }): Opt<C | undefined> {
  return { kind: 'string', ...init, default: init.default };
}

/** `--flag` sets true, `--no-flag` sets false. */
export function bool(init: Common & { default?: boolean }): Opt<boolean> {
  return { kind: 'boolean', ...init, default: init.default ?? false };
}

/** Repeatable: `--header a --header b`. */
export function list(init: Common): Opt<string[]> {
  return { kind: 'list', ...init, default: [] };
}

export type OptionTable = Record<string, Opt<unknown>>;
export type Values<T extends OptionTable> = { [K in keyof T]: T[K] extends Opt<infer V> ? V : never };

export const flagOf = (key: string): string => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** What a flag given without its value should have had: ` (a number ≥ 1)`, ` (<FOLDER>)`, or nothing. */
function describeMissing(opt: Opt<unknown>): string {
  if (opt.kind === 'number' || opt.choices) return ` (${describeAccepted(opt)})`;
  return opt.meta !== undefined ? ` (<${opt.meta}>)` : '';
}

function describeAccepted(opt: Opt<unknown>): string {
  if (opt.kind === 'number') {
    const kind = opt.integer ? 'an integer' : 'a number';
    if (opt.min !== undefined && opt.max !== undefined) return `${kind} from ${opt.min} to ${opt.max}`;
    if (opt.min !== undefined) return `${kind} ≥ ${opt.min}`;
    if (opt.max !== undefined) return `${kind} ≤ ${opt.max}`;
    return kind;
  }
  if (opt.choices) return `one of ${opt.choices.join(', ')}`;
  return 'a value';
}

/** A decimal number: optional sign, digits with an optional fraction, optional exponent (1e3). */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function convert(key: string, opt: Opt<unknown>, raw: string, source: string): unknown {
  const flag = source === 'flag' ? flagOf(key) : `${source} (for ${flagOf(key)})`;
  if (opt.kind === 'number') {
    // Decimal only: Number() would also take '0x10', '0b11', '' and ' ' (as 16, 3, 0, 0).
    const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
    const bad =
      !Number.isFinite(value) ||
      (opt.integer === true && !Number.isInteger(value)) ||
      (opt.min !== undefined && value < opt.min) ||
      (opt.max !== undefined && value > opt.max);
    if (bad) throw new UsageError(`${flag}: got ${JSON.stringify(raw)}; expected ${describeAccepted(opt)}`);
    return value;
  }
  if (opt.kind === 'string' && opt.choices && !opt.choices.includes(raw)) {
    throw new UsageError(`${flag}: got ${JSON.stringify(raw)}; expected ${describeAccepted(opt)}`);
  }
  if (opt.kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new UsageError(`${flag}: got ${JSON.stringify(raw)}; expected true or false`);
  }
  return raw;
}

export interface Parsed<T extends OptionTable> {
  values: Values<T>;
  positionals: string[];
  /** Keys the user set explicitly (flag or environment), as opposed to defaults. */
  explicit: Set<keyof T>;
}

/**
 * Parses argv against the table. Unknown flags, missing values and out-of-range values throw
 * UsageError naming the flag and what would be accepted. `--help` is left to the caller
 * (check `argv.includes('--help')` first).
 */
export function parseOptions<T extends OptionTable>(
  table: T,
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
): Parsed<T> {
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(table)) byFlag.set(flagOf(key), key);
  const values: Record<string, unknown> = {};
  const explicit = new Set<keyof T>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`${arg}: short options are not supported; see --help`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let flag = eq === -1 ? arg : arg.slice(0, eq);
    let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let key = byFlag.get(flag);
    let negated = false;
    if (key === undefined && flag.startsWith('--no-')) {
      const positive = byFlag.get('--' + flag.slice(5));
      if (positive !== undefined && table[positive]?.kind === 'boolean') {
        key = positive;
        negated = true;
      }
    }
    if (key === undefined) {
      const near = [...byFlag.keys()].filter((f) => f.includes(flag.slice(2, 6)) || flag.includes(f.slice(2)));
      throw new UsageError(`${flag}: unknown option${near.length ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : ''}; see --help`);
    }
    const opt = table[key] as Opt<unknown>;
    if (opt.kind === 'boolean') {
      const value = inline === undefined ? true : convert(key, opt, inline, 'flag');
      values[key] = negated ? !value : value;
    } else {
      if (negated) throw new UsageError(`${flag}: ${flagOf(key)} is not a switch`);
      if (inline === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) {
          throw new UsageError(`${flag}: needs a value${describeMissing(opt)}`);
        }
        inline = next;
        i++;
      }
      const value = convert(key, opt, inline, 'flag');
      if (opt.kind === 'list') values[key] = [...((values[key] as string[] | undefined) ?? []), value];
      else values[key] = value;
    }
    explicit.add(key);
    flag = '';
  }
  for (const [key, opt] of Object.entries(table)) {
    if (key in values) continue;
    const fromEnv = opt.env ? env[opt.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      values[key] = opt.kind === 'list' ? fromEnv.split(',') : convert(key, opt, fromEnv, opt.env as string);
      explicit.add(key);
    } else {
      values[key] = Array.isArray(opt.default) ? [...opt.default] : opt.default;
    }
  }
  return { values: values as Values<T>, positionals, explicit };
}

/** Help text listing every option with its default and accepted values. */
export function formatHelp(usage: string, description: string, table: OptionTable): string {
  const rows = Object.entries(table).map(([key, opt]) => {
    const meta =
      opt.kind === 'boolean' ? '' : ` <${opt.meta ?? (opt.kind === 'number' ? 'n' : opt.choices ? opt.choices.join('|') : 'value')}>`;
    // A switch on by default is listed as `--[no-]x`, so its help (which describes what it does when
    // on) is not read as the effect of `--no-x`.
    const negatable = opt.kind === 'boolean' && opt.default === true;
    const flag = negatable ? `--[no-]${flagOf(key).slice(2)}` : flagOf(key);
    const notes: string[] = [];
    if (opt.kind === 'number' && (opt.min !== undefined || opt.max !== undefined)) notes.push(describeAccepted(opt));
    if (opt.default !== undefined && !(Array.isArray(opt.default) && opt.default.length === 0) && opt.kind !== 'boolean') {
      notes.push(`default ${String(opt.default)}`);
    }
    // A switch's default, spelled out with the flag that changes it.
    if (opt.kind === 'boolean') notes.push(negatable ? `on by default; --no-${flagOf(key).slice(2)} turns it off` : 'off by default');
    if (opt.kind === 'list') notes.push('repeatable');
    if (opt.env) notes.push(`env ${opt.env}`);
    return { left: `  ${flag}${meta}`, right: opt.help + (notes.length ? ` [${notes.join('; ')}]` : '') };
  });
  const width = Math.min(34, Math.max(...rows.map((r) => r.left.length)) + 2);
  const lines = rows.map((r) => (r.left.length + 2 > width ? `${r.left}\n${' '.repeat(width)}${r.right}` : r.left.padEnd(width) + r.right));
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n${lines.join('\n')}\n  --help${' '.repeat(Math.max(2, width - 8))}show this help\n`;
}

/** Some of another command's option declarations, by name (one declaration shared, not copied). */
export function pickOptions<T extends object, K extends keyof T>(from: T, names: readonly K[]): Pick<T, K> {
  return Object.fromEntries(names.map((name) => [name, from[name]])) as Pick<T, K>;
}
