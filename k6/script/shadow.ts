// k6 entry: replays the workload against every arm at the same planned instants and prints one
// RequestRecord (core/record.ts) per request as a console.log line. Runs under stock k6 ≥ 1.2
// as plain TypeScript or as the esbuild bundle dist/k6/shadow.js (npm run build).
//
//   k6 run --no-usage-report --console-output records.log --log-format raw \
//     -e SB_CONFIG_FILE=/abs/path/k6-config.json dist/k6/shadow.js
//
// Each arm is its own constant-arrival-rate scenario with the same rate, start and duration; k6
// starts iteration i of each at about its scenario's start + i / qps, and the iteration then waits
// for the instant every arm shares, origin + hold + i / qps (config.ts scheduleHoldMs).
// Request i is plan.request(i) with i = exec.scenario.iterationInTest, which k6 keeps unique
// across instances (execution segments, k6-operator parallelism): a split run still sends every
// index exactly once per arm.
import { sleep } from 'k6';
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { SharedArray } from 'k6/data';
import sse from 'k6/x/sse';
import { API_PATH, buildRequestBody } from '../../core/openai.ts';
import { createPlan, type RequestPlan } from '../../core/plan.ts';
import { parseEndpoint, requestUrl, type Endpoint } from '../../core/endpoint.ts';
import { addRecordMetrics, thresholdReads, type K6RecordMetrics } from './metrics.ts';
import { emptyRecord, serializeRecord, type RequestRecord } from '../../core/record.ts';
import type { Workload, WorkloadItem } from '../../core/workload/common.ts';
import { readResolvedWorkload } from './workload.ts';
import { createClock, nsClock, nsSince } from './clock.ts';
import { buildScenarios, K6_METRICS, readK6Config, readK6Headers, scenarioVus, type K6ArmConfig } from './config.ts';
import { headerSecrets } from '../../core/redact.ts';
import { DONE_DATA, EVENT_BATCH, fillBufferedRecord, SseRecorder } from './record-builder.ts';
import {
  META_KEY,
  perArmCounterThresholds,
  SUMMARY_KEY,
  summaryFacts,
  summaryText,
  type K6InstanceMeta,
  type K6SummaryData,
} from './summary.ts';

// --- init context (runs once per VU, and once more to read `options`) -----------------------------
// Every VU evaluates this (k6 pre-allocates them all before the test, and starts more mid-test when
// none is free), so it does only what a VU needs before its first request: the config, the shared
// items and the metrics. What a request needs is built on a VU's first request (many pre-allocated
// VUs never send one); the options only in the init context that k6 reads them from (__VU 0).

/** __VU is 0 where k6 reads `options` (and in setup / handleSummary); 1, 2, … in the VUs that send. */
const optionsContext = __VU === 0;
const config = readK6Config(__ENV, (path) => open(path));
const secretHeaders = readK6Headers(__ENV);
const streaming = config.mode === 'sse';

// Read once per instance and shared read-only by every VU (k6 copies nothing per VU). The items are
// the Node side's, already resolved: no workload parser is in the bundle (k6/script/workload.ts).
const items = new SharedArray<WorkloadItem>('shadowbench-workload', () =>
  readResolvedWorkload(open(config.workload_file), config.workload_file),
);

interface RequestContext {
  plan: RequestPlan;
  /** Per arm: its config and its base URL by the endpoint policy. */
  armConfig: Record<string, K6ArmConfig & { endpoint: Endpoint }>;
  /** Per arm: the header values scrubbed from outcome messages, as the Node engine scrubs them. */
  secretsByArm: Map<string, string[]>;
}

function requestContext(): RequestContext {
  const workload: Workload = { source: config.workload_file, format: 'openai', items };
  return {
    plan: createPlan(workload, {
      arrival: 'constant',
      qps: config.qps,
      requests: config.total_requests - config.warmup,
      warmup: config.warmup,
      order: config.order,
      seed: config.seed,
    }),
    armConfig: Object.fromEntries(config.arms.map((a) => [a.arm, { ...a, endpoint: parseEndpoint(a.url) }])),
    secretsByArm: new Map(Object.entries(secretHeaders).map(([arm, headers]) => [arm, headerSecrets(headers)])),
  };
}

