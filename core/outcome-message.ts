// Outcome messages as every engine writes them (Node client, shadow proxy, k6 script): the server's
// own words from an error body, on one line, secrets replaced, bounded in length, so the same
// response gives the same record message whichever engine saw it. Runtime-agnostic.
import { redactText } from './redact.ts';

/** Longest outcome message a record holds (characters). */
export const MAX_MESSAGE = 300;

/** At most `max` characters, an ellipsis marking a cut. */
export const truncate = (text: string, max = MAX_MESSAGE) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
/** Runs of whitespace (newlines included) as one space, trimmed. */
export const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** An outcome message fit for a record (every engine): secrets redacted (core/redact.ts), at most MAX_MESSAGE characters. */
export const recordMessage = (text: string, secrets: readonly string[]): string => truncate(redactText(text, secrets));

/** The server's own words from an error body: OpenAI/vLLM {"error": {"message"}}, {"message"}, {"detail"}, or the text. */
export function errorBodyMessage(body: string): string {
  try {
    const p = JSON.parse(body) as Record<string, unknown>;
    const e = p.error;
    if (typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).message === 'string')
      return (e as Record<string, string>).message as string;
    if (typeof e === 'string') return e;
    if (typeof p.message === 'string') return p.message;
    if (typeof p.detail === 'string') return p.detail;
    if (p.detail !== undefined) return JSON.stringify(p.detail);
  } catch {
    // not JSON: the raw text is the message
  }
  return oneLine(body) || '(empty body)';
}

/** An http_error's message: the server's own words from its error body, on one line. */
export const httpErrorMessage = (body: string): string => oneLine(errorBodyMessage(body));
