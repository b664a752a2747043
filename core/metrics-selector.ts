// A scrape target as the metrics flags spell it: `URL{label="v",pod=~"re"}`, a Prometheus
// endpoint plus an optional PromQL-style label selector that keeps only an arm's own series (its
// pods, its GPUs) out of a shared exporter such as a node's DCGM exporter. Pure.
//
// Matcher semantics follow PromQL (prometheus/prometheus:docs/querying/basics.md, "Time series
// selectors"): operators = != =~ !~; "Regex matches are fully anchored. A match of env=~"foo" is
// treated as env=~"^foo$""; a label the sample lacks reads as "". The regular expressions are
// JavaScript's, not RE2, anchored the same way.

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
}

export interface TargetSpec {
  /** The Prometheus endpoint (the part before the selector). */
  url: string;
  matchers: Matcher[];
  /** The selector as written, `{...}`, or '' when none. */
  selector: string;
}

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Splits `URL{...}` at the first `{` after the URL's authority (a literal `{` is not valid in a URL). */
export function parseTargetSpec(text: string): TargetSpec {
  const trimmed = text.trim();
  const scheme = trimmed.indexOf('://');
  const brace = trimmed.indexOf('{', scheme === -1 ? 0 : scheme + 3);
  if (brace === -1) return { url: trimmed, matchers: [], selector: '' };
  const selector = trimmed.slice(brace);
  return { url: trimmed.slice(0, brace), matchers: parseSelector(selector), selector };
}

/** Parses `{label="v", label=~"re", ...}` (a trailing comma is allowed); throws SelectorError saying what is wrong. */
export function parseSelector(text: string): Matcher[] {
  if (!text.startsWith('{')) throw new SelectorError(`selector must start with "{", got ${JSON.stringify(text.slice(0, 40))}`);
  if (!text.endsWith('}')) throw new SelectorError('selector must end with "}"');
  const matchers: Matcher[] = [];
  let i = 1;
  const end = text.length - 1;
  const skipSpace = () => {
    while (i < end && /\s/.test(text[i] as string)) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= end) break;
    const label = LABEL.exec(text.slice(i))?.[0];
    if (label === undefined) throw new SelectorError(`expected a label name at ${JSON.stringify(text.slice(i, i + 20))}`);
    i += label.length;
    skipSpace();
    const op = (['=~', '!~', '!=', '='] as const).find((o) => text.startsWith(o, i));
    if (op === undefined) throw new SelectorError(`${label}: expected one of = != =~ !~`);
    i += op.length;
    skipSpace();
    if (text[i] !== '"') throw new SelectorError(`${label}${op}: expected a double-quoted value`);
    i++;
    let value = '';
    for (;;) {
      if (i >= end) throw new SelectorError(`${label}${op}: unterminated string`);
      const c = text[i] as string;
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new SelectorError(`${label}${op}: unknown escape \\${next ?? ''} (accepted: \\\\ \\" \\n)`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (op === '=~' || op === '!~') {
      try {
        new RegExp(`^(?:${value})$`);
      } catch (error) {
        throw new SelectorError(`${label}${op}"${value}": not a valid regular expression (${(error as Error).message})`);
      }
    }
    matchers.push({ label, op, value });
    skipSpace();
    if (i >= end) break;
    if (text[i] !== ',') throw new SelectorError(`expected "," or "}" after ${label}${op}"${value}"`);
    i++;
  }
  return matchers;
}

const compiled = new Map<string, RegExp>();
function anchored(re: string): RegExp {
  let r = compiled.get(re);
  if (r === undefined) {
    r = new RegExp(`^(?:${re})$`);
    compiled.set(re, r);
  }
  return r;
}

/** Whether a sample's labels satisfy every matcher (a missing label is ""). */
export function matches(labels: Readonly<Record<string, string>>, matchers: readonly Matcher[]): boolean {
  for (const m of matchers) {
    const v = labels[m.label] ?? '';
    const ok = m.op === '=' ? v === m.value : m.op === '!=' ? v !== m.value : anchored(m.value).test(v) === (m.op === '=~');
    if (!ok) return false;
  }
  return true;
}

/**
 * Splits one flag value into targets: on commas and whitespace outside `{...}` and quotes, so
 * `a/metrics,b/metrics{pod=~"x|y",ns="z"}` is two targets.
 */
export function splitTargets(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      current += c;
      if (c === '\\') current += text[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"' && depth > 0) quoted = true;
    else if (c === '{') depth++;
    else if (c === '}') depth = Math.max(0, depth - 1);
    else if (depth === 0 && (c === ',' || /\s/.test(c))) {
      if (current !== '') out.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (current !== '') out.push(current);
  return out;
}

/** Lines of a targets file: one target per line; blank lines and `#` comments ignored. */
export function targetFileLines(text: string): Array<{ line: number; text: string }> {
  return text
    .split('\n')
    .map((raw, i) => ({ line: i + 1, text: raw.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
}
