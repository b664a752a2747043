// OpenAI request JSONL: one request per line, replayed verbatim (see workloads/FORMATS.md).
//
// A line is either
//   - a bare request body: {"messages": [...], ...} (chat) or {"prompt": ..., ...} (completions);
//     its top-level `id` and `timestamp_ms`, if present, are metadata and are removed from the body; or
//   - a wrapper, recognised by its `body` key: {"id"?, "timestamp_ms"?, "body": {...}}, or an OpenAI
//     Batch API line {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}.
import type { Api } from '../openai.ts';
import {
  isNonNegativeInteger,
  isObject,
  isPositiveInteger,
  jsonObjectLines,
  preview,
  typeName,
  WorkloadError,
  type WorkloadItem,
} from './common.ts';

export interface OpenAiParseOptions {
  file: string;
  /** Put in bodies that have no `model` (bodies that name one keep it; each arm may still override it). */
  model?: string;
}

const LINE_SHAPE = 'a chat body {"messages": [...]}, a completions body {"prompt": ...}, or a wrapper {"id", "timestamp_ms", "body"}';
const WRAPPER_KEYS = new Set(['id', 'custom_id', 'timestamp_ms', 'method', 'url', 'body']);
const URL_API: Record<string, Api> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions' };
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];

/** Returns what is wrong with a request body, or null when it is a valid chat/completions body. */
export function requestBodyProblem(body: Record<string, unknown>, api: Api): string | null {
  if (api === 'chat') {
    const problem = messagesProblem(body.messages);
    if (problem !== null) return problem;
  } else {
    const problem = promptProblem(body.prompt);
    if (problem !== null) return problem;
  }
  return parameterProblem(body);
}

function messagesProblem(messages: unknown): string | null {
  if (!Array.isArray(messages)) return `"messages" must be an array of {role, content}, got ${typeName(messages)}`;
  if (messages.length === 0) return '"messages" is empty (a chat request needs at least one message)';
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    const at = `messages[${i}]`;
    if (!isObject(m)) return `${at} must be an object {role, content}, got ${typeName(m)}`;
    if (typeof m.role !== 'string')
      return `${at}.role is ${m.role === undefined ? 'missing' : typeName(m.role)} (expected one of ${ROLES.join(', ')})`;
    if (!ROLES.includes(m.role)) return `${at}.role ${preview(m.role)} is not a known role (expected one of ${ROLES.join(', ')})`;
    const content = m.content;
    if (content === undefined || content === null) {
      // An assistant turn that only called tools has no content; every other turn needs some.
      if (m.role === 'assistant' && (Array.isArray(m.tool_calls) || isObject(m.function_call))) continue;
      return `${at}.content is ${content === null ? 'null' : 'missing'} (expected a string or an array of content parts)`;
    }
    if (typeof content === 'string') continue;
    if (!Array.isArray(content)) return `${at}.content must be a string or an array of content parts, got ${typeName(content)}`;
    for (let j = 0; j < content.length; j++) {
      const part: unknown = content[j];
      const pat = `${at}.content[${j}]`;
      if (!isObject(part) || typeof part.type !== 'string') return `${pat} must be a content part {"type": ..., ...}, got ${preview(part)}`;
      if (part.type === 'text' && typeof part.text !== 'string') return `${pat}.text must be a string, got ${typeName(part.text)}`;
    }
  }
  return null;
}

function promptProblem(prompt: unknown): string | null {
  const accepted = '(expected a string, an array of strings, or token ids)';
  if (typeof prompt === 'string') return null;
  if (!Array.isArray(prompt)) return `"prompt" must be a string or an array, got ${typeName(prompt)} ${accepted}`;
  if (prompt.length === 0) return `"prompt" is an empty array ${accepted}`;
  const tokenIds = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isNonNegativeInteger);
  if (prompt.every((p) => typeof p === 'string') || tokenIds(prompt) || prompt.every(tokenIds)) return null;
  return `"prompt" array mixes types or holds something else ${accepted}`;
}

type Check = (v: unknown) => boolean;
const isFiniteNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const PARAMETERS: Array<[key: string, check: Check, accepted: string]> = [
  ['model', (v) => typeof v === 'string' && v !== '', 'a non-empty string'],
  ['max_tokens', isPositiveInteger, 'a positive integer'],
  ['max_completion_tokens', isPositiveInteger, 'a positive integer'],
  ['min_tokens', isNonNegativeInteger, 'a non-negative integer'],
  // One record holds one answer: n > 1 would mix choices into one text and one set of token times.
  ['n', (v) => v === 1, '1: a record holds one choice; to sample a prompt several times, repeat its line'],
  ['temperature', (v) => isFiniteNumber(v) && (v as number) >= 0, 'a number ≥ 0'],
  ['top_p', (v) => isFiniteNumber(v) && (v as number) > 0 && (v as number) <= 1, 'a number in (0, 1]'],
  ['seed', (v) => typeof v === 'number' && Number.isSafeInteger(v), 'an integer'],
  ['stream', (v) => typeof v === 'boolean', 'true or false'],
  ['ignore_eos', (v) => typeof v === 'boolean', 'true or false'],
  ['stop', (v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')), 'a string or an array of strings'],
];

function parameterProblem(body: Record<string, unknown>): string | null {
  for (const [key, check, accepted] of PARAMETERS) {
    if (key in body && body[key] !== null && !check(body[key])) return `"${key}" is ${preview(body[key])} (expected ${accepted})`;
  }
  return null;
}

function idOf(value: unknown, key: string, file: string, line: number): string {
  if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isSafeInteger(value))) return String(value);
  throw new WorkloadError(file, line, `"${key}" is ${preview(value)} (expected a non-empty string or an integer)`);
}

