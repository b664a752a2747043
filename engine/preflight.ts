// Start-up check: GET /v1/models on every arm (with its headers) before any load is sent, so an
// unusable endpoint fails in a second with a message naming the arm and URL instead of producing a
// run full of errors. `--no-preflight` skips it.
import { request } from 'undici';
import type { ArmTarget } from './config.ts';
import { MODELS_PATH, parseEndpoint, requestUrl } from '../core/endpoint.ts';
import { errorBodyMessage, truncate } from '../core/outcome-message.ts';
import { headerSecrets, redactText, urlSecrets } from '../core/redact.ts';

const PREFLIGHT_TIMEOUT_MS = 5_000;

/** The URL preflight asks, by the endpoint policy (core/endpoint.ts): credentials are not sent. */
export function modelsUrl(baseUrl: string): string {
  return requestUrl(parseEndpoint(baseUrl), MODELS_PATH);
}

export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/** Models listed by GET /v1/models, or a readable reason the arm is unusable. */
async function servedModels(
  target: ArmTarget,
  cancel: AbortSignal | undefined,
): Promise<{ ok: true; models: string[] } | { ok: false; why: string }> {
  const url = modelsUrl(target.url);
  const headers: Record<string, string> = { ...target.headers, accept: 'application/json' };
  try {
    const response = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: PREFLIGHT_TIMEOUT_MS,
      bodyTimeout: PREFLIGHT_TIMEOUT_MS,
      signal: AbortSignal.any([AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS), ...(cancel ? [cancel] : [])]),
    });
    const text = await response.body.text();
    if (response.statusCode === 401 || response.statusCode === 403) {
      const env = target.arm === 'candidate' ? 'CANDIDATE_API_KEY' : 'BASELINE_API_KEY';
      return {
        ok: false,
        why: `GET /v1/models was refused (${response.statusCode}): ${truncate(errorBodyMessage(text), 200)} — check ${env} or the --*-header options`,
      };
    }
    if (response.statusCode < 200 || response.statusCode > 299) {
      return { ok: false, why: `GET /v1/models answered ${response.statusCode}: ${truncate(errorBodyMessage(text), 200)}` };
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return {
        ok: false,
        why: `GET /v1/models did not return JSON (not an OpenAI-compatible server?): ${JSON.stringify(text.slice(0, 100))}`,
      };
    }
    const data = (payload as { data?: unknown } | null)?.data;
    if (!Array.isArray(data))
      return { ok: false, why: 'GET /v1/models returned JSON without a "data" list (not an OpenAI-compatible server?)' };
    return { ok: true, models: data.map((m) => String((m as { id?: unknown } | null)?.id ?? '')).filter((id) => id !== '') };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return { ok: false, why: `no answer to GET /v1/models within ${PREFLIGHT_TIMEOUT_MS / 1000} s` };
    }
    const what =
      code === 'ECONNREFUSED'
        ? 'connection refused (is the server running?)'
        : code === 'ENOTFOUND'
          ? 'host not found'
          : (error as Error).message;
    return { ok: false, why: `cannot connect: ${what}${code ? ` (${code})` : ''}` };
  }
}

/**
 * Checks every arm; `modelsSent(arm)` are the model names the run will send to that arm.
 * Throws PreflightError listing every unusable arm (URL without credentials, secrets scrubbed).
 * `cancel` (Ctrl-C) ends the check at once, without an error.
 */
export async function preflight(
  targets: readonly ArmTarget[],
  modelsSent: (target: ArmTarget) => string[],
  displayUrl: (target: ArmTarget) => string,
  cancel?: AbortSignal,
): Promise<void> {
  const problems: string[] = [];
  await Promise.all(
    targets.map(async (target) => {
      const result = await servedModels(target, cancel);
      const where = `${target.arm} (${displayUrl(target)})`;
      if (!result.ok) {
        problems.push(`${where}: ${result.why}`);
        return;
      }
      const missing = modelsSent(target).filter((m) => !result.models.includes(m));
      if (missing.length > 0 && result.models.length > 0) {
        const flag = target.arm === 'candidate' ? '--candidate-model' : '--baseline-model';
        problems.push(
          `${where} does not serve model ${missing.map((m) => JSON.stringify(m)).join(', ')}; it serves ${result.models.map((m) => JSON.stringify(m)).join(', ')} (set ${flag} or --model)`,
        );
      }
    }),
  );
  if (cancel?.aborted) return; // the caller stopped (Ctrl-C): its own message says so
  if (problems.length > 0) {
    const secrets = targets.flatMap((t) => [...headerSecrets(t.headers), ...urlSecrets(t.url)]);
    throw new PreflightError(redactText(`preflight failed (--no-preflight skips this check):\n  ${problems.sort().join('\n  ')}`, secrets));
  }
}