/** Built where the options are read (a bad plan fails the run before it starts), else on a VU's first request. */
let context: RequestContext | null = optionsContext ? requestContext() : null;

export const options = optionsContext
  ? {
      scenarios: buildScenarios(config),
      thresholds: { ...perArmCounterThresholds(config.arms.map((a) => a.arm)), ...config.thresholds },
      summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
    }
  : {}; // k6 reads options from the __VU 0 context only

const ttft = new Trend(K6_METRICS.ttft, true);
const itl = new Trend(K6_METRICS.itl, true);
const e2e = new Trend(K6_METRICS.e2e, true);
const failed = new Rate(K6_METRICS.failed);
const timedOut = new Rate(K6_METRICS.timeout);
/** One per started iteration, tagged with its scenario: planned = started + dropped (summary.ts). */
const started = new Counter(K6_METRICS.started);

const clock = createClock();

/** This instance's execution segment ('' when it runs the whole test). */
function segment(): string {
  const s = exec.test.options.executionSegment;
  return s === undefined || s === null || String(s) === '0:1' ? '' : String(s);
}
/** Whether this instance runs every iteration of the plan (no execution segment). */
const wholeTest = (): boolean => segment() === '';
/** Which k6 instance this is: SB_INSTANCE, else its execution segment (k6-operator gives each runner one). */
function instanceName(): string {
  return __ENV.SB_INSTANCE || segment();
}

// --- lifecycle ----------------------------------------------------------------------------------

export interface SetupData {
  /** Unix ms that every *_ns field counts from (the instance's run origin). */
  origin_unix_ms: number;
}

/** Runs once before the scenarios start: fixes the run origin and says how time is kept. */
export function setup(): SetupData {
  const origin = Math.floor(clock.nowUnixMs());
  const meta: K6InstanceMeta = {
    v: 1,
    run_id: config.run_id,
    instance: instanceName(),
    mode: config.mode,
    origin_unix_ms: origin,
    clock: clock.source,
    resolution_ns: clock.resolution_ns,
  };
  console.log(JSON.stringify({ [META_KEY]: meta }));
  return { origin_unix_ms: origin };
}

export function baseline(data: SetupData): void {
  send('baseline', data);
}
export function candidate(data: SetupData): void {
  send('candidate', data);
}
export function baseline_repeat(data: SetupData): void {
  send('baseline_repeat', data);
}

export function handleSummary(data: K6SummaryData): Record<string, string> {
  const facts = summaryFacts(
    data,
    config.run_id,
    instanceName(),
    config.arms.map((a) => a.arm),
    config.thresholds,
    wholeTest() ? config.total_requests : undefined,
  );
  const out: Record<string, string> = { stdout: summaryText(facts) };
  if (config.summary_file) out[config.summary_file] = JSON.stringify(facts, null, 2) + '\n';
  else out.stdout += JSON.stringify({ [SUMMARY_KEY]: facts }) + '\n'; // pod logs carry it (k6-operator)
  return out;
}

// --- one request --------------------------------------------------------------------------------

let instance: string | null = null;
/** When request 0 is due, ns after the run origin: the same for every arm (config.ts scheduleHoldMs). */
const scheduleStartNs = Math.round((config.start_delay_s * 1000 + scenarioVus(config).holdMs) * 1e6);

/** Sleeps until unix ms `dueMs` by this VU's clock; returns at once when it has passed. */
function waitUntil(dueMs: number): void {
  for (let left = dueMs - clock.nowUnixMs(); left > 0; left = dueMs - clock.nowUnixMs()) sleep(left / 1000);
}
/** This VU's clock on the run origin (setup data: the same for every request). */
let nsSinceOrigin: ((notBefore: number) => number) | null = null;

