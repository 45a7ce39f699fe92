import { ErrorCode } from '@tether/protocol';

/** Why the web session ended, as shown on the login page. `null` means "show nothing". */
export function sessionEndMessage(code: string | null | undefined): string {
  switch (code) {
    case ErrorCode.SESSION_REPLACED:
      return 'You signed in somewhere else.';
    case ErrorCode.SESSION_IDLE_TIMEOUT:
    case ErrorCode.SESSION_EXPIRED:
    case ErrorCode.TOKEN_EXPIRED:
      return 'Your session expired. Sign in again.';
    case ErrorCode.SESSION_REVOKED:
      return 'You were signed out.';
    case ErrorCode.TOKEN_SUPERSEDED:
      return 'Your sign-in was renewed somewhere else with this session. Sign in again.';
    case ErrorCode.ACCOUNT_DISABLED:
      return 'Your account was disabled.';
    default:
      return 'Your session ended. Sign in again.';
  }
}

/** Login failures, shown in the form's alert. */
export function loginErrorMessage(err: { code: string; retryAfter?: number | undefined }): string {
  switch (err.code) {
    case ErrorCode.INVALID_CREDENTIALS:
      return 'Wrong username or password.';
    case ErrorCode.ACCOUNT_LOCKED: {
      const minutes = Math.max(1, Math.ceil((err.retryAfter ?? 60) / 60));
      return `Account locked. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
    }
    case ErrorCode.RATE_LIMITED:
      return 'Too many attempts. Wait a moment.';
    case ErrorCode.ACCOUNT_DISABLED:
      return 'Your account was disabled.';
    case NETWORK_ERROR:
      return 'Cannot reach the server.';
    case ErrorCode.VALIDATION_FAILED:
      return 'Enter a username and a password.';
    default:
      return 'Sign-in failed. Try again.';
  }
}

/** Client-side pseudo code for a fetch that never reached the server. */
export const NETWORK_ERROR = 'NETWORK_ERROR';

/** Close code of the terminal socket → the error code whose message ends the web session. */
export function closeCodeToSessionCode(code: number): string | null {
  switch (code) {
    case 4009:
      return ErrorCode.SESSION_REPLACED;
    case 4010:
      return ErrorCode.SESSION_EXPIRED;
    case 4011:
      return ErrorCode.SESSION_REVOKED;
    case 4012:
      return ErrorCode.ACCOUNT_DISABLED;
    case 4001:
      return ErrorCode.UNAUTHENTICATED;
    default:
      return null;
  }
}

/** Human text for SSH/terminal error codes sent on the socket. */
export function terminalErrorMessage(code: string, fallback: string): string {
  switch (code) {
    case ErrorCode.AUTH_FAILED:
      return 'Authentication failed: the server rejected the credentials.';
    case ErrorCode.CONNECTION_REFUSED:
      return 'Connection refused by the host.';
    case ErrorCode.CONNECTION_TIMEOUT:
      return 'Timed out connecting to the host.';
    case ErrorCode.DNS_FAILED:
      return 'The host name could not be resolved.';
    case ErrorCode.TARGET_DENIED:
      return 'This broker is not allowed to connect to that host.';
    case ErrorCode.HOSTKEY_REJECTED:
      return 'Host key rejected. The connection was not made.';
    case ErrorCode.HOSTKEY_CHANGED:
      return 'The host key has changed. The connection was refused before any credential was sent.';
    case ErrorCode.KEY_INVALID:
      return 'The private key could not be read (wrong passphrase or unsupported format).';
    case ErrorCode.TERMINAL_LIMIT:
    case ErrorCode.NODE_LIMIT:
      return 'Too many terminals are open. End one and try again.';
    case ErrorCode.TERMINAL_NOT_FOUND:
      return 'This terminal no longer exists.';
    case ErrorCode.TERMINAL_ENDED:
      return 'This terminal has ended.';
    case ErrorCode.FORBIDDEN:
      return 'You are not allowed to open terminals.';
    default:
      return fallback || 'The connection failed.';
  }
}
