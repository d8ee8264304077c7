// The one way every layer turns a caught value into a sentence for a log line or a notice.

/** The message of an Error, else the value as a string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
