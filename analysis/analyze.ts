// The whole analysis as one pure function, for records already in memory (tests, small runs).
// cli/analyze.ts streams records.jsonl through the same collector and report instead.
import type { RequestRecord } from '../core/record.ts';
import { AnalysisInputError, RunCollector } from './collect.ts';
import type { Gates } from './gates.ts';
import { buildReport, type Report, type RunContext } from './report.ts';

export function analyzeRecords(
  records: Iterable<RequestRecord>,
  gates: Gates,
  options: { keepText?: boolean; divergencePairs?: number; context?: Partial<RunContext> } = {},
): { report: Report; collector: RunCollector } {
  const collector = new RunCollector({
    expectRepeat: true,
    keepText: options.keepText ?? false,
    ...(options.divergencePairs !== undefined && { divergencePairs: options.divergencePairs }),
  });
  for (const r of records) collector.add(r);
  if (collector.records === 0) throw new AnalysisInputError('no records to analyse');
  const context: RunContext = { readWarnings: [], manifestWarnings: [], droppedIterations: null, ...options.context };
  return { report: buildReport(collector, gates, context), collector };
}
