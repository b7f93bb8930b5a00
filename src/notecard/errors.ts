// Errors travel to callbacks as plain objects with a code; nothing throws out of a timer.

/** io: bus, framing, timeout, CRC or parse failure (retryable); card: the Notecard answered `err`. */
export type ErrorCode = "io" | "card" | "not-supported" | "bad-bin" | "busy";

export interface LinkError {
  code: ErrorCode;
  message: string;
  /** The card's full response, for `card` errors. */
  response?: { [key: string]: unknown };
}

export function linkError(code: ErrorCode, message: string): LinkError {
  return { code: code, message: message };
}

export function describe(e: unknown): string {
  return e && (e as Error).message ? (e as Error).message : String(e);
}
