// The server-metrics flags of the load command, declared once: spread SERVER_METRICS_OPTIONS into
// the load option table and hand scrapeTargets(values) to io/prometheus-scrape.ts startRunScrapers.
import { list, num, UsageError, type OptionTable } from '../core/options.ts';

export const SERVER_METRICS_OPTIONS = {
  baselineMetrics: list({ meta: 'URL', help: "baseline's Prometheus endpoint scraped during the run (vLLM /metrics, a DCGM exporter)" }),
  candidateMetrics: list({
    meta: 'URL',
    help: "candidate's Prometheus endpoint scraped during the run (Dynamo / vLLM worker /metrics, DCGM exporter)",
  }),
  metricsIntervalMs: num({ default: 2000, min: 50, integer: true, help: 'scrape interval of the server metrics, ms' }),
} satisfies OptionTable;

/** Arm → URLs from the parsed values; a malformed or non-http(s) URL is a UsageError naming the flag. */
export function scrapeTargets(values: { baselineMetrics: string[]; candidateMetrics: string[] }): Record<string, string[]> {
  const check = (flag: string, urls: string[]) =>
    urls.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new UsageError(`${flag}: got ${JSON.stringify(url)}; expected an http(s) URL such as http://127.0.0.1:8000/metrics`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw new UsageError(`${flag}: ${parsed.protocol} URLs are not supported; expected http(s)`);
      return url;
    });
  const targets: Record<string, string[]> = {};
  if (values.baselineMetrics.length > 0) targets.baseline = check('--baseline-metrics', values.baselineMetrics);
  if (values.candidateMetrics.length > 0) targets.candidate = check('--candidate-metrics', values.candidateMetrics);
  return targets;
}
