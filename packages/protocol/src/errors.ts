import { z } from 'zod';

/**
 * Stable machine-readable error codes. Every REST error body and every WebSocket `error`
 * message carries one of these; clients switch on the code, never on the message text.
 */
export const ErrorCode = {
  // generic
  BAD_REQUEST: 'BAD_REQUEST',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL: 'INTERNAL',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  // authentication and session
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  ACCOUNT_DISABLED: 'ACCOUNT_DISABLED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** A refresh replaced this token; only the newest token of a session is accepted. */
  TOKEN_SUPERSEDED: 'TOKEN_SUPERSEDED',
  FINGERPRINT_MISMATCH: 'FINGERPRINT_MISMATCH',
  SESSION_REPLACED: 'SESSION_REPLACED',
  SESSION_REVOKED: 'SESSION_REVOKED',
  SESSION_IDLE_TIMEOUT: 'SESSION_IDLE_TIMEOUT',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  FORBIDDEN: 'FORBIDDEN',
  REGISTRATION_DISABLED: 'REGISTRATION_DISABLED',
  USERNAME_TAKEN: 'USERNAME_TAKEN',
  PASSWORD_POLICY: 'PASSWORD_POLICY',
  // terminals and SSH
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  TERMINAL_NOT_FOUND: 'TERMINAL_NOT_FOUND',
  TERMINAL_ENDED: 'TERMINAL_ENDED',
  /**
   * The terminal runs on another broker node that this one cannot reach right now (it stopped
   * answering, or no peer link is configured). The socket closes with 1013: retry with backoff.
   */
  TERMINAL_UNREACHABLE: 'TERMINAL_UNREACHABLE',
  TERMINAL_LIMIT: 'TERMINAL_LIMIT',
  /** Too many terminal sockets for this user or from this address. */
  SOCKET_LIMIT: 'SOCKET_LIMIT',
  NODE_LIMIT: 'NODE_LIMIT',
  TARGET_DENIED: 'TARGET_DENIED',
  DNS_FAILED: 'DNS_FAILED',
  CONNECTION_REFUSED: 'CONNECTION_REFUSED',
  CONNECTION_TIMEOUT: 'CONNECTION_TIMEOUT',
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  AUTH_FAILED: 'AUTH_FAILED',
  HOSTKEY_REJECTED: 'HOSTKEY_REJECTED',
  HOSTKEY_CHANGED: 'HOSTKEY_CHANGED',
  KEY_INVALID: 'KEY_INVALID',
  SSH_ERROR: 'SSH_ERROR',
  // NetBox import (rest/netbox.ts)
  NETBOX_NOT_CONFIGURED: 'NETBOX_NOT_CONFIGURED',
  NETBOX_NO_TOKEN: 'NETBOX_NO_TOKEN',
  NETBOX_UNREACHABLE: 'NETBOX_UNREACHABLE',
  NETBOX_TLS: 'NETBOX_TLS',
  NETBOX_UNAUTHORIZED: 'NETBOX_UNAUTHORIZED',
  NETBOX_NOT_NETBOX: 'NETBOX_NOT_NETBOX',
  NETBOX_UPSTREAM: 'NETBOX_UPSTREAM',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** Present on VALIDATION_FAILED: field path → problem. */
    fields: z.record(z.string(), z.string()).optional(),
    /** Present on ACCOUNT_LOCKED / RATE_LIMITED: seconds until a retry can succeed. */
    retryAfter: z.number().int().nonnegative().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
