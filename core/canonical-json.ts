// Canonical JSON for comparing tool-call arguments: the same value always gives the same text,
// whatever key order and whitespace the server wrote (vLLM's hermes parser writes `{"city": "Paris"}`
// with Python's json.dumps spacing, OpenAI streams compact `{"city":"Paris"}`).
// Object keys sorted by UTF-16 code units, arrays in order, strings and numbers as JSON.stringify
// writes them (`1.0` → `1`, `"\u00e9"` → `"é"`); duplicate keys: the last wins (as JSON.parse).
// Known limit: integers beyond 2^53 lose precision (JSON.parse reads doubles).
// Runtime-agnostic: no Node or k6 imports here.

/** The canonical text of a JSON text, or null when it is not JSON. */
export function canonicalJson(text: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return stringifyCanonical(value);
}

/** JSON.stringify with object keys sorted, no whitespace. */
export function stringifyCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stringifyCanonical).join(',')}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stringifyCanonical(o[k])}`).join(',')}}`;
}
