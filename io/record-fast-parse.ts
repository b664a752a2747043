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
// recordErrors() accepts, and it returns the values JSON.parse would (keys in the canonical order
// rather than the line's). test/analysis-read.test.ts checks this on mutated lines.
import { ARM_PATTERN, upgradeRecord, type RequestRecord, type Usage } from '../core/record.ts';

/** The record's keys in the order engines write them (core/record.ts emptyRecord). */
const KEYS = [
  'v',
  'run_id',
  'arm',
  'index',
  'item_id',
  'warmup',
  'source',
  'instance',
  'streaming',
  'token_timing',
  'scheduled_ns',
  'sent_ns',
  'headers_ns',
  'first_chunk_ns',
  'first_content_ns',
  'content_ns',
  'content_tokens',
  'end_ns',
  'queue_wait_ns',
  'http_status',
  'outcome',
  'usage',
  'finish_reason',
  'output_text',
] as const;
const ALL_KEYS = (1 << KEYS.length) - 1;
const USAGE_KEYS = ['prompt_tokens', 'completion_tokens', 'cached_prompt_tokens'] as const;
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const KEY_BYTES = KEYS.map(ascii);
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
const runIds = new Interned();
const arms = new Interned((s) => ARM_PATTERN.test(s));
const sources = new Interned();
const instances = new Interned();
const finishReasons = new Interned();

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

/** Exactly {"kind":"ok"} (whitespace allowed between tokens). */
function readOkOutcome(): boolean {
  skipWhitespace();
  // The compact form first (what engines write), then the tokens one by one.
  if (readLiteral(KIND_OK)) return true;
  if (!expect(OPEN_BRACE) || !expect(QUOTE) || !readLiteral(ascii('kind')) || !expect(QUOTE) || !expect(COLON)) return false;
  if (!expect(QUOTE) || !readLiteral(ascii('ok')) || !expect(QUOTE)) return false;
  return expect(CLOSE_BRACE);
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
  let runId = '';
  let arm = '';
  let index = 0;
  let itemId = '';
  let warmup = false;
  let source = '';
  let instance = '';
  let streaming = false;
  let tokenTiming = false;
  let scheduledNs = 0;
  let sentNs = NULL;
  let headersNs = NULL;
  let firstChunkNs = NULL;
  let firstContentNs = NULL;
  let contentNs: number[] = [];
  let contentTokens: number[] | null = null;
  let endNs = NULL;
  let queueWaitNs = 0;
  let httpStatus = NULL;
  let usage: Usage | null = null;
  let finishReason: string | null = null;
  let outputText = '';
  for (let expected = 0; ; expected++) {
    const id = readKey(KEY_BYTES, expected);
    if (id < 0 || (seen & (1 << id)) !== 0 || !expect(COLON)) return null;
    seen |= 1 << id;
    expected = id;
    switch (id) {
      case 0: // v: this build reads version 1 only
        if (readUint() !== 1) return null;
        break;
      case 1: {
        const s = readString(runIds);
        if (s === null || s.length === 0) return null;
        runId = s;
        break;
      }
      case 2: {
        const s = readString(arms);
        if (s === null || !ARM_PATTERN.test(s)) return null; // interned arms passed this test already; escaped or non-ASCII ones have not
        arm = s;
        break;
      }
      case 3:
        index = readUint();
        if (index < 0) return null;
        break;
      case 4: {
        const s = readString(null);
        if (s === null) return null;
        itemId = s;
        break;
      }
      case 5: {
        const b = readBool();
        if (b < 0) return null;
        warmup = b === 1;
        break;
      }
      case 6: {
        const s = readString(sources);
        if (s === null) return null;
        source = s;
        break;
      }
      case 7: {
        const s = readString(instances);
        if (s === null) return null;
        instance = s;
        break;
      }
      case 8: {
        const b = readBool();
        if (b < 0) return null;
        streaming = b === 1;
        break;
      }
      case 9: {
        const b = readBool();
        if (b < 0) return null;
        tokenTiming = b === 1;
        break;
      }
      case 10:
        scheduledNs = readUint();
        if (scheduledNs < 0) return null;
        break;
      case 11:
        sentNs = readUintOrNull();
        if (sentNs === FAIL) return null;
        break;
      case 12:
        headersNs = readUintOrNull();
        if (headersNs === FAIL) return null;
        break;
      case 13:
        firstChunkNs = readUintOrNull();
        if (firstChunkNs === FAIL) return null;
        break;
      case 14:
        firstContentNs = readUintOrNull();
        if (firstContentNs === FAIL) return null;
        break;
      case 15: {
        const a = readUintArray(true);
        if (a === null) return null;
        contentNs = a;
        break;
      }
      case 16: {
        skipWhitespace();
        if (p < end && bytes[p] === 0x6e) {
          if (!readLiteral(NULL_BYTES)) return null;
          contentTokens = null;
        } else {
          contentTokens = readUintArray(false);
          if (contentTokens === null) return null;
        }
        break;
      }
      case 17:
        endNs = readUintOrNull();
        if (endNs === FAIL) return null;
        break;
      case 18:
        queueWaitNs = readUint();
        if (queueWaitNs < 0) return null;
        break;
      case 19:
        httpStatus = readUintOrNull();
        if (httpStatus === FAIL || (httpStatus !== NULL && (httpStatus < 100 || httpStatus > 599))) return null;
        break;
      case 20:
        if (!readOkOutcome()) return null;
        break;
      case 21: {
        const u = readUsage();
        if (u === FAIL_USAGE) return null;
        usage = u;
        break;
      }
      case 22: {
        skipWhitespace();
        if (p < end && bytes[p] === 0x6e) {
          if (!readLiteral(NULL_BYTES)) return null;
          finishReason = null;
        } else {
          finishReason = readString(finishReasons);
          if (finishReason === null) return null;
        }
        break;
      }
      case 23: {
        const s = readString(null);
        if (s === null) return null;
        outputText = s;
        break;
      }
    }
    if (expect(COMMA)) continue;
    if (!expect(CLOSE_BRACE)) return null;
    break;
  }
  skipWhitespace();
  if (p !== end || seen !== ALL_KEYS) return null;
  if (contentTokens !== null && contentTokens.length !== contentNs.length) return null;
  const orNull = (v: number) => (v === NULL ? null : v);
  // Version-1 lines only for now (version 2 falls back to JSON.parse + recordErrors); upgraded on return.
  return upgradeRecord({
    v: 1,
    run_id: runId,
    arm,
    index,
    item_id: itemId,
    warmup,
    source: source as RequestRecord['source'],
    instance,
    streaming,
    token_timing: tokenTiming,
    scheduled_ns: scheduledNs,
    sent_ns: orNull(sentNs),
    headers_ns: orNull(headersNs),
    first_chunk_ns: orNull(firstChunkNs),
    first_content_ns: orNull(firstContentNs),
    content_ns: contentNs,
    content_tokens: contentTokens,
    end_ns: orNull(endNs),
    queue_wait_ns: queueWaitNs,
    http_status: orNull(httpStatus),
    outcome: { kind: 'ok' },
    usage,
    finish_reason: finishReason,
    output_text: outputText,
  });
}
