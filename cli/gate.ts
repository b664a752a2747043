// `npm run gate -- results/<run-id> [--gates gates.yaml]`: analyse and exit with the verdict, for CI.
// Exit 0 = PROCEED, 1 = INVESTIGATE, 2 = usage or input error (bad run folder, bad gates file).
import { analyzeRunFolder, ANALYZE_OPTIONS, runFolderArgument } from './analyze.ts';
import { formatHelp, parseOptions } from './options.ts';

const USAGE = 'shadowbench gate <run-folder> [--gates FILE]';
const DESCRIPTION = 'Analyse a run folder and exit 0 for PROCEED, 1 for INVESTIGATE, 2 for usage or input errors (for nightly pipelines).';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp(USAGE, DESCRIPTION, ANALYZE_OPTIONS));
    return 0;
  }
  const { values, positionals } = parseOptions(ANALYZE_OPTIONS, argv);
  const runDir = runFolderArgument(positionals, USAGE);
  const { verdict, exitCode } = await analyzeRunFolder(runDir, {
    ...(values.gates !== undefined && { gatesFile: values.gates }),
    includeText: values.includeText,
    quiet: values.quiet,
  });
  process.stderr.write(`gate: ${verdict} (exit ${exitCode})\n`);
  return exitCode;
}