export function parseOpenAiJsonl(text: string, options: OpenAiParseOptions): WorkloadItem[] {
  const { file } = options;
  const items: WorkloadItem[] = [];
  const idLines = new Map<string, number>();
  let timed: { line: number; value: boolean } | null = null; // whether lines carry timestamp_ms: all or none
  let previous: { line: number; ms: number } | null = null;
  for (const { line, value } of jsonObjectLines(text, file, LINE_SHAPE)) {
    let body: Record<string, unknown>;
    let id: string | null = null;
    let timestamp: unknown;
    let urlApi: Api | null = null;
    if ('body' in value) {
      for (const key of Object.keys(value)) {
        if (!WRAPPER_KEYS.has(key))
          throw new WorkloadError(
            file,
            line,
            `unknown key "${key}" next to "body" (a wrapper line holds id or custom_id, timestamp_ms, method, url and body)`,
          );
      }
      if (!isObject(value.body)) throw new WorkloadError(file, line, `"body" must be a request body object, got ${typeName(value.body)}`);
      if ('id' in value && 'custom_id' in value) throw new WorkloadError(file, line, 'both "id" and "custom_id" are given (use one)');
      if ('id' in value) id = idOf(value.id, 'id', file, line);
      if ('custom_id' in value) id = idOf(value.custom_id, 'custom_id', file, line);
      if ('method' in value && value.method !== 'POST')
        throw new WorkloadError(file, line, `"method" is ${preview(value.method)} (only "POST" is replayed)`);
      if ('url' in value) {
        const api = typeof value.url === 'string' ? URL_API[value.url] : undefined;
        if (api === undefined)
          throw new WorkloadError(file, line, `"url" is ${preview(value.url)} (expected "/v1/chat/completions" or "/v1/completions")`);
        urlApi = api;
      }
      timestamp = value.timestamp_ms;
      body = { ...value.body };
    } else {
      body = { ...value };
      if ('id' in body) id = idOf(body.id, 'id', file, line);
      timestamp = body.timestamp_ms;
      delete body.id;
      delete body.timestamp_ms;
    }

    const hasMessages = 'messages' in body;
    const hasPrompt = 'prompt' in body;
    if (hasMessages && hasPrompt)
      throw new WorkloadError(
        file,
        line,
        'body has both "messages" and "prompt" (a chat body has messages, a completions body has prompt)',
      );
    if (!hasMessages && !hasPrompt)
      throw new WorkloadError(file, line, `missing "messages" (chat) or "prompt" (completions) (expected ${LINE_SHAPE})`);
    const api: Api = hasMessages ? 'chat' : 'completions';
    if (urlApi !== null && urlApi !== api)
      throw new WorkloadError(
        file,
        line,
        `"url" says ${urlApi} but the body has ${hasMessages ? '"messages" (chat)' : '"prompt" (completions)'}`,
      );
    const problem = requestBodyProblem(body, api);
    if (problem !== null) throw new WorkloadError(file, line, problem);
    if (body.model === undefined && options.model !== undefined) body.model = options.model;

    const isTimed = timestamp !== undefined;
    if (timed === null) timed = { line, value: isTimed };
    else if (timed.value !== isTimed) {
      throw new WorkloadError(
        file,
        line,
        isTimed
          ? `has "timestamp_ms" but line ${timed.line} has none (give timestamp_ms on every line or on none)`
          : `has no "timestamp_ms" but line ${timed.line} has one (give timestamp_ms on every line or on none)`,
      );
    }
    let timestampMs: number | null = null;
    if (isTimed) {
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
        throw new WorkloadError(file, line, `"timestamp_ms" is ${preview(timestamp)} (expected a number of milliseconds ≥ 0)`);
      }
      if (previous !== null && timestamp < previous.ms) {
        throw new WorkloadError(
          file,
          line,
          `"timestamp_ms" ${timestamp} is earlier than line ${previous.line}'s ${previous.ms} (timestamps must not decrease: lines are replayed in file order)`,
        );
      }
      previous = { line, ms: timestamp };
      timestampMs = timestamp;
    }

    const itemId = id ?? `line-${line}`;
    const seen = idLines.get(itemId);
    if (seen !== undefined)
      throw new WorkloadError(file, line, `id ${preview(itemId)} is already used on line ${seen} (ids must be unique)`);
    idLines.set(itemId, line);
    items.push({ id: itemId, api, body, timestamp_ms: timestampMs });
  }
  return items;
}
