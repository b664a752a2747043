// `npm run analyze -- results/<run-id> [--gates gates.yaml] [--include-text]`
// Streams records.jsonl through the analysis, writes summary.csv, pairs.csv, ttft_distribution.csv,
// summary.json and report.html into the run folder, prints the report to stdout (progress to stderr).
import { bool, formatHelp, parseOptions, str, UsageError } from '../core/options.ts';
import { analyzeRunFolder } from '../pipeline/analyze-folder.ts';

export const ANALYZE_OPTIONS = {
  gates: str({ help: 'gates file (JSON or YAML) with the verdict thresholds; defaults to the migration guide', meta: 'FILE' }),
  includeText: bool({ help: "put both arms' output texts in pairs.csv (memory grows with the run)" }),
  quiet: bool({ help: 'do not print the report to stdout' }),
};

const USAGE = 'shadowbench analyze <run-folder> [options]';
const DESCRIPTION =
  'Analyse a run folder: per-arm percentiles, paired comparison, output similarity and the PROCEED / INVESTIGATE verdict; writes summary.csv, pairs.csv, ttft_distribution.csv, summary.json and report.html into the folder, ' +
  'plus server-metrics.csv when the run scraped server metrics and cost.csv when run.json prices an arm.';

export function runFolderArgument(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one run folder (got ${positionals.length}); usage: ${usage}`);
  return positionals[0] as string;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp(USAGE, DESCRIPTION, ANALYZE_OPTIONS));
    return 0;
  }
  const { values, positionals } = parseOptions(ANALYZE_OPTIONS, argv);
  const runDir = runFolderArgument(positionals, USAGE);
  await analyzeRunFolder(runDir, {
    ...(values.gates !== undefined && { gatesFile: values.gates }),
    includeText: values.includeText,
    quiet: values.quiet,
  });
  return 0; // analyze reports; `gate` turns the verdict into the exit code
}
