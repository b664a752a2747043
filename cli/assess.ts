// `npm run assess -- results/<baseline-run>`: the migration guide's should-we-migrate decision
// from a measured baseline run. Prints the score, each reason and the recommendation, and writes
// assessment.json into the run folder. Exit 0 whatever the advice; 2 for unusable input.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bool, formatHelp, parseOptions, str, UsageError } from '../core/options.ts';
import {
  assess,
  DEFAULT_THRESHOLDS,
  formatAssessment,
  parseThresholds,
  ThresholdsError,
  type AssessThresholds,
} from '../migrate/assess.ts';
import { AssessInputError, gatherAssessInputs } from '../migrate/assess-inputs.ts';

export const ASSESS_OPTIONS = {
  thresholds: str({
    meta: 'FILE',
    help: `JSON or YAML file overriding the decision thresholds (keys: ${Object.keys(DEFAULT_THRESHOLDS).join(', ')})`,
  }),
  workload: str({ meta: 'FILE', help: 'workload file to read models, prefix reuse and arrival times from (default: the one in run.json)' }),
  json: bool({ help: 'print the assessment as JSON instead of text' }),
};

const USAGE = 'shadowbench assess [options] results/<baseline-run>';
const DESCRIPTION = `Should we migrate from single-node vLLM to llm-d / Dynamo? Scores a baseline run against the
migration guide's criteria: GPU utilisation (needs --baseline-metrics during the load), TTFT P99 against
its SLO, number of models, peak-to-average arrivals and prompt-prefix reuse of the workload.`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp(USAGE, DESCRIPTION, ASSESS_OPTIONS));
    return 0;
  }
  const { values, positionals } = parseOptions(ASSESS_OPTIONS, argv);
  if (positionals.length !== 1)
    throw new UsageError(`expected one run folder, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}; usage: ${USAGE}`);
  const runDir = positionals[0] as string;
  let thresholds: AssessThresholds = DEFAULT_THRESHOLDS;
  try {
    if (values.thresholds !== undefined) {
      let text: string;
      try {
        text = await readFile(values.thresholds, 'utf8');
      } catch (error) {
        throw new UsageError(
          `--thresholds ${values.thresholds}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      }
      thresholds = parseThresholds(text, values.thresholds);
    }
    const inputs = await gatherAssessInputs(runDir, {
      thresholds,
      ...(values.workload !== undefined ? { workload: values.workload } : {}),
      onWarning: (message) => process.stderr.write(`assess: warning: ${message}\n`),
    });
    const assessment = assess(inputs, thresholds);
    await writeFile(join(runDir, 'assessment.json'), JSON.stringify(assessment, null, 2) + '\n');
    process.stdout.write(values.json ? JSON.stringify(assessment, null, 2) + '\n' : formatAssessment(assessment).join('\n') + '\n');
    return 0;
  } catch (error) {
    if (error instanceof ThresholdsError || error instanceof AssessInputError) throw new UsageError(error.message);
    throw error;
  }
}