function send(arm: string, data: SetupData): void {
  const { plan, armConfig, secretsByArm } = (context ??= requestContext());
  const index = exec.scenario.iterationInTest;
  if (index >= plan.total) return; // past the plan (a run shorter than k6's 1 s minimum duration): nothing to send
  started.add(1);
  const target = armConfig[arm];
  if (target === undefined) throw new Error(`arm ${arm} is not in the config`);
  const planned = plan.request(index);
  const origin = data.origin_unix_ms;
  instance ??= instanceName();
  const record = emptyRecord({
    run_id: config.run_id,
    arm,
    index,
    item_id: planned.item.id,
    warmup: planned.warmup,
    source: streaming ? 'k6' : 'k6-buffered',
    instance,
    streaming,
    scheduled_ns: scheduleStartNs + planned.scheduled_ns,
  });
  const url = requestUrl(target.endpoint, API_PATH[planned.item.api], true); // core/endpoint.ts: the policy of every engine
  const body = JSON.stringify(buildRequestBody(planned.item.body, { model: target.model, stream: streaming }));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': `${config.run_id}:${arm}:${index}`,
    ...secretHeaders[arm],
  };
  const secrets = secretsByArm.get(arm) ?? [];
  waitUntil(origin + record.scheduled_ns / 1e6); // the instant every arm shares (config.ts scheduleHoldMs)
  if (streaming) sendStreaming(record, planned.item, url, body, headers, origin, secrets);
  else sendBuffered(record, planned.item, url, body, headers, origin, secrets);
  addRecordMetrics(metrics, record);
  console.log(serializeRecord(record));
}

function sendStreaming(
  record: RequestRecord,
  item: WorkloadItem,
  url: string,
  body: string,
  headers: Record<string, string>,
  origin: number,
  secrets: readonly string[],
): void {
  const timeoutNs = config.timeout_s * 1e9;
  const recorder = new SseRecorder(record, item.api, timeoutNs, secrets);
  const since = (nsSinceOrigin ??= nsClock(clock, origin));
  const sent = since(0);
  record.sent_ns = sent;
  // sse.open blocks this VU until the stream ends; the callbacks run as events arrive. The event
  // callback runs ~131 times per 128-token answer: it keeps the data and the time, and the recorder
  // reads them in batches (record-builder.ts EVENT_BATCH), at once for [DONE] or past the timeout.
  // A bad chunk therefore closes the stream at the end of its batch; the record is the same.
  const kept: string[] = [];
  const keptNs: number[] = [];
  const recordKept = (): boolean => {
    const close = recorder.events(kept, keptNs);
    kept.length = 0;
    keptNs.length = 0;
    return close;
  };
  const response = sse.open(url, { method: 'POST', body, headers }, (client) => {
    recorder.open(since(sent)); // xk6-sse calls this once the response headers are in
    client.on('event', (event) => {
      const now = since(sent);
      const data = event.data;
      kept.push(data);
      keptNs.push(now);
      if ((kept.length === EVENT_BATCH || data === DONE_DATA || now - sent > timeoutNs) && recordKept()) client.close();
    });
    client.on('error', (error) => recorder.error(String(error.error())));
  });
  recordKept();
  recorder.finish(response.status, response.error, since(sent));
}

function sendBuffered(
  record: RequestRecord,
  item: WorkloadItem,
  url: string,
  body: string,
  headers: Record<string, string>,
  origin: number,
  secrets: readonly string[],
): void {
  record.sent_ns = nsSince(clock, origin);
  const response = http.post(url, body, { headers, timeout: `${Math.round(config.timeout_s * 1000)}ms`, responseType: 'text' });
  fillBufferedRecord(record, item.api, response, nsSince(clock, origin, record.sent_ns), secrets);
}

/** core/metrics.ts definitions (k6/script/metrics.ts): ITL = gap ÷ tokens in the chunk; failed requests add no latency. */
// The ITL Trend only when a threshold reads it (slo.enforce): the analysis computes ITL from the records.
const metrics: K6RecordMetrics = { ttft, itl: thresholdReads(config.thresholds, K6_METRICS.itl) ? itl : null, e2e, failed, timedOut };
