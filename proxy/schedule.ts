// The canary schedule: the share of live traffic the candidate serves, as a step function of the
// days elapsed since the schedule's start (the migration guide's 1 % on day 1 … 100 % by day 14).
// Pure: parsing takes text, the weight takes an elapsed time.
import { parse as parseYaml } from 'yaml';

export interface ScheduleStep {
  /** 1-based day on which this weight takes effect (day 1 starts at the schedule's start). */
  day: number;
  /** Share of live requests the candidate serves as primary, 0–1. */
  weight: number;
}

export interface WeightSchedule {
  /** Wall-clock start (ms since epoch); null = the moment the proxy starts. */
  start_ms: number | null;
  /** Sorted by day, days strictly increasing. */
  steps: ScheduleStep[];
}

/** Bad schedule file: the message names the file and the key. */
export class ScheduleError extends Error {
  constructor(file: string, key: string, message: string) {
    super(`${file}: ${key}: ${message}`);
    this.name = 'ScheduleError';
  }
}

const DAY_MS = 86_400_000;

const FORMAT = 'a list of {day, weight} steps, or {start: ISO-8601 date, steps: [...]}';

/**
 * Parses a schedule file (JSON or YAML). Accepted shapes:
 *   [{day: 1, weight: 0.01}, {day: 3, weight: 0.05}, ...]
 *   {start: "2025-06-02T09:00:00Z", steps: [{day: 1, weight: 0.01}, ...]}
 */
export function parseSchedule(text: string, file: string): WeightSchedule {
  let value: unknown;
  try {
    value = parseYaml(text); // YAML is a superset of JSON, so one parser reads both
  } catch (error) {
    throw new ScheduleError(file, '(document)', `not valid JSON or YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  let start_ms: number | null = null;
  let rawSteps: unknown = value;
  let stepsKey = '';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const doc = value as Record<string, unknown>;
    for (const key of Object.keys(doc)) {
      if (key !== 'start' && key !== 'steps') throw new ScheduleError(file, key, `unknown key (accepted: start, steps)`);
    }
    if (doc.start !== undefined) {
      const start = doc.start instanceof Date ? doc.start.getTime() : typeof doc.start === 'string' ? Date.parse(doc.start) : Number.NaN;
      if (!Number.isFinite(start))
        throw new ScheduleError(
          file,
          'start',
          `expected an ISO-8601 date such as "2025-06-02T09:00:00Z", got ${JSON.stringify(doc.start)}`,
        );
      start_ms = start;
    }
    rawSteps = doc.steps;
    stepsKey = 'steps';
  }
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) {
    throw new ScheduleError(file, stepsKey || '(document)', `expected ${FORMAT} with at least one step`);
  }
  const steps: ScheduleStep[] = rawSteps.map((raw, i) => {
    const key = `${stepsKey}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ScheduleError(file, key, 'expected {day, weight}');
    const step = raw as Record<string, unknown>;
    for (const k of Object.keys(step))
      if (k !== 'day' && k !== 'weight') throw new ScheduleError(file, `${key}.${k}`, 'unknown key (accepted: day, weight)');
    if (typeof step.day !== 'number' || !Number.isSafeInteger(step.day) || step.day < 1) {
      throw new ScheduleError(file, `${key}.day`, `expected an integer day ≥ 1, got ${JSON.stringify(step.day)}`);
    }
    if (typeof step.weight !== 'number' || !(step.weight >= 0 && step.weight <= 1)) {
      throw new ScheduleError(
        file,
        `${key}.weight`,
        `expected a number from 0 to 1 (share of traffic to the candidate), got ${JSON.stringify(step.weight)}`,
      );
    }
    return { day: step.day, weight: step.weight };
  });
  for (let i = 1; i < steps.length; i++) {
    if ((steps[i] as ScheduleStep).day <= (steps[i - 1] as ScheduleStep).day) {
      throw new ScheduleError(
        file,
        `${stepsKey}[${i}].day`,
        `days must increase strictly (day ${(steps[i] as ScheduleStep).day} follows day ${(steps[i - 1] as ScheduleStep).day})`,
      );
    }
  }
  return { start_ms, steps };
}

/**
 * The weight in force `elapsedMs` after the schedule's start: the weight of the last step whose day has begun
 * (day d begins at (d − 1) days elapsed); 0 before the first step and before the start. `dayMs` shortens days for rehearsals.
 */
export function scheduledWeight(schedule: WeightSchedule, elapsedMs: number, dayMs: number = DAY_MS): number {
  if (elapsedMs < 0) return 0;
  const day = Math.floor(elapsedMs / dayMs) + 1;
  let weight = 0;
  for (const step of schedule.steps) {
    if (step.day > day) break;
    weight = step.weight;
  }
  return weight;
}

/** The migration guide's default canary schedule (also shipped as proxy/schedule.guide.yaml). */
export const GUIDE_SCHEDULE: WeightSchedule = {
  start_ms: null,
  steps: [
    { day: 1, weight: 0.01 },
    { day: 3, weight: 0.05 },
    { day: 5, weight: 0.1 },
    { day: 7, weight: 0.25 },
    { day: 9, weight: 0.5 },
    { day: 11, weight: 0.75 },
    { day: 14, weight: 1 },
  ],
};
