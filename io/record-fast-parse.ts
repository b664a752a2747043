// The fast path of reading records.jsonl: one line's bytes straight to a RequestRecord, without
// decoding the line to a string first and without JSON.parse (together most of the cost of a
// read: every line is UTF-8-decoded, then its ~128 timestamps become heap numbers).
//
// It accepts only the plain shape engines write and returns null for anything else: an unknown,
// repeated or escaped key, an outcome other than {"kind":"ok"}, a usage object with other keys,
// a number with a sign, fraction, exponent or more than 15 digits, a value of the wrong type, a
// failed check (content_ns going backwards, http_status out of range...). The caller then decodes
// the line and calls parseRecord (core/record.ts), which accepts or rejects it exactly as before.
// So the fast path never changes a verdict or an error message: every line it accepts is one that
// recordErrors() accepts, and it returns the values parseRecord would (version 1 upgraded the same
// way; keys in the canonical order rather than the line's). test/analysis-read.test.ts checks this
// on mutated lines.
//
// The keys and how each is read come from core/record.ts RECORD_FIELDS (one reader per FieldKind);
// a field added there is read here without an edit, unless it brings a new kind.
import {
  ARM_PATTERN,
  RECORD_FIELDS,
  RECORD_SCHEMA_VERSION,
  V2_ONLY_FIELDS,
  type FieldKind,
  type RecordField,
  type RequestRecord,
  type ToolCall,
  type Usage,
} from '../core/record.ts';

/** The record's keys in the order engines write them (core/record.ts RECORD_FIELDS). */
export const KEYS = Object.keys(RECORD_FIELDS) as RecordField[];
if (KEYS.length > 30) throw new Error('record-fast-parse: more than 30 record fields do not fit its int32 bit masks');
/** Reader per FieldKind (the switch in parseRecordBytes); exported for the field-table test. */
export const KIND_CODES: Readonly<Record<FieldKind, number>> = {
  version: 0,
  nonempty_string: 1,
  arm: 2,
  uint: 3,
  string: 4,
  repeated_string: 5,
  bool: 6,
  ns_or_null: 7,
  ns_array: 8,
  counts_or_null: 9,
  status_or_null: 10,
  outcome: 11,
  usage: 12,
  repeated_string_or_null: 13,
  tool_calls: 14,
};
const KIND = Int32Array.from(KEYS, (k) => KIND_CODES[RECORD_FIELDS[k]]);
/** Field positions by name. */
const F = Object.fromEntries(KEYS.map((k, i) => [k, i])) as Record<RecordField, number>;
const ALL_KEYS_V2 = (1 << KEYS.length) - 1;
const ALL_KEYS_V1 = V2_ONLY_FIELDS.reduce((mask, k) => mask & ~(1 << F[k]), ALL_KEYS_V2);
const TOOL_KEYS = ['name', 'arguments', 'arguments_json'] as const;
const USAGE_KEYS = ['prompt_tokens', 'completion_tokens', 'cached_prompt_tokens'] as const;
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const KEY_BYTES = KEYS.map(ascii);
const TOOL_KEY_BYTES = TOOL_KEYS.map(ascii);
const USAGE_KEY_BYTES = USAGE_KEYS.map(ascii);
const KIND_OK = ascii('{"kind":"ok"}');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** Sentinels of the number readers (valid values are ≥ 0). */
const FAIL = -1;
const NULL = -2;

// The line being parsed: bytes[p .. end). Module state keeps the readers small and inlinable.
let bytes: Buffer = Buffer.alloc(0);
let p = 0;
let end = 0;
/** The same bytes as 32-bit little-endian words, for scanning four characters at a time. */
let words: DataView = new DataView(new ArrayBuffer(0));

