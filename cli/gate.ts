// `npm run gate -- results/<tonight> [--against results/<reference>] [--gates gates.yaml]`: analyse
// and exit with the verdict, for CI. With --against, tonight's candidate is also compared with the
// reference run's candidate (analysis/regression.ts; thresholds in the gates file's `regression:`).
// Writes junit.xml (one test case per rule) and summary.md (for a CI step summary) into tonight's
// folder, and report.html gains the regression section.
// Exit 0 = PROCEED and no regression, 1 = INVESTIGATE or a regression, 2 = usage or input error
// (bad run folder, bad reference folder, bad gates file).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { junitXml } from '../report/junit.ts';
import { CANDIDATE } from '../core/record.ts';
import { compareRuns, compareSetups, regressionSamples } from '../analysis/regression.ts';
import { summaryMarkdown } from '../report/summary-md.ts';
import {
  analyzeFolder,
  analyzeRunFolderDetailed,
  GATE_FILES,
  interruptedReason,
  loadGates,
  readManifest,
  type AnalysedFolder,
} from '../pipeline/analyze-folder.ts';
import { ANALYZE_OPTIONS, runFolderArgument } from './analyze.ts';
import { bool, formatHelp, parseOptions, str, UsageError } from '../core/options.ts';

export const GATE_OPTIONS = {
  ...ANALYZE_OPTIONS,
  against: str({
    help: "reference run folder: also fail when tonight's candidate regressed against its candidate (thresholds: regression section of the gates file)",
    meta: 'FOLDER',
  }),
  allowIncomplete: bool({
    help: 'accept a run folder without run.json (otherwise INVESTIGATE: it cannot be known to be complete), and an --against reference that is not a complete run (run.json status running, interrupted or failed) or has no run.json',
  }),
};

const USAGE = 'shadowbench gate <run-folder> [--against <reference-run-folder>] [--gates FILE]';
const DESCRIPTION =
  'Analyse a run folder and exit 0 for PROCEED (and, with --against, no regression against the reference run), 1 for INVESTIGATE or a regression, 2 for usage or input errors; writes junit.xml and summary.md into the folder (for nightly pipelines).';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp(USAGE, DESCRIPTION, GATE_OPTIONS));
    return 0;
  }
  const { values, positionals } = parseOptions(GATE_OPTIONS, argv);
  const runDir = runFolderArgument(positionals, USAGE);
  if (values.against !== undefined && resolve(values.against) === resolve(runDir))
    throw new UsageError(`--against ${values.against}: is tonight's run folder itself; give the stored reference run`);
  const gates = await loadGates(values.gates); // read once; a bad gates file is named as such, not as a problem of the reference
  // The reference first (read-only): a bad reference fails the gate before tonight's folder is touched.
  let reference: AnalysedFolder | null = null;
  if (values.against !== undefined) {
    const named = (error: unknown): never => {
      throw error instanceof UsageError ? new UsageError(`--against: ${error.message}`) : error;
    };
    if (!existsSync(values.against))
      throw new UsageError(`--against: ${values.against}: no such run folder (expected results/<run-id>/ holding records.jsonl)`);
    const manifest = await readManifest(values.against).catch(named);
    // A reference must be a whole run: one cut short (or killed: still `running`) covers only part of its plan.
    if (!values.allowIncomplete) {
      if (manifest === null)
        throw new UsageError(
          `--against ${values.against}: no run.json, so it cannot be known to be a complete run; give a complete run (or --allow-incomplete)`,
        );
      const incomplete = interruptedReason(manifest);
      if (incomplete !== null)
        throw new UsageError(
          `--against ${values.against}: the reference run is not complete, run.json ${incomplete}; its figures cover only the part that ran: give a complete run (or --allow-incomplete)`,
        );
    }
    // Analysed with tonight's gates, so both runs use the same similarity threshold; nothing is written into the reference folder.
    reference = await analyzeFolder(values.against, { gates, manifest }).catch(named);
    const referenceCandidate = reference.report.arms.find((a) => a.arm === CANDIDATE);
    if (referenceCandidate === undefined || referenceCandidate.requests === 0) {
      throw new UsageError(
        `--against ${values.against}: the reference run has no measured candidate requests (arms: ${reference.report.arms.map((a) => a.arm).join(', ')}); give a run whose candidate can be compared`,
      );
    }
  }
  const against = reference;
  const tonight = await analyzeRunFolderDetailed(runDir, {
    gates,
    includeText: values.includeText,
    quiet: values.quiet,
    // A run never passes a gate unless it is known to be complete: no run.json is INVESTIGATE (its status, when present, is checked by the analysis).
    requireManifest: !values.allowIncomplete,
    // report.html gets the regression section as it is written.
    ...(against !== null && {
      regression: (t: AnalysedFolder) =>
        compareRuns(
          regressionSamples(t.collector, t.report),
          regressionSamples(against.collector, against.report),
          t.report.gates,
          t.manifest && against.manifest ? compareSetups(t.manifest, against.manifest) : null,
        ),
    }),
  });
  const regression = tonight.regression;
  const exitCode = tonight.exitCode === 0 && !(regression?.failed ?? false) ? 0 : 1;
  await writeFile(join(runDir, 'junit.xml'), junitXml(tonight.report, regression));
  await writeFile(join(runDir, 'summary.md'), summaryMarkdown(tonight.report, regression, exitCode, tonight.serverMetrics));
  if (regression && !values.quiet) {
    process.stdout.write(`\nREGRESSION against ${regression.reference_run_id}: ${regression.failed ? 'FAILED' : 'none'}\n`);
    for (const r of regression.rules) process.stdout.write(`  ${r.status.toUpperCase().padEnd(7)} ${r.rule}: ${r.message}\n`);
  }
  process.stderr.write(
    `gate: ${tonight.verdict}${regression ? (regression.failed ? ', regression' : ', no regression') : ''} (exit ${exitCode}); wrote ${GATE_FILES.join(', ')} to ${runDir}\n`,
  );
  return exitCode;
}
