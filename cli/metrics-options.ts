// The server-metrics flags of the load command, declared once: spread SERVER_METRICS_OPTIONS into
// the load option table and hand scrapeTargets(values) to io/prometheus-scrape.ts startRunScrapers.
import { readFileSync } from 'node:fs';
import { parseTargetSpec, SelectorError, splitTargets, targetFileLines } from '../core/metrics-selector.ts';
import { list, num, UsageError, type OptionTable } from '../core/options.ts';

const TARGET_HELP =
  'URL[{label="v",pod=~"re"}], several per flag (comma- or space-separated) or @FILE (one per line); the selector keeps only matching series (PromQL matchers = != =~ !~, anchored JavaScript regexes)';

export const SERVER_METRICS_OPTIONS = {
  baselineMetrics: list({
    meta: 'URL',
    help: `baseline's Prometheus endpoints scraped during the run (vLLM /metrics, a DCGM exporter): ${TARGET_HELP}`,
  }),
  candidateMetrics: list({
    meta: 'URL',
    help: `candidate's Prometheus endpoints scraped during the run (Dynamo frontend :8000/metrics, each worker pod's system port :9090/metrics, a DCGM exporter): ${TARGET_HELP}`,
  }),
  metricsIntervalMs: num({ default: 2000, min: 50, integer: true, help: 'scrape interval of the server metrics, ms' }),
} satisfies OptionTable;

/** One flag's values → target strings: each value split on commas / spaces outside `{...}`; `@file` read, one target per line. */
function expand(flag: string, values: readonly string[], readFile: (path: string) => string): Array<{ text: string; where: string }> {
  const out: Array<{ text: string; where: string }> = [];
  for (const value of values) {
    for (const part of splitTargets(value)) {
      if (!part.startsWith('@')) {
        out.push({ text: part, where: flag });
        continue;
      }
      const path = part.slice(1);
      let text: string;
      try {
        text = readFile(path);
      } catch (error) {
        throw new UsageError(`${flag} @${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      for (const line of targetFileLines(text)) out.push({ text: line.text, where: `${flag} @${path}:${line.line}` });
    }
  }
  return out;
}

/**
 * Arm → target strings (`URL` or `URL{selector}`) from the parsed values; a malformed or non-http(s)
 * URL or a bad selector is a UsageError naming the flag (and file:line for @file).
 */
export function scrapeTargets(
  values: { baselineMetrics: string[]; candidateMetrics: string[] },
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Record<string, string[]> {
  const check = (flag: string, given: string[]) =>
    expand(flag, given, readFile).map(({ text, where }) => {
      let spec;
      try {
        spec = parseTargetSpec(text);
      } catch (error) {
        if (error instanceof SelectorError) throw new UsageError(`${where}: ${error.message} in ${JSON.stringify(text)}`);
        throw error;
      }
      let parsed: URL;
      try {
        parsed = new URL(spec.url);
      } catch {
        throw new UsageError(`${where}: got ${JSON.stringify(text)}; expected an http(s) URL such as http://127.0.0.1:8000/metrics`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw new UsageError(`${where}: ${parsed.protocol} URLs are not supported; expected http(s)`);
      return text;
    });
  const targets: Record<string, string[]> = {};
  if (values.baselineMetrics.length > 0) targets.baseline = check('--baseline-metrics', values.baselineMetrics);
  if (values.candidateMetrics.length > 0) targets.candidate = check('--candidate-metrics', values.candidateMetrics);
  return targets;
}