/** Whether all four bytes of w are ASCII digits (no false positive: a carry only comes from a byte ≥ 0xFA, itself no digit). */
const allDigits = (w: number) => ((w & 0xf0f0f0f0) | (((w + 0x06060606) & 0xf0f0f0f0) >>> 4)) === 0x33333333;
/** The number written by four ASCII digit bytes (the first byte is the most significant digit). */
function fourDigits(w: number): number {
  let d = (w - 0x30303030) | 0;
  d = (Math.imul(d & 0x000f000f, 10) + ((d >>> 8) & 0x000f000f)) | 0; // two 2-digit numbers in 16-bit lanes
  return (Math.imul(d & 0xffff, 100) + (d >>> 16)) | 0;
}
/** Whether some byte of x is zero (exact as a yes/no answer). */
const hasZero = (x: number) => ((x - 0x01010101) & ~x & 0x80808080) !== 0;
/**
 * Whether all four bytes of w are plain string characters: printable ASCII (0x20-0x7f) other than
 * '"' and '\\'. Exact "has a byte like this" tests (no false negative), so a word that fails is
 * simply re-scanned byte by byte.
 */
function plainWord(w: number): boolean {
  if ((w & 0x80808080) !== 0) return false; // a byte ≥ 0x80
  if (((w - 0x20202020) & ~w & 0x80808080) !== 0) return false; // a byte < 0x20
  return !hasZero(w ^ 0x22222222) && !hasZero(w ^ 0x5c5c5c5c);
}

function skipWhitespace(): void {
  while (p < end) {
    const c = bytes[p] as number;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
    else return;
  }
}

/** Consumes `c` (after optional whitespace); false when the next character is something else. */
function expect(c: number): boolean {
  skipWhitespace();
  if (p < end && bytes[p] === c) {
    p++;
    return true;
  }
  return false;
}

function matchesAt(start: number, length: number, key: Uint8Array): boolean {
  if (key.length !== length) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== key[i]) return false;
  return true;
}

/** The id of the key string at p (in `keys`), trying `expected` first; FAIL for any other or an escaped key. */
function readKey(keys: Uint8Array[], expected: number): number {
  if (!expect(QUOTE)) return FAIL;
  const start = p;
  while (p < end) {
    const c = bytes[p] as number;
    if (c === QUOTE) break;
    if (c === BACKSLASH || c < 0x20) return FAIL;
    p++;
  }
  if (p >= end) return FAIL;
  const length = p - start;
  p++;
  if (expected < keys.length && matchesAt(start, length, keys[expected] as Uint8Array)) return expected;
  for (let k = 0; k < keys.length; k++) if (matchesAt(start, length, keys[k] as Uint8Array)) return k;
  return FAIL;
}

/** A non-negative integer of at most 15 digits (so exact as a double): its value, else FAIL. */
function readUint(): number {
  skipWhitespace();
  const start = p;
  let value = 0;
  while (p < end) {
    const c = bytes[p] as number;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
    p++;
  }
  const digits = p - start;
  // "0" alone is fine; a leading zero ("01") is not JSON. A following '.', 'e' or '-' fails the caller's separator check.
  if (digits === 0 || digits > 15 || (digits > 1 && bytes[start] === 0x30)) return FAIL;
  return value;
}

function readLiteral(word: Uint8Array): boolean {
  if (end - p < word.length) return false;
  for (let i = 0; i < word.length; i++) if (bytes[p + i] !== word[i]) return false;
  p += word.length;
  return true;
}
const NULL_BYTES = ascii('null');
const TRUE_BYTES = ascii('true');
const FALSE_BYTES = ascii('false');

/** readUint, or NULL for the literal null. */
function readUintOrNull(): number {
  skipWhitespace();
  if (p < end && bytes[p] === 0x6e) return readLiteral(NULL_BYTES) ? NULL : FAIL;
  return readUint();
}

/** 1 for true, 0 for false, FAIL otherwise. */
function readBool(): number {
  skipWhitespace();
  if (readLiteral(TRUE_BYTES)) return 1;
  if (readLiteral(FALSE_BYTES)) return 0;
  return FAIL;
}

/**
 * Small strings that repeat on every line (run_id, arm, source, instance, finish_reason): the last
 * few distinct values are kept with their bytes, so a repeat costs a byte comparison, not a decode.
 */
