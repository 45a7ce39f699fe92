import type { ErrorCode } from '@tether/protocol';

/**
 * An expected failure of the terminal engine, carrying a protocol error code and a message
 * that is safe to show to the user: it never contains credentials or terminal contents.
 * The WebSocket layer turns it into an `error` message; anything else is INTERNAL.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  readonly code: ErrorCode;
  /** Extra, non-secret facts for the client (e.g. fingerprints for HOSTKEY_CHANGED). */
  readonly details: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { details?: Record<string, string>; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}