class Interned {
  readonly #bytes: Uint8Array[] = [];
  readonly #strings: string[] = [];
  readonly #accept: (s: string) => boolean;
  constructor(accept: (s: string) => boolean = () => true) {
    this.#accept = accept;
  }
  /** The string of plain ASCII bytes[start .. stop); null when `accept` refuses it. */
  get(start: number, stop: number): string | null {
    const length = stop - start;
    for (let i = 0; i < this.#bytes.length; i++)
      if (matchesAt(start, length, this.#bytes[i] as Uint8Array)) return this.#strings[i] as string;
    const s = bytes.toString('latin1', start, stop);
    if (!this.#accept(s)) return null;
    if (this.#bytes.length < 16) {
      this.#bytes.push(Uint8Array.from(bytes.subarray(start, stop))); // a copy: the line's buffer is reused
      this.#strings.push(s);
    }
    return s;
  }
}
/** Per field: the interned values of its strings (run_id, arm, source, instance, finish_reason, model), null for free text. */
const interns = KEYS.map((k) => {
  const kind: FieldKind = RECORD_FIELDS[k];
  if (kind === 'arm') return new Interned((s) => ARM_PATTERN.test(s));
  return kind === 'nonempty_string' || kind === 'repeated_string' || kind === 'repeated_string_or_null' ? new Interned() : null;
});
const toolNames = new Interned();

/** A JSON string at p: its value (as JSON.parse gives it), else null. `intern` for short repeated ASCII values. */
function readString(intern: Interned | null): string | null {
  if (!expect(QUOTE)) return null;
  const b = bytes;
  const limit = end;
  const start = p;
  let q = p;
  let plain = true; // printable ASCII only, no escapes
  let escaped = false;
  // Four characters at a time while they are plain, then byte by byte (an escape, the end quote, non-ASCII).
  while (q + 4 <= limit && plainWord(words.getInt32(q, true))) q += 4;
  while (q < limit) {
    const c = b[q] as number;
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      q += 2;
      continue;
    }
    if (c < 0x20) return null; // a raw control character is not JSON
    if (c >= 0x80) plain = false;
    q++;
    while (q + 4 <= limit && plainWord(words.getInt32(q, true))) q += 4;
  }
  if (q >= limit) return null;
  const stop = q;
  p = q + 1;
  if (escaped) {
    try {
      const value: unknown = JSON.parse(bytes.toString('utf8', start - 1, stop + 1));
      return typeof value === 'string' ? value : null;
    } catch {
      return null;
    }
  }
  if (!plain) return bytes.toString('utf8', start, stop); // the quotes around are ASCII: decoding the span alone gives the same characters
  return intern === null ? bytes.toString('latin1', start, stop) : intern.get(start, stop);
}

/**
 * [uint, ...]: the values, else null; `nonDecreasing` rejects a value below its predecessor.
 * The hottest loop of a read (~128 timestamps a record): it works on locals, not the module state.
 */
function readUintArray(nonDecreasing: boolean): number[] | null {
  if (!expect(OPEN_BRACKET)) return null;
  const out: number[] = [];
  if (expect(CLOSE_BRACKET)) return out;
  const b = bytes;
  const stop = end;
  let q = p;
  let previous = 0;
  for (;;) {
    let c = b[q] as number;
    while (q < stop && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = b[++q] as number;
    // Four digits at a time, then one by one; exact while below 2^53 (more than 15 digits fail below).
    const start = q;
    let value = 0;
    while (q + 4 <= stop) {
      const w = words.getInt32(q, true);
      if (!allDigits(w)) break;
      value = value * 10_000 + fourDigits(w);
      q += 4;
    }
    c = b[q] as number;
    while (q < stop && c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      c = b[++q] as number;
    }
    const digits = q - start;
    if (digits === 0 || digits > 15 || (digits > 1 && b[start] === 0x30) || (nonDecreasing && value < previous)) return null;
    out.push(value);
    previous = value;
    while (q < stop && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = b[++q] as number;
    if (q >= stop) return null;
    q++;
    if (c === COMMA) continue;
    if (c === CLOSE_BRACKET) break;
    return null;
  }
  p = q;
  return out;
}

/** {"prompt_tokens", "completion_tokens", "cached_prompt_tokens"} (each a count or null, no other key), or null; FAIL_USAGE otherwise. */
const FAIL_USAGE = 0;
function readUsage(): Usage | null | typeof FAIL_USAGE {
  skipWhitespace();
  if (p < end && bytes[p] === 0x6e) return readLiteral(NULL_BYTES) ? null : FAIL_USAGE;
  if (!expect(OPEN_BRACE)) return FAIL_USAGE;
  const values = [NULL, NULL, NULL];
  let seen = 0;
  for (let k = 0; ; k++) {
    const id = readKey(USAGE_KEY_BYTES, k);
    if (id < 0 || (seen & (1 << id)) !== 0 || !expect(COLON)) return FAIL_USAGE;
    seen |= 1 << id;
    const v = readUintOrNull();
    if (v === FAIL) return FAIL_USAGE;
    values[id] = v;
    if (expect(COMMA)) continue;
    if (!expect(CLOSE_BRACE) || seen !== 7) return FAIL_USAGE;
    break;
  }
  const orNull = (v: number) => (v === NULL ? null : v);
  return {
    prompt_tokens: orNull(values[0] as number),
    completion_tokens: orNull(values[1] as number),
    cached_prompt_tokens: orNull(values[2] as number),
  };
}

/** [] or [{"name", "arguments", "arguments_json"} (those keys only, any order), ...]; null otherwise. */
function readToolCalls(): ToolCall[] | null {
  if (!expect(OPEN_BRACKET)) return null;
  const out: ToolCall[] = [];
  if (expect(CLOSE_BRACKET)) return out;
  for (;;) {
    if (!expect(OPEN_BRACE)) return null;
    let seen = 0;
    let name: string | null = '';
    let args: string | null = '';
    let json = 0;
    for (let k = 0; ; k++) {
      const id = readKey(TOOL_KEY_BYTES, k);
      if (id < 0 || (seen & (1 << id)) !== 0 || !expect(COLON)) return null;
      seen |= 1 << id;
      if (id === 0) name = readString(toolNames);
      else if (id === 1) args = readString(null);
      else json = readBool();
      if (name === null || args === null || json < 0) return null;
      if (expect(COMMA)) continue;
      if (!expect(CLOSE_BRACE) || seen !== 7) return null;
      break;
    }
    out.push({ name, arguments: args, arguments_json: json === 1 });
    if (expect(COMMA)) continue;
    return expect(CLOSE_BRACKET) ? out : null;
  }
}

/** Exactly {"kind":"ok"} (whitespace allowed between tokens). */
function readOkOutcome(): boolean {
  skipWhitespace();
  // The compact form first (what engines write), then the tokens one by one.
  if (readLiteral(KIND_OK)) return true;
  if (!expect(OPEN_BRACE) || !expect(QUOTE) || !readLiteral(ascii('kind')) || !expect(QUOTE) || !expect(COLON)) return false;
  if (!expect(QUOTE) || !readLiteral(ascii('ok')) || !expect(QUOTE)) return false;
  return expect(CLOSE_BRACE);
}

/** The values of the line being parsed, by field position (reused: parseRecordBytes copies them out). */
const values: unknown[] = new Array<unknown>(KEYS.length).fill(null);
const orNull = (v: number) => (v === NULL ? null : v);

/** Reads the value of field `id` at p into values[id]; false when it is not in the plain form. */
function readField(id: number): boolean {
  switch (KIND[id]) {
    case 0: {
      // version: those this build reads, all on this path
      const v = readUint();
      if (v !== 1 && v !== 2) return false;
      values[id] = v;
      return true;
    }
    case 1: {
      const s = readString(interns[id] ?? null);
      values[id] = s;
      return s !== null && s.length > 0;
    }
    case 2: {
      const s = readString(interns[id] ?? null);
      values[id] = s;
      return s !== null && ARM_PATTERN.test(s); // interned arms passed this test already; escaped or non-ASCII ones have not
    }
    case 3: {
      const n = readUint();
      values[id] = n;
      return n >= 0;
    }
    case 4:
    case 5: {
      const s = readString(interns[id] ?? null);
      values[id] = s;
      return s !== null;
    }
    case 6: {
      const b = readBool();
      values[id] = b === 1;
      return b >= 0;
    }
    case 7: {
      const n = readUintOrNull();
      values[id] = orNull(n);
      return n !== FAIL;
    }
    case 8: {
      const a = readUintArray(true);
      values[id] = a;
      return a !== null;
    }
    case 9: {
      skipWhitespace();
      if (p < end && bytes[p] === 0x6e) {
        values[id] = null;
        return readLiteral(NULL_BYTES);
      }
      const a = readUintArray(false);
      values[id] = a;
      return a !== null;
    }
    case 10: {
      const n = readUintOrNull();
      values[id] = orNull(n);
      return n !== FAIL && (n === NULL || (n >= 100 && n <= 599));
    }
    case 11:
      values[id] = { kind: 'ok' };
      return readOkOutcome();
    case 12: {
      const u = readUsage();
      values[id] = u;
      return u !== FAIL_USAGE;
    }
    case 13: {
      skipWhitespace();
      if (p < end && bytes[p] === 0x6e) {
        values[id] = null;
        return readLiteral(NULL_BYTES);
      }
      const s = readString(interns[id] ?? null);
      values[id] = s;
      return s !== null;
    }
    case 14: {
      const calls = readToolCalls();
      values[id] = calls;
      return calls !== null;
    }
    default:
      return false;
  }
}

/**
 * The record on bytes[start .. stop) (one line, without its newline), or null when the line is not
 * in the plain form (the caller falls back to parseRecord, which decides and explains).
 */
export function parseRecordBytes(buffer: Buffer, start: number, stop: number): RequestRecord | null {
  if (buffer !== bytes) {
    bytes = buffer;
    words = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  p = start;
  end = stop;
  if (!expect(OPEN_BRACE)) return null;
  let seen = 0;
  for (let expected = 0; ; expected++) {
    const id = readKey(KEY_BYTES, expected);
    if (id < 0 || (seen & (1 << id)) !== 0 || !expect(COLON)) return null;
    seen |= 1 << id;
    expected = id;
    if (!readField(id)) return null;
    if (expect(COMMA)) continue;
    if (!expect(CLOSE_BRACE)) return null;
    break;
  }
  skipWhitespace();
  const v = values;
  if (p !== end || seen !== (v[F.v] === 1 ? ALL_KEYS_V1 : ALL_KEYS_V2)) return null;
  const contentNs = v[F.content_ns] as number[];
  const contentTokens = v[F.content_tokens] as number[] | null;
  if (contentTokens !== null && contentTokens.length !== contentNs.length) return null;
  if (v[F.v] === 1) {
    // core/record.ts upgradeRecord's defaults (the equivalence test holds them to it)
    v[F.first_answer_ns] = v[F.first_content_ns];
    v[F.reasoning_text] = '';
    v[F.tool_calls] = [];
    v[F.model] = null;
    v[F.truncated] = false;
  }
  // A literal (one hidden class for every record; the compiler holds it to RequestRecord).
  return {
    v: RECORD_SCHEMA_VERSION,
    run_id: v[F.run_id] as string,
    arm: v[F.arm] as string,
    index: v[F.index] as number,
    item_id: v[F.item_id] as string,
    warmup: v[F.warmup] as boolean,
    source: v[F.source] as RequestRecord['source'],
    instance: v[F.instance] as string,
    streaming: v[F.streaming] as boolean,
    token_timing: v[F.token_timing] as boolean,
    scheduled_ns: v[F.scheduled_ns] as number,
    sent_ns: v[F.sent_ns] as number | null,
    headers_ns: v[F.headers_ns] as number | null,
    first_chunk_ns: v[F.first_chunk_ns] as number | null,
    first_content_ns: v[F.first_content_ns] as number | null,
    first_answer_ns: v[F.first_answer_ns] as number | null,
    content_ns: contentNs,
    content_tokens: contentTokens,
    end_ns: v[F.end_ns] as number | null,
    queue_wait_ns: v[F.queue_wait_ns] as number,
    http_status: v[F.http_status] as number | null,
    outcome: v[F.outcome] as RequestRecord['outcome'],
    usage: v[F.usage] as Usage | null,
    finish_reason: v[F.finish_reason] as string | null,
    output_text: v[F.output_text] as string,
    reasoning_text: v[F.reasoning_text] as string,
    tool_calls: v[F.tool_calls] as ToolCall[],
    model: v[F.model] as string | null,
    truncated: v[F.truncated] as boolean,
  };
}
